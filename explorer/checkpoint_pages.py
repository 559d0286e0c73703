"""The checkpoints as the pages show them, and the list of them with their consistency.

Each anchored checkpoint's tree must extend the previous checkpoint's: the RFC 6962
consistency proof between the two anchored roots is computed from the store and verified
here (RFC 9162 §2.1.4.2), so the list shows whether the journal only ever grew.
"""

from __future__ import annotations

from explorer import models
from ledger import merkle
from ledger.entries import to_hex
from ledger.errors import LedgerError
from ledger.store.checkpoints import AnchoredCheckpoint, CheckpointLog
from ledger.store.journal import Store


def checkpoint_public(checkpoint: AnchoredCheckpoint) -> models.CheckpointPublic:
    return models.CheckpointPublic(
        index=checkpoint.checkpoint_index,
        tree_size=checkpoint.tree_size,
        root_hash=to_hex(checkpoint.root_hash),
        chain_id=checkpoint.chain_id,
        contract=checkpoint.contract,
        tx_hash=to_hex(checkpoint.tx_hash),
        block_number=checkpoint.block_number,
        block_hash=to_hex(checkpoint.block_hash),
        anchored_at=checkpoint.anchored_at,
        confirmed=checkpoint.confirmed,
    )


def checkpoints_page(
    store: Store, checkpoints: CheckpointLog, before: int | None, limit: int
) -> models.CheckpointsPage:
    """Anchored checkpoints, newest first, each with its consistency with the one before.

    Args:
        before: only checkpoints with a smaller index (the next page's cursor).
        limit: checkpoints per page.
    """
    rows, count = checkpoints.newest(limit + 1, before=before)
    shown = rows[:limit]
    data = []
    for i, checkpoint in enumerate(shown):
        previous = rows[i + 1] if i + 1 < len(rows) else None
        if previous is None and checkpoint.checkpoint_index > 0:
            previous = checkpoints.get(checkpoint.checkpoint_index - 1)
        data.append(
            models.CheckpointRow(
                checkpoint=checkpoint_public(checkpoint),
                consistency=consistency_check(store, previous, checkpoint) if previous else None,
            )
        )
    older = shown[-1].checkpoint_index if len(rows) > limit else None
    return models.CheckpointsPage(data=data, count=count, older=older)


def consistency_check(
    store: Store, first: AnchoredCheckpoint, second: AnchoredCheckpoint
) -> models.ConsistencyCheck:
    """Verify with a proof from the store that ``second``'s tree extends ``first``'s."""
    proof: list[bytes] = []
    problem = None
    try:
        proof = store.consistency_proof(first.tree_size, second.tree_size)
        merkle.verify_consistency(
            first.tree_size, second.tree_size, first.root_hash, second.root_hash, proof
        )
    except LedgerError as error:
        problem = str(error)
    return models.ConsistencyCheck(
        first_index=first.checkpoint_index,
        first_size=first.tree_size,
        second_size=second.tree_size,
        proof=[to_hex(h) for h in proof],
        verified=problem is None,
        problem=problem,
    )
