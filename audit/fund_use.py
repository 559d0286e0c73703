"""A donation's fund use in its proof bundle, and who signed it (ADR 0037).

A bundle may carry ``fund_use``: the ``disbursement.made`` entries the donation paid
for, each with its inclusion proof in the bundle's (anchored) checkpoint, and the entry
that registered the charity's signer of the time (``charity.registered`` or
``charity.signer_changed``) with its own proof. ``verify_fund_use`` checks each against
the chain: the entries are in the anchored tree, the signature recovers to that signer,
and the CharityRegistry on chain holds that signer under that entry's leaf hash — "signed
by the charity's key 0x…, registered on chain at block N".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from audit.bundle_format import ProofBundle, Step
from audit.errors import BundleError, ChainReadError
from audit.onchain import attach_charity_registry
from chain.charity_registry import SignerRecord
from chain.reader import ChainReader
from chain.typed_data import SignatureError, recover_signer, typed_data
from ledger.entries import ADDRESS, HASH, Entry, parse_entry, to_hex
from ledger.errors import EntryError, LedgerError
from ledger.merkle import verify_inclusion


class FundUseError(BundleError):
    """A disbursement of the bundle is not in its checkpoint, or not signed as it says."""

    step = "fund_use"


def build_fund_use(
    registry: str, items: Sequence[tuple[Entry, Sequence[bytes], Entry | None, Sequence[bytes]]]
) -> dict[str, Any]:
    """The ``fund_use`` of a bundle: ``(disbursement entry, its proof, signer entry or None,
    its proof)`` for each disbursement the donation paid for."""
    return {
        "charity_registry": registry.lower(),
        "items": [
            {
                "entry": entry.to_json(),
                "inclusion_proof": [to_hex(h) for h in proof],
                "signer_entry": None if signer is None else signer.to_json(),
                "signer_proof": [to_hex(h) for h in signer_proof],
            }
            for entry, proof, signer, signer_proof in items
        ],
    }


def _included(document: Any, proof: Any, bundle: ProofBundle, where: str) -> Entry:
    try:
        entry = parse_entry(document)
    except EntryError as error:
        raise FundUseError(f"{where}: {error}") from None
    if not isinstance(proof, list) or not all(
        isinstance(h, str) and HASH.fullmatch(h) for h in proof
    ):
        raise FundUseError(f"{where}: its inclusion proof must be a list of hashes")
    try:
        verify_inclusion(
            entry.seq,
            bundle.tree_size,
            entry.leaf_hash,
            [bytes.fromhex(h[2:]) for h in proof],
            bundle.root_hash,
        )
    except (LedgerError, ValueError) as error:
        message = f"{where}: entry {entry.seq} is not in the anchored tree: {error}"
        raise FundUseError(message) from None
    return entry


def verify_fund_use(
    bundle: ProofBundle, client: ChainReader, *, registry: str | None = None
) -> list[Step]:
    """Check the bundle's fund use and who signed each disbursement, against the chain.

    Requires the bundle's checkpoint to be verified on chain first
    (``verify_bundle_on_chain``): the proofs here lead to its root.

    Args:
        bundle: the parsed bundle (its ``fund_use`` may be None: nothing to check).
        client: a reader on the chain the checkpoint is anchored on.
        registry: the deployment's CharityRegistry (``--registry``); None takes the
            bundle's, whose code must then be the published build.

    Raises:
        FundUseError: a disbursement outside the tree, a signature not by the signer it
            names, or a signer the CharityRegistry does not hold.
    """
    fund_use = bundle.fund_use
    if not fund_use:
        return []
    if not isinstance(fund_use, Mapping) or not isinstance(fund_use.get("items"), list):
        raise FundUseError("fund_use must be an object with a list of items")
    address = registry or fund_use.get("charity_registry")
    if not isinstance(address, str) or not ADDRESS.fullmatch(address):
        raise FundUseError("fund_use.charity_registry must be an address")
    history: list[SignerRecord] | None = None
    steps: list[Step] = []
    for i, item in enumerate(fund_use["items"]):
        where = f"fund_use.items[{i}]"
        if not isinstance(item, Mapping):
            raise FundUseError(f"{where} must be an object")
        entry = _included(item.get("entry"), item.get("inclusion_proof"), bundle, where)
        if entry.kind != "disbursement.made":
            raise FundUseError(f"{where}: entry {entry.seq} is a {entry.kind}, not a disbursement")
        what = f"disbursement {entry.body['disbursement_id']} (entry {entry.seq})"
        charity_id = str(entry.body["charity_id"])
        signer_document = item.get("signer_entry")
        if entry.sig is None:
            steps.append(
                Step(
                    "fund_use",
                    f"{what}: not signed by the charity (it had no signing key then: an "
                    "older entry, or one the platform made)",
                )
            )
            continue
        if signer_document is None:
            raise FundUseError(f"{where}: signed, but the bundle names no signer entry")
        signer_entry = _included(signer_document, item.get("signer_proof"), bundle, where)
        signer = signer_entry.body.get("signer")
        if (
            signer_entry.kind not in ("charity.registered", "charity.signer_changed")
            or signer_entry.body.get("charity_id") != charity_id
            or signer_entry.seq >= entry.seq
            or not isinstance(signer, str)
        ):
            raise FundUseError(
                f"{where}: entry {signer_entry.seq} does not register a signer of charity "
                f"{charity_id} before entry {entry.seq}"
            )
        if history is None:
            if registry is None:
                code = attach_charity_registry(client, address, client.block_number())
                if code.checked and not code.published_build:
                    raise FundUseError(
                        f"the code at {address} is not the published CharityRegistry build"
                    )
            else:
                attach_charity_registry(client, address, client.block_number())
            history = client.signer_history()
        try:
            typed = typed_data(
                entry.kind,
                entry.body,
                charity_id=charity_id,
                chain_id=client.chain_id,
                registry=address,
            )
            by = recover_signer(typed, entry.sig)
        except (SignatureError, ValueError) as error:
            raise FundUseError(f"{what}: the signature cannot be read: {error}") from None
        if by != signer:
            raise FundUseError(
                f"{what}: signed by {by}, not by the charity's key {signer}: the charity did "
                "not sign this disbursement"
            )
        record = next(
            (
                r
                for r in history
                if r.charity_id == charity_id
                and r.entry_hash == signer_entry.leaf_hash
                and r.signer == signer
            ),
            None,
        )
        if record is None:
            raise FundUseError(
                f"{what}: the CharityRegistry at {address} holds no signer {signer} of charity "
                f"{charity_id} registered by entry {signer_entry.seq}"
            )
        steps.append(
            Step(
                "fund_use",
                f"{what}: signed by the charity's key {signer}, registered on chain at block "
                f"{record.block_number} (entry {signer_entry.seq})",
            )
        )
    return steps


__all__ = ["ChainReadError", "FundUseError", "build_fund_use", "verify_fund_use"]
