"""Verifying a bundle against the chain: the checkpoint it claims is the one anchored.

The node's chain, the LedgerAnchor's code (and the address the verifier trusts), the
checkpoint the contract holds for the bundle's root, the transaction that anchored it and,
when asked, the contract's own ``verifyInclusion``. Every read is through a keyless
``ChainReader`` (ADR 0025).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.bundle_format import ProofBundle, Step, parsed_bundle
from audit.errors import (
    AnchorTransactionError,
    BundleChainError,
    CheckpointMismatchError,
    ContractCallError,
    ContractMismatchError,
)
from audit.onchain import check_code
from chain.accounts import checksum_address
from chain.artifacts import LEDGER_ANCHOR
from chain.errors import LedgerAnchorUnknownRootError
from chain.reader import ChainReader
from ledger.entries import to_hex


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
    parsed = parsed_bundle(bundle)
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
