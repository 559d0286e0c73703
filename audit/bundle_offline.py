"""Verifying a bundle without the chain: what it shows by itself.

The entry (valid, in its normalized form), its leaf hash, its audit path to the root the
bundle claims and, where the bundle carries them, the log key's signature on that
checkpoint (ADR 0031) and the witnesses' cosignatures (ADR 0035). Whether the chain
anchored that root is ``audit.bundle_onchain``'s to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.bundle_format import FORMAT, ProofBundle, Step, parsed_bundle
from audit.errors import (
    BundleEntryError,
    CosignatureError,
    InclusionProofError,
    LeafHashMismatchError,
    SignedCheckpointError,
)
from ledger.entries import canonical_bytes, parse_entry, to_hex
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
    parsed = parsed_bundle(bundle)
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
