"""The anchor worker's errors: a journal the chain contradicts, a busy leader, a deferral."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chain.client import Checkpoint
from ledger.entries import to_hex

if TYPE_CHECKING:
    from api.anchoring.budget import AnchorStatus


class AnchorError(Exception):
    """Root of the anchor worker's errors."""


class JournalDivergedError(AnchorError):
    """The chain holds a checkpoint that the journal does not reproduce: stop anchoring."""

    def __init__(self, checkpoint: Checkpoint, detail: str) -> None:
        super().__init__(
            f"checkpoint {checkpoint.index} on chain (tree size {checkpoint.tree_size}, root "
            f"{to_hex(checkpoint.root_hash)}) does not match the journal: {detail}. The journal "
            "was changed after it was anchored, or this is another journal's contract; "
            "run `shanlian journal verify` and check CHAIN_LEDGER_ANCHOR_ADDRESS"
        )
        self.checkpoint = checkpoint


class AnchorBusyError(AnchorError):
    """Another process is the anchoring leader."""


class AnchorDeferredError(AnchorError):
    """Anchoring waits: the base fee is over the cap, or the budget is spent.

    Attributes:
        status: the worker's status, which says why and until what.
    """

    def __init__(self, status: AnchorStatus) -> None:
        super().__init__(status.detail)
        self.status = status
