"""The anchor worker: puts the journal's checkpoints on chain (DESIGN.md §5).

The contract is the source of truth. Every cycle the worker *reconciles*: it reads the
contract's checkpoints, checks each against the journal, and mirrors them (with the
transaction that anchored them) into the ``checkpoint`` table. Only then does it anchor
a new checkpoint, with the consistency proof from the last one the contract holds.

Before it sends, the worker asks what it would cost (ADR 0038): while the chain's base fee
is above ``CHAIN_MAX_FEE_PER_GAS`` it waits, and while the anchors of the budget's period
(``ANCHOR_BUDGET_WEI`` per ``ANCHOR_BUDGET_PERIOD_S``) have spent the budget — or the next
one could overspend it — it pauses; either way it says so once in the log, in
``/metrics`` and in ``GET /api/v1/chain``. Ingest never waits for any of this: the journal
takes entries, and the next anchor covers them all.

That makes it crash-safe without any bookkeeping before the send: a worker killed
between sending and recording finds its anchor on chain at the next start (and records
it); an anchor the chain never got is simply sent again; and a second anchor of the same
tree can never land, because the contract refuses a tree that does not grow. A reorg
that drops an anchor shows up as a checkpoint count that went down (or a block hash that
changed) and the checkpoint is anchored again.

The worker is in ``worker``; the fee and budget gate and the settings in ``budget``;
the CharityRegistry's upkeep in ``registry``; the errors in ``errors``.
"""

from api.anchoring.budget import AnchorBudget, AnchorSettings, AnchorState, AnchorStatus
from api.anchoring.errors import (
    AnchorBusyError,
    AnchorDeferredError,
    AnchorError,
    JournalDivergedError,
)
from api.anchoring.registry import CharityMirror
from api.anchoring.worker import AnchorWorker, Reconciled

__all__ = [
    "AnchorBudget",
    "AnchorBusyError",
    "AnchorDeferredError",
    "AnchorError",
    "AnchorSettings",
    "AnchorState",
    "AnchorStatus",
    "AnchorWorker",
    "CharityMirror",
    "JournalDivergedError",
    "Reconciled",
]
