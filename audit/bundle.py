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
``verify_bundle_on_chain`` check. The format is in ``audit.bundle_format``, the checks
without the chain in ``audit.bundle_offline``, those against it in
``audit.bundle_onchain``; ``verify_bundle`` runs both. Verification returns the steps that
passed, each with an explanation, and raises a typed ``audit.errors.BundleError`` at the
first step that fails. Nothing in a bundle is trusted: the tree size and root come from
the contract, and which contract to trust is the verifier's to say (``contract=``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.bundle_format import FORMAT, ProofBundle, Step, build_bundle, parse_bundle, parsed_bundle
from audit.bundle_offline import verify_bundle_offline
from audit.bundle_onchain import verify_bundle_on_chain
from chain.reader import ChainReader
from ledger.signed_note import Verifier
from ledger.tlog_policy import Policy

# What callers have always imported from here; each is defined in its own module.
__all__ = [
    "FORMAT",
    "ProofBundle",
    "Step",
    "build_bundle",
    "parse_bundle",
    "verify_bundle",
    "verify_bundle_offline",
    "verify_bundle_on_chain",
]


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
    parsed = parsed_bundle(bundle)
    return verify_bundle_offline(
        parsed, log_key=log_key, witnesses=witnesses
    ) + verify_bundle_on_chain(parsed, client, contract=contract, call_contract=call_contract)
