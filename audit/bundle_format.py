"""The ``shanlian-proof/v1`` format: a bundle's shape, built and parsed.

``build_bundle`` writes a bundle (the API serves it), ``parse_bundle`` checks the shape of
one and gives a ``ProofBundle`` (bytes inside), which ``audit.bundle_offline`` and
``audit.bundle_onchain`` verify; each step that passes is a ``Step``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.errors import BundleEntryError, BundleFormatError
from ledger.entries import ADDRESS, HASH, Entry, to_hex

FORMAT = "shanlian-proof/v1"
_KEYS = ("format", "entry", "leaf_hash", "checkpoint", "inclusion_proof", "anchor")
_OPTIONAL_KEYS = ("checkpoint_note", "fund_use")
_CHECKPOINT_KEYS = ("index", "tree_size", "root_hash")
_ANCHOR_KEYS = ("chain_id", "contract", "tx_hash", "block_number")


@dataclass(frozen=True)
class Step:
    """A verification step that passed.

    Attributes:
        name: the step (``format``, ``entry``, ``leaf_hash``, ``inclusion``, ``chain``,
            ``contract``, ``checkpoint``, ``anchor_tx``, ``contract_call``).
        detail: what was checked, with the values, for a person to follow.
    """

    name: str
    detail: str


@dataclass(frozen=True)
class ProofBundle:
    """A parsed ``shanlian-proof/v1`` bundle: bytes inside, as the JSON said.

    Attributes:
        entry: the entry as JSON, exactly as given.
        leaf_hash: the leaf hash the bundle claims.
        checkpoint_index: the checkpoint's index in the contract.
        tree_size: the checkpoint's tree size, as the bundle claims.
        root_hash: the checkpoint's root, as the bundle claims.
        inclusion_proof: the audit path, leaf side first.
        chain_id: the chain the checkpoint was anchored on.
        contract: the LedgerAnchor's address, lowercase.
        tx_hash: the anchoring transaction.
        block_number: the block that holds it.
        checkpoint_note: the checkpoint signed by the log key (a C2SP signed note), if
            the bundle carries it.
    """

    entry: Mapping[str, Any]
    leaf_hash: bytes
    checkpoint_index: int
    tree_size: int
    root_hash: bytes
    inclusion_proof: tuple[bytes, ...]
    chain_id: int
    contract: str
    tx_hash: bytes
    block_number: int
    checkpoint_note: str | None = None
    fund_use: Mapping[str, Any] | None = None
    """The donation's disbursements and their signers (ADR 0037, ``audit.fund_use``)."""

    @property
    def seq(self) -> int:
        """The entry's ``seq`` (its leaf index); ``verify_bundle_offline`` checked it."""
        seq = self.entry.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise BundleEntryError("seq", "must be an integer")
        return seq


def build_bundle(
    *,
    entry: Entry,
    inclusion_proof: Sequence[bytes],
    checkpoint_index: int,
    tree_size: int,
    root_hash: bytes,
    chain_id: int,
    contract: str,
    tx_hash: bytes,
    block_number: int,
    checkpoint_note: str | None = None,
    fund_use: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The proof bundle of ``entry`` against an anchored checkpoint, as JSON.

    Pure: the caller supplies the proof (from the store) and the checkpoint and anchor
    (as reconciled with the chain).

    Args:
        entry: the entry, as stored.
        inclusion_proof: its audit path in the tree of ``tree_size`` entries.
        checkpoint_index: the checkpoint's index in the LedgerAnchor.
        tree_size: the checkpoint's tree size; requires ``entry.seq < tree_size``.
        root_hash: the checkpoint's root.
        chain_id: the chain the checkpoint is anchored on.
        contract: the LedgerAnchor's address (any case; written lowercase).
        tx_hash: the anchoring transaction.
        block_number: the block that holds it.
        checkpoint_note: the log key's signed note of this checkpoint, if there is one.

    Returns:
        ``{"format", "entry", "leaf_hash", "checkpoint", "inclusion_proof", "anchor"}``
        with every hash as ``0x`` lowercase hex, and ``checkpoint_note`` when given.

    Raises:
        ValueError: the entry does not fit in the tree, or an address or hash is
            malformed.
    """
    if not 0 <= entry.seq < tree_size:
        raise ValueError(f"entry {entry.seq} is not in a tree of {tree_size} entries")
    if not ADDRESS.fullmatch(contract):
        raise ValueError(f"contract {contract!r} is not an address")
    for name, value in (("root_hash", root_hash), ("tx_hash", tx_hash)):
        if len(value) != 32:
            raise ValueError(f"{name} has {len(value)} bytes, expected 32")
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "entry": entry.to_json(),
        "leaf_hash": to_hex(entry.leaf_hash),
        "checkpoint": {
            "index": checkpoint_index,
            "tree_size": tree_size,
            "root_hash": to_hex(root_hash),
        },
        "inclusion_proof": [to_hex(h) for h in inclusion_proof],
        "anchor": {
            "chain_id": chain_id,
            "contract": contract.lower(),
            "tx_hash": to_hex(tx_hash),
            "block_number": block_number,
        },
    }
    if checkpoint_note is not None:
        bundle["checkpoint_note"] = checkpoint_note
    if fund_use is not None:
        bundle["fund_use"] = dict(fund_use)  # ADR 0037 (audit.fund_use)
    return bundle


def _object(
    value: Any, where: str, keys: Sequence[str], optional: Sequence[str] = ()
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BundleFormatError(where, "must be a JSON object")
    missing = [k for k in keys if k not in value]
    if missing:
        raise BundleFormatError(f"{where}.{missing[0]}" if where else missing[0], "is missing")
    extra = sorted(set(value) - set(keys) - set(optional))
    if extra:
        name = f"{where}.{extra[0]}" if where else str(extra[0])
        raise BundleFormatError(name, f"is not a field of {FORMAT}")
    return value


def _hash(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not HASH.fullmatch(value):
        raise BundleFormatError(where, "must be a 32-byte hash as 0x and 64 lowercase hex digits")
    return bytes.fromhex(value[2:])


def _integer(value: Any, where: str, minimum: int, maximum: int = 2**64 - 1) -> int:
    """An integer field; the contract keeps sizes and indexes in 64 bits."""
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise BundleFormatError(where, f"must be an integer from {minimum} to {maximum}")
    return value


def parse_bundle(document: Any) -> ProofBundle:
    """Check that ``document`` (decoded JSON) has the shape of a ``shanlian-proof/v1`` bundle.

    Raises:
        BundleFormatError: naming the first offending field.
    """
    top = _object(document, "", _KEYS, _OPTIONAL_KEYS)
    if top["format"] != FORMAT:
        raise BundleFormatError("format", f"is {top['format']!r}, expected {FORMAT!r}")
    if not isinstance(top["entry"], Mapping):
        raise BundleFormatError("entry", "must be a JSON object")
    checkpoint = _object(top["checkpoint"], "checkpoint", _CHECKPOINT_KEYS)
    anchor = _object(top["anchor"], "anchor", _ANCHOR_KEYS)
    proof = top["inclusion_proof"]
    if not isinstance(proof, list):
        raise BundleFormatError("inclusion_proof", "must be a list of hashes")
    contract = anchor["contract"]
    if not isinstance(contract, str) or not ADDRESS.fullmatch(contract):
        raise BundleFormatError("anchor.contract", "must be an address: 0x and 40 hex digits")
    note = top.get("checkpoint_note")
    if note is not None and not isinstance(note, str):
        raise BundleFormatError("checkpoint_note", "must be a signed note (text)")
    return ProofBundle(
        entry=top["entry"],
        leaf_hash=_hash(top["leaf_hash"], "leaf_hash"),
        checkpoint_index=_integer(checkpoint["index"], "checkpoint.index", 0),
        tree_size=_integer(checkpoint["tree_size"], "checkpoint.tree_size", 1),
        root_hash=_hash(checkpoint["root_hash"], "checkpoint.root_hash"),
        inclusion_proof=tuple(_hash(h, f"inclusion_proof[{i}]") for i, h in enumerate(proof)),
        chain_id=_integer(anchor["chain_id"], "anchor.chain_id", 1),
        contract=contract.lower(),
        tx_hash=_hash(anchor["tx_hash"], "anchor.tx_hash"),
        block_number=_integer(anchor["block_number"], "anchor.block_number", 0),
        checkpoint_note=note,
        fund_use=top.get("fund_use"),
    )


def parsed_bundle(bundle: Mapping[str, Any] | ProofBundle) -> ProofBundle:
    """``bundle`` parsed, unless it is already (see ``parse_bundle``)."""
    return bundle if isinstance(bundle, ProofBundle) else parse_bundle(bundle)
