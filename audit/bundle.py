"""Proof bundles (DESIGN.md §6): build one, and verify one step by step.

A bundle carries an entry, its leaf hash, the audit path to an anchored checkpoint and
where that checkpoint was anchored::

    {"format": "shanlian-proof/v1",
     "entry": {...}, "leaf_hash": "0x…",
     "checkpoint": {"index": 7, "tree_size": 1000, "root_hash": "0x…"},
     "inclusion_proof": ["0x…"],
     "anchor": {"chain_id": 31337, "contract": "0x…", "tx_hash": "0x…", "block_number": 12},
     "checkpoint_note": "give.example.org/tlog\n1000\n…\n\n— give.example.org/tlog …\n"}

``checkpoint_note`` (ADR 0031), the checkpoint as the log key signed it (a C2SP signed
note), is optional: bundles made before it have none and verify as they did.

``build_bundle`` is pure, so the API serves exactly what ``verify_bundle_offline`` and
``verify_bundle_on_chain`` check. Verification returns the steps that passed, each with
an explanation, and raises a typed ``audit.errors.BundleError`` at the first step that
fails. Nothing in a bundle is trusted: the tree size and root come from the contract,
and which contract to trust is the verifier's to say (``contract=``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.errors import (
    AnchorTransactionError,
    BundleChainError,
    BundleEntryError,
    BundleFormatError,
    CheckpointMismatchError,
    ContractCallError,
    ContractMismatchError,
    CosignatureError,
    InclusionProofError,
    LeafHashMismatchError,
    SignedCheckpointError,
)
from audit.onchain import check_code
from chain.accounts import checksum_address
from chain.artifacts import LEDGER_ANCHOR
from chain.errors import LedgerAnchorUnknownRootError
from chain.reader import ChainReader
from ledger.entries import ADDRESS, HASH, Entry, canonical_bytes, parse_entry, to_hex
from ledger.errors import EntryError, MerkleError, ProofShapeError, RootMismatchError
from ledger.merkle import leaf_hash as merkle_leaf_hash
from ledger.merkle import root_from_inclusion_proof
from ledger.signed_note import (
    CheckpointBody,
    NoteError,
    Verifier,
    open_checkpoint,
    parse_signature_line,
)
from ledger.tlog_policy import Policy

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


# -- parsing ------------------------------------------------------------------------------


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


def _parsed(bundle: Mapping[str, Any] | ProofBundle) -> ProofBundle:
    return bundle if isinstance(bundle, ProofBundle) else parse_bundle(bundle)


# -- verification without the chain -----------------------------------------------------


def verify_bundle_offline(
    bundle: Mapping[str, Any] | ProofBundle,
    *,
    log_key: Verifier | None = None,
    witnesses: Policy | None = None,
) -> list[Step]:
    """Verify what a bundle shows by itself: the entry, its hash, its path to the root.

    The root and tree size are the bundle's claim here; ``verify_bundle_on_chain``
    checks that the contract anchored exactly that checkpoint.

    Args:
        bundle: the decoded JSON document, or a parsed bundle.
        log_key: the log's verifier key: the bundle must then carry the checkpoint signed
            by it. Without, a signed checkpoint the bundle carries is compared with its
            checkpoint (its signature unchecked).
        witnesses: a C2SP tlog-policy: the signed checkpoint must then carry cosignatures
            of its witnesses that meet its quorum (ADR 0035).

    Returns:
        The steps ``format``, ``entry``, ``leaf_hash``, ``inclusion`` and, with a signed
        checkpoint, ``signed_checkpoint``, each explained.

    Raises:
        BundleFormatError: not a ``shanlian-proof/v1`` document.
        BundleEntryError: the entry is not a valid v1 entry in normalized form.
        LeafHashMismatchError: the entry does not hash to ``leaf_hash``.
        InclusionProofError: the proof does not lead to the checkpoint's root.
        SignedCheckpointError: the signed checkpoint is missing (with ``log_key``), does
            not verify, or names another tree.
    """
    parsed = _parsed(bundle)
    steps = [
        Step(
            "format",
            f"a {FORMAT} bundle: checkpoint {parsed.checkpoint_index} of LedgerAnchor "
            f"{parsed.contract} on chain {parsed.chain_id}",
        )
    ]
    try:
        entry = parse_entry(parsed.entry)
    except EntryError as error:
        raise BundleEntryError(error.field, error.message) from None
    try:
        leaf = canonical_bytes(dict(parsed.entry))
    except (TypeError, ValueError) as error:  # rfc8785 refuses what JSON cannot hold
        raise BundleEntryError("entry", f"has no canonical form: {error}") from None
    if leaf != entry.leaf_bytes:
        raise BundleEntryError(
            "entry",
            "is valid but not in the normalized form the journal holds (NFC text, "
            "lowercase hex, UTC timestamps with milliseconds)",
        )
    steps.append(
        Step(
            "entry",
            f"a valid v1 {entry.kind} entry, seq {entry.seq}, at {entry.at}; its RFC 8785 "
            f"canonical form is {len(leaf)} bytes",
        )
    )
    calculated = merkle_leaf_hash(leaf)
    if calculated != parsed.leaf_hash:
        raise LeafHashMismatchError(expected=parsed.leaf_hash, calculated=calculated)
    steps.append(
        Step("leaf_hash", f"SHA-256(0x00 ‖ entry) = {to_hex(calculated)}, the bundle's leaf_hash")
    )
    proof = parsed.inclusion_proof
    try:
        root = root_from_inclusion_proof(entry.seq, parsed.tree_size, calculated, proof)
    except ProofShapeError as error:
        raise InclusionProofError(
            entry.seq,
            parsed.tree_size,
            parsed.root_hash,
            f"the proof has {error.got} hashes, a leaf at {entry.seq} of {parsed.tree_size} "
            f"needs {error.expected}",
            None,
        ) from None
    except MerkleError as error:
        raise InclusionProofError(
            entry.seq, parsed.tree_size, parsed.root_hash, str(error), None
        ) from None
    if root != parsed.root_hash:
        mismatch = RootMismatchError(expected=parsed.root_hash, calculated=root)
        raise InclusionProofError(
            entry.seq, parsed.tree_size, parsed.root_hash, str(mismatch), root
        )
    steps.append(
        Step(
            "inclusion",
            f"the {len(proof)}-hash audit path leads from leaf {entry.seq} to root "
            f"{to_hex(root)} of the tree of {parsed.tree_size} entries (RFC 9162 §2.1.3.2)",
        )
    )
    signed = _signed_checkpoint_step(parsed, log_key)
    steps = steps if signed is None else [*steps, signed]
    return steps if witnesses is None else [*steps, _cosignatures_step(parsed, witnesses)]


def _cosignatures_step(parsed: ProofBundle, policy: Policy) -> Step:
    """Check the witnesses' cosignatures on the bundle's signed checkpoint (ADR 0035)."""
    note = parsed.checkpoint_note
    if note is None:
        raise CosignatureError("the bundle carries no signed checkpoint to hold cosignatures")
    split = note.rfind("\n\n")
    text, lines = note[: split + 1], note[split + 2 :].splitlines()
    cosigned = []
    for witness in policy.witnesses.values():
        key = witness.key
        for line in lines:
            try:
                name, raw = parse_signature_line(line)
                if name == key.name and raw[:4] == key.key_id:
                    key.open(text, raw)
                    cosigned.append(witness.name)
            except NoteError as error:
                raise CosignatureError(f"witness {witness.name}: {error}") from None
    if not policy.satisfied(cosigned):
        raise CosignatureError(
            f"the checkpoint is cosigned by {', '.join(cosigned) or 'no witness'} of the "
            f"policy; its quorum is {policy.describe()}"
        )
    return Step(
        "cosignatures",
        f"cosigned by {', '.join(cosigned) or 'no witness'}: the policy's quorum "
        f"({policy.describe()}) is met",
    )


def _signed_checkpoint_step(parsed: ProofBundle, log_key: Verifier | None) -> Step | None:
    """Check the bundle's signed checkpoint against its checkpoint (and the log key)."""
    note = parsed.checkpoint_note
    if note is None:
        if log_key is None:
            return None
        raise SignedCheckpointError(
            "the bundle carries no checkpoint signed by the log key (bundles made before "
            "the log had a key carry none: verify without --log-key)"
        )
    try:
        if log_key is not None:
            body = open_checkpoint(note, log_key)
        else:
            body = CheckpointBody.parse(note[: note.rfind("\n\n") + 1])
    except NoteError as error:
        raise SignedCheckpointError(str(error)) from None
    if (body.tree_size, body.root_hash) != (parsed.tree_size, parsed.root_hash):
        raise SignedCheckpointError(
            f"the signed checkpoint is of tree size {body.tree_size}, root "
            f"{to_hex(body.root_hash)}; the bundle's checkpoint is of {parsed.tree_size}, "
            f"{to_hex(parsed.root_hash)}"
        )
    how = (
        f"its signature verified with the log key {log_key.name}+{log_key.key_id.hex()}"
        if log_key is not None
        else "its signature unchecked (pass the log's verifier key to check it)"
    )
    return Step(
        "signed_checkpoint",
        f"the log {body.origin} signed this checkpoint (tree size {body.tree_size}, same "
        f"root): {how}",
    )


# -- verification against the chain ------------------------------------------------------


def verify_bundle_on_chain(
    bundle: Mapping[str, Any] | ProofBundle,
    client: ChainReader,
    *,
    contract: str | None = None,
    call_contract: bool = True,
) -> list[Step]:
    """Verify with the chain that the bundle's checkpoint is the one anchored.

    Run ``verify_bundle_offline`` first: this trusts the bundle's entry and proof.

    Args:
        bundle: the decoded JSON document, or a parsed bundle.
        client: a reader on the chain to check (see ``audit.onchain.connect_reader``).
        contract: the LedgerAnchor address the verifier trusts (the deployment's
            published one); None accepts the bundle's, with only its code checked.
        call_contract: also ask the contract's own ``verifyInclusion`` by ``eth_call``.

    Returns:
        The steps ``chain``, ``contract``, ``checkpoint``, ``anchor_tx`` and, when
        asked, ``contract_call``, each explained.

    Raises:
        BundleChainError: the node serves another chain.
        ContractMismatchError: another contract than the pinned one, or no LedgerAnchor
            of the published build at the bundle's address.
        CheckpointMismatchError: the contract holds no checkpoint with the bundle's root, or
            holds it at another index or tree size.
        AnchorTransactionError: the anchoring transaction is not as the bundle says.
        ContractCallError: the contract's ``verifyInclusion`` says no.
        ChainError: the node failed.
    """
    parsed = _parsed(bundle)
    steps: list[Step] = []
    if client.chain_id != parsed.chain_id:
        raise BundleChainError(expected=parsed.chain_id, actual=client.chain_id)
    steps.append(Step("chain", f"the node serves chain {client.chain_id}, as the bundle says"))

    if contract is not None and contract.lower() != parsed.contract:
        raise ContractMismatchError(
            expected=contract.lower(),
            actual=parsed.contract,
            detail=f"the bundle names LedgerAnchor {parsed.contract}, not the trusted "
            f"{contract.lower()}",
        )
    code = check_code(client, LEDGER_ANCHOR, parsed.contract, "latest")
    if code.checked and (not code.present or not code.published_build):
        raise ContractMismatchError(
            expected=parsed.contract,
            actual=parsed.contract,
            detail=f"there is no LedgerAnchor of the published build at {parsed.contract} "
            f"on chain {client.chain_id}" + ("" if code.present else " (no contract at all)"),
        )
    held = (
        "holds the published LedgerAnchor build"
        if code.checked
        else "was not compared with the published build (the node offers no eth_getCode)"
    )
    steps.append(
        Step(
            "contract",
            f"{code.address} {held}"
            + (", the contract you trust" if contract else " (pass --contract to pin it)"),
        )
    )

    # A reader of its own on the bundle's contract: the caller's client stays as it was.
    reader = client.reader(ledger_anchor=code.address)
    index = parsed.checkpoint_index
    root = to_hex(parsed.root_hash)
    try:
        checkpoint = reader.checkpoint_of(parsed.root_hash)
    except LedgerAnchorUnknownRootError:
        raise CheckpointMismatchError(
            index,
            "root_hash",
            parsed.root_hash,
            None,
            f"no checkpoint on chain has root {root}: the bundle's checkpoint was never "
            "anchored by this contract",
        ) from None
    if checkpoint.index != index:
        raise CheckpointMismatchError(
            index,
            "index",
            index,
            checkpoint.index,
            f"root {root} is checkpoint {checkpoint.index} on chain, the bundle says {index}",
        )
    if checkpoint.tree_size != parsed.tree_size:
        raise CheckpointMismatchError(
            index,
            "tree_size",
            parsed.tree_size,
            checkpoint.tree_size,
            f"checkpoint {index} on chain has tree size {checkpoint.tree_size}, the bundle "
            f"says {parsed.tree_size}",
        )
    steps.append(
        Step(
            "checkpoint",
            f"checkpointOf({root}) = checkpoint {index}, tree size {parsed.tree_size}, "
            f"anchored at Unix time {checkpoint.anchored_at}",
        )
    )

    steps.append(_check_anchor_tx(parsed, reader))

    if call_contract:
        seq = parsed.seq
        size = parsed.tree_size
        if not reader.verify_inclusion(size, seq, parsed.leaf_hash, parsed.inclusion_proof):
            raise ContractCallError(
                f"verifyInclusion({size}, {seq}, leaf, proof) returned false on chain"
            )
        steps.append(
            Step(
                "contract_call",
                f"the contract's own verifyInclusion({size}, {seq}, leaf, proof) returned "
                "true (one eth_call)",
            )
        )
    return steps


def _check_anchor_tx(parsed: ProofBundle, client: ChainReader) -> Step:
    tx_hash = parsed.tx_hash
    tx = client.anchor_transaction(tx_hash)
    if tx is None:
        raise AnchorTransactionError(tx_hash, "no such transaction on this chain")
    block_number = tx.block_number
    if block_number != parsed.block_number:
        raise AnchorTransactionError(
            tx_hash, f"is in block {block_number}, the bundle says {parsed.block_number}"
        )
    if not tx.succeeded:
        raise AnchorTransactionError(tx_hash, "failed (status 0): it anchored nothing")
    if not tx.canonical:
        raise AnchorTransactionError(
            tx_hash, f"block {block_number} of the canonical chain no longer holds it (a reorg)"
        )
    anchored = tx.anchored
    wanted = (parsed.checkpoint_index, parsed.tree_size, parsed.root_hash)
    if wanted not in anchored:
        found = ", ".join(f"checkpoint {i} at size {s}" for i, s, _ in anchored) or "nothing"
        raise AnchorTransactionError(
            tx_hash,
            f"emitted no CheckpointAnchored({parsed.checkpoint_index}, {parsed.tree_size}, "
            f"{to_hex(parsed.root_hash)}) from {checksum_address(parsed.contract)}; "
            f"it anchored {found}",
        )
    return Step(
        "anchor_tx",
        f"transaction {to_hex(tx_hash)} in block {block_number} of the canonical chain "
        f"emitted CheckpointAnchored({parsed.checkpoint_index}, {parsed.tree_size}, "
        f"{to_hex(parsed.root_hash)})",
    )


def verify_bundle(
    bundle: Mapping[str, Any] | ProofBundle,
    client: ChainReader,
    *,
    contract: str | None = None,
    call_contract: bool = True,
    log_key: Verifier | None = None,
    witnesses: Policy | None = None,
) -> list[Step]:
    """Verify a bundle completely: ``verify_bundle_offline``, then ``verify_bundle_on_chain``.

    Raises:
        BundleError: the first step that fails, as its typed subclass.
        ChainError: the node failed.
    """
    parsed = _parsed(bundle)
    return verify_bundle_offline(
        parsed, log_key=log_key, witnesses=witnesses
    ) + verify_bundle_on_chain(parsed, client, contract=contract, call_contract=call_contract)
