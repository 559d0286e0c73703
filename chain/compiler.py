"""Compile the Solidity contracts into ``contracts/build/*.json`` with py-solc-x.

The compiler is a native ``solc`` on PATH when it is the pinned version, else npm's
solc-js (pinned in ``hardhat-free-devnet/package.json``) behind ``hardhat-free-devnet/bin/solc``,
a wrapper that answers like a native ``solc``. Compilation always goes through Standard
JSON with every source given inline: imports are resolved here, the remapping applied, so
both compilers see exactly the same input and produce byte-identical artifacts.

Runtime never needs a compiler: it reads the committed artifacts (``chain.artifacts``).
Only ``shanlian contracts build`` (or ``python -m chain build``), the artifact rebuild
test and the benchmarks compile.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.artifacts import BUILD_DIR, CHARITY_REGISTRY, LEDGER_ANCHOR, REPO_ROOT
from chain.errors import CompilerError, CompilerNotFoundError

DEVNET_DIR = REPO_ROOT / "hardhat-free-devnet"
SOLCJS_WRAPPER = DEVNET_DIR / "bin" / "solc"

SOLC_VERSION = "0.8.37"
EVM_VERSION = "prague"
OPTIMIZER_RUNS = 10_000
ARTIFACT_FORMAT = "shanlian-artifact/v1"

REMAPPINGS: tuple[tuple[str, str], ...] = (
    ("@openzeppelin/", "hardhat-free-devnet/node_modules/@openzeppelin/"),
)
"""Import prefix → source unit name prefix (relative to the repository root)."""

CONTRACT_SOURCES: dict[str, str] = {
    LEDGER_ANCHOR: "contracts/LedgerAnchor.sol",
    CHARITY_REGISTRY: "contracts/CharityRegistry.sol",
}
"""The contracts whose artifacts ship in ``contracts/build``: name → source unit."""

# `import "a.sol";`, `import "a.sol" as A;`, `import * as A from "a.sol";`,
# `import {A, B as C} from "a.sol";` — the path is the only string literal before the `;`.
_IMPORT = re.compile(r"^\s*import\b[^;\"']*[\"']([^\"']+)[\"'][^;]*;", re.MULTILINE)
_VERSION = re.compile(r"Version:\s*(\d+\.\d+\.\d+)")


@dataclass(frozen=True)
class Compiler:
    """A ``solc`` executable py-solc-x can drive.

    Attributes:
        path: the executable (a native solc, or the solc-js wrapper).
        kind: ``"native"`` or ``"solc-js"``.
    """

    path: Path
    kind: str


def _compiler_version(path: Path) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 — a compiler path the operator chose
            [str(path), "--version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    return match.group(1) if match else None


def find_compiler(solc_binary: Path | None = None) -> Compiler:
    """Choose the compiler: ``solc_binary``, else a native ``solc`` on PATH, else solc-js.

    A native ``solc`` is only taken when it is version ``SOLC_VERSION`` (the contracts'
    exact pragma); solc-js comes from ``hardhat-free-devnet/node_modules``.

    Args:
        solc_binary: use this executable and nothing else.

    Raises:
        CompilerNotFoundError: no usable compiler; the message says how to get one.
    """
    if solc_binary is not None:
        version = _compiler_version(solc_binary)
        if version != SOLC_VERSION:
            raise CompilerNotFoundError(
                f"{solc_binary} is solc {version or '(unknown version)'}, "
                f"the contracts need {SOLC_VERSION}"
            )
        return Compiler(solc_binary, "native")
    native = shutil.which("solc")
    if native is not None and _compiler_version(Path(native)) == SOLC_VERSION:
        return Compiler(Path(native), "native")
    if (DEVNET_DIR / "node_modules" / "solc" / "solc.js").is_file():
        return Compiler(SOLCJS_WRAPPER, "solc-js")
    raise CompilerNotFoundError(
        f"no solc {SOLC_VERSION}: run 'bash scripts/setup' (npm ci in hardhat-free-devnet "
        f"installs solc-js), or put a native solc {SOLC_VERSION} on PATH"
    )


def compiler_settings() -> dict[str, Any]:
    """The compiler settings that shape the bytecode (recorded in every artifact)."""
    return {
        "evmVersion": EVM_VERSION,
        "metadata": {"bytecodeHash": "ipfs"},
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "viaIR": True,
        "remappings": [f"{prefix}={target}" for prefix, target in REMAPPINGS],
    }


def _resolve_import(importer: str, path: str) -> str:
    """The source unit name that ``path``, imported by ``importer``, refers to."""
    if path.startswith(("./", "../")):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), path))
    for prefix, target in sorted(REMAPPINGS, key=lambda r: len(r[0]), reverse=True):
        if path.startswith(prefix):
            return target + path[len(prefix) :]
    return path


def collect_sources(entry_units: Iterable[str], root: Path = REPO_ROOT) -> dict[str, bytes]:
    """Read ``entry_units`` and everything they import, transitively.

    Args:
        entry_units: source unit names relative to ``root`` (``contracts/LedgerAnchor.sol``).
        root: the directory that source unit names are relative to.

    Returns:
        Source unit name → file bytes, sorted by name.

    Raises:
        CompilerError: a source or an import cannot be read.
    """
    sources: dict[str, bytes] = {}
    pending = list(entry_units)
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        file = root / unit
        try:
            data = file.read_bytes()
        except OSError as exc:
            hint = (
                " (run 'bash scripts/setup' to install npm packages)"
                if "node_modules" in unit
                else ""
            )
            raise CompilerError(f"cannot read source {unit}: {exc.strerror}{hint}") from exc
        sources[unit] = data
        for match in _IMPORT.finditer(data.decode("utf-8")):
            pending.append(_resolve_import(unit, match.group(1)))
    return dict(sorted(sources.items()))


def standard_json_input(sources: Mapping[str, bytes]) -> dict[str, Any]:
    """The Standard JSON input that compiles ``sources``, all given inline."""
    return {
        "language": "Solidity",
        "sources": {name: {"content": data.decode("utf-8")} for name, data in sources.items()},
        "settings": {
            **compiler_settings(),
            "outputSelection": {
                "*": {
                    "*": [
                        "abi",
                        "evm.bytecode.object",
                        "evm.deployedBytecode.object",
                        "evm.methodIdentifiers",
                        "metadata",
                    ]
                }
            },
        },
    }


def _sha256_hex(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def compile_contracts(
    contracts: Mapping[str, str],
    *,
    compiler: Compiler | None = None,
    root: Path = REPO_ROOT,
    allow_warnings: bool = False,
) -> dict[str, dict[str, Any]]:
    """Compile contracts and return their artifacts (not written anywhere).

    Args:
        contracts: contract name → source unit name (relative to ``root``).
        compiler: the compiler to use; ``find_compiler()`` by default.
        root: the directory that source unit names are relative to.
        allow_warnings: accept compiler warnings (by default they fail the build).

    Returns:
        Contract name → artifact: ``abi``, ``bytecode``, ``deployedBytecode``,
        ``methodIdentifiers``, ``compiler`` (version and settings) and ``sources``
        (SHA-256 of every source the contract was compiled from, imports included).

    Raises:
        CompilerNotFoundError: no compiler.
        CompilerError: the compiler failed or reported errors (or warnings).
    """
    import solcx  # only the build needs py-solc-x (and a compiler)
    from solcx.exceptions import SolcError

    compiler = compiler or find_compiler()
    sources = collect_sources(contracts.values(), root)
    try:
        output = solcx.compile_standard(
            standard_json_input(sources), solc_binary=compiler.path, allow_empty=True
        )
    except SolcError as exc:
        raise CompilerError(f"{compiler.path} failed:\n{exc.message}") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise CompilerError(f"{compiler.path} gave no usable output: {exc}") from exc
    failing = {"error"} if allow_warnings else {"error", "warning"}
    errors = [e for e in output.get("errors", []) if e.get("severity") in failing]
    if errors:
        raise CompilerError("\n".join(e["formattedMessage"] for e in errors))

    artifacts: dict[str, dict[str, Any]] = {}
    for name, unit in contracts.items():
        try:
            out = output["contracts"][unit][name]
        except KeyError as exc:
            raise CompilerError(f"the compiler produced no contract {name} in {unit}") from exc
        metadata = json.loads(out["metadata"])
        artifacts[name] = {
            "format": ARTIFACT_FORMAT,
            "contractName": name,
            "sourceName": unit,
            "abi": out["abi"],
            "bytecode": "0x" + out["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
            "methodIdentifiers": {
                signature: "0x" + selector
                for signature, selector in out["evm"]["methodIdentifiers"].items()
            },
            "compiler": {
                # From the metadata: the same for a native solc and solc-js.
                "version": metadata["compiler"]["version"],
                "settings": compiler_settings(),
            },
            "sources": {
                source: {"sha256": _sha256_hex(sources[source])}
                for source in sorted(metadata["sources"])
            },
        }
    return artifacts


def render_artifact(artifact: Mapping[str, Any]) -> str:
    """An artifact as committed: sorted keys, two-space indent, a final newline."""
    return json.dumps(artifact, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def build_contracts(
    out_dir: Path = BUILD_DIR, *, solc_binary: Path | None = None
) -> dict[str, Path]:
    """Compile ``CONTRACT_SOURCES`` and write ``out_dir/<Name>.json`` for each.

    The files are deterministic (no timestamps, sorted keys): rebuilding from the same
    sources gives the same bytes.

    Args:
        out_dir: where to write the artifacts; ``contracts/build`` by default.
        solc_binary: a specific ``solc`` to use instead of ``find_compiler()``'s choice.

    Returns:
        Contract name → the artifact file written.

    Raises:
        CompilerNotFoundError: no compiler.
        CompilerError: the compiler failed or reported errors.
    """
    compiler = find_compiler(solc_binary)
    artifacts = compile_contracts(CONTRACT_SOURCES, compiler=compiler)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, artifact in artifacts.items():
        path = out_dir / f"{name}.json"
        path.write_text(render_artifact(artifact), encoding="utf-8")
        written[name] = path
    return written
