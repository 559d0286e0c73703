"""The compiler and the committed artifacts: a rebuild gives contracts/build byte for byte."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from solcx.wrapper import get_solc_version

from chain import compiler
from chain.artifacts import BUILD_DIR, REPO_ROOT, load_artifact
from chain.compiler import (
    CONTRACT_SOURCES,
    SOLCJS_WRAPPER,
    build_contracts,
    collect_sources,
    compile_contracts,
    find_compiler,
)
from chain.errors import ArtifactError, CompilerError, CompilerNotFoundError


@pytest.mark.slow
def test_rebuilding_the_contracts_gives_the_committed_artifacts(tmp_path: Path) -> None:
    written = build_contracts(tmp_path)
    assert set(written) == set(CONTRACT_SOURCES)
    committed = sorted(p.name for p in BUILD_DIR.glob("*.json"))
    assert sorted(p.name for p in written.values()) == committed
    for name, path in written.items():
        fresh, kept = path.read_bytes(), (BUILD_DIR / path.name).read_bytes()
        assert fresh == kept, (
            f"contracts/build/{path.name} is stale: run 'shanlian contracts build' "
            f"(or 'python -m chain build') and commit it"
        )
        assert load_artifact(name, tmp_path) == load_artifact(name)


def test_artifacts_record_the_sha256_of_every_source_as_it_is_now() -> None:
    for name in CONTRACT_SOURCES:
        artifact = load_artifact(name)
        assert artifact.sources, name
        assert any(
            "@openzeppelin/contracts/access/AccessControl.sol" in s for s in artifact.sources
        )
        for unit, digest in artifact.sources.items():
            actual = "0x" + hashlib.sha256((REPO_ROOT / unit).read_bytes()).hexdigest()
            assert digest == actual, f"{unit} changed since contracts/build/{name}.json was built"


def test_artifacts_carry_their_provenance() -> None:
    artifact = load_artifact("LedgerAnchor")
    assert artifact.compiler_version.startswith("0.8.37+commit.")
    assert artifact.settings["evmVersion"] == "prague"
    assert artifact.settings["optimizer"]["enabled"] is True
    assert artifact.settings["viaIR"] is True
    assert artifact.settings["remappings"] == [
        "@openzeppelin/=hardhat-free-devnet/node_modules/@openzeppelin/"
    ]
    assert artifact.method_identifiers["anchor(uint64,bytes32,bytes32[])"] == "0x9e1515d2"
    assert artifact.deployed_bytecode
    # The IR pipeline places the runtime code inside the creation code, not at its end.
    assert artifact.deployed_bytecode in artifact.bytecode
    raw = (BUILD_DIR / "LedgerAnchor.json").read_text()
    assert raw == json.dumps(json.loads(raw), sort_keys=True, indent=2) + "\n"


def test_sources_are_collected_through_the_remapping_and_relative_imports() -> None:
    sources = collect_sources(["contracts/LedgerAnchor.sol"])
    base = "hardhat-free-devnet/node_modules/@openzeppelin/contracts/"
    assert {
        "contracts/LedgerAnchor.sol",
        "contracts/interfaces/ILedgerAnchor.sol",
        base + "access/AccessControl.sol",
        base + "access/IAccessControl.sol",  # imported "./IAccessControl.sol"
        base + "utils/Context.sol",  # imported "../utils/Context.sol"
        base + "utils/math/SafeCast.sol",
    } <= set(sources)
    assert list(sources) == sorted(sources)


def test_a_missing_import_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "A.sol").write_text('import {B} from "./B.sol";\n')
    with pytest.raises(CompilerError, match=r"cannot read source B\.sol"):
        collect_sources(["A.sol"], root=tmp_path)


def test_the_solcjs_wrapper_answers_like_a_native_solc() -> None:
    assert str(get_solc_version(SOLCJS_WRAPPER)) == "0.8.37"


def _fake_solc(directory: Path, version: str) -> Path:
    path = directory / "solc"
    path.write_text(
        f"#!/bin/sh\necho 'solc, the solidity compiler commandline interface'\n"
        f"echo 'Version: {version}+commit.00000000.Linux.g++'\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_a_native_solc_of_another_version_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_solc(tmp_path, "0.8.20")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    chosen = find_compiler()
    assert (chosen.kind, chosen.path) == ("solc-js", SOLCJS_WRAPPER)
    with pytest.raises(CompilerNotFoundError, match=r"the contracts need 0\.8\.37"):
        find_compiler(tmp_path / "solc")


def test_a_native_solc_of_the_pinned_version_is_preferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_solc(tmp_path, "0.8.37")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert find_compiler() == compiler.Compiler(fake, "native")


def test_compile_errors_are_reported_with_the_compilers_message(tmp_path: Path) -> None:
    (tmp_path / "Broken.sol").write_text(
        "// SPDX-License-Identifier: Apache-2.0\npragma solidity 0.8.37;\n"
        "contract Broken { function f() external { undefined_name(); } }\n"
    )
    with pytest.raises(CompilerError, match="undefined_name"):
        compile_contracts({"Broken": "Broken.sol"}, root=tmp_path)


def test_a_missing_artifact_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="contracts build"):
        load_artifact("LedgerAnchor", tmp_path)
    (tmp_path / "LedgerAnchor.json").write_text('{"contractName": "LedgerAnchor"}')
    with pytest.raises(ArtifactError, match="malformed"):
        load_artifact("LedgerAnchor", tmp_path)
