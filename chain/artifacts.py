"""The compiled contracts, read from ``contracts/build/*.json``: runtime needs no compiler.

The artifacts are committed with their provenance (compiler version and settings, the
SHA-256 of every source); ``chain.compiler`` writes them and a test rebuilds and compares.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from eth_typing import ABIFunction
from eth_utils.abi import function_abi_to_4byte_selector

from chain.errors import ArtifactError

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "contracts" / "build"

LEDGER_ANCHOR = "LedgerAnchor"
CHARITY_REGISTRY = "CharityRegistry"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract.

    Attributes:
        name: the contract's name, e.g. ``LedgerAnchor``.
        abi: its ABI.
        bytecode: creation code (constructor arguments go after it).
        deployed_bytecode: the runtime code a deployment leaves at its address.
        method_identifiers: function signature → ``0x`` selector, for clients without keccak.
        compiler_version: e.g. ``0.8.37+commit.f401782d``.
        settings: the compiler settings it was built with.
        sources: source unit name → ``0x`` SHA-256 of the source, imports included.
    """

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes
    method_identifiers: dict[str, str]
    compiler_version: str
    settings: dict[str, Any]
    sources: dict[str, str]

    def view_functions(self) -> dict[bytes, str]:
        """The 4-byte selectors of its view and pure functions → their signatures."""
        return {
            function_selector(item): signature(item)
            for item in self.abi
            if item.get("type") == "function" and item.get("stateMutability") in ("view", "pure")
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        """Read an artifact from its JSON form (as ``chain.compiler`` writes it).

        Raises:
            ArtifactError: a field is missing or malformed.
        """
        try:
            return cls(
                name=data["contractName"],
                abi=data["abi"],
                bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
                deployed_bytecode=bytes.fromhex(data["deployedBytecode"].removeprefix("0x")),
                method_identifiers=data["methodIdentifiers"],
                compiler_version=data["compiler"]["version"],
                settings=data["compiler"]["settings"],
                sources={unit: s["sha256"] for unit, s in data["sources"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ArtifactError(f"malformed artifact: {exc!r}") from exc


def load_artifact(name: str, build_dir: Path | None = None) -> Artifact:
    """Load ``<build_dir>/<name>.json``.

    Args:
        name: the contract's name, e.g. ``LedgerAnchor``.
        build_dir: where the artifacts are; ``contracts/build`` by default (cached).

    Raises:
        ArtifactError: the file is missing or malformed; the message says how to rebuild.
    """
    if build_dir is None:
        return _load_default(name)
    return _load(name, build_dir)


@functools.cache
def _load_default(name: str) -> Artifact:
    return _load(name, BUILD_DIR)


def _load(name: str, build_dir: Path) -> Artifact:
    path = build_dir / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"{path} is missing: run 'shanlian contracts build' (or 'python -m chain build')"
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    artifact = Artifact.from_json(data)
    if artifact.name != name:
        raise ArtifactError(f"{path} holds contract {artifact.name}, not {name}")
    return artifact


def signature(item: dict[str, Any]) -> str:
    """A function's signature from its ABI item, e.g. ``checkpointOf(bytes32)``."""
    inputs = ",".join(i["type"] for i in item.get("inputs", []))
    return f"{item['name']}({inputs})"


def function_selector(item: dict[str, Any]) -> bytes:
    """A function's 4-byte selector (keccak-256 of its canonical signature) from its ABI item.

    Callers outside ``chain`` (the explorer's page, which has no keccak) get it here.
    """
    return bytes(function_abi_to_4byte_selector(cast(ABIFunction, item)))
