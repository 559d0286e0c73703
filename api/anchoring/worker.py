"""The anchor worker: reconciles with the contract, then anchors what the journal grew.

See ``api.anchoring`` for why this is crash-safe; ``AnchorBudget`` decides whether an
anchor may cost what it would, ``CharityMirror`` keeps the CharityRegistry up.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import sqlalchemy.exc

from api.anchoring.budget import AnchorBudget, AnchorSettings, AnchorStatus
from api.anchoring.errors import (
    AnchorBusyError,
    AnchorDeferredError,
    AnchorError,
    JournalDivergedError,
)
from api.anchoring.registry import CharityMirror
from chain.client import ChainClient, Checkpoint, CheckpointEvent
from chain.errors import (
    ChainError,
    ChainUnavailableError,
    FeeAboveCapError,
    SpendingLimitError,
)
from ledger.entries import to_hex
from ledger.store.checkpoints import AnchoredCheckpoint, CheckpointLog, LeaderLock, leader_lock
from ledger.store.journal import Store

if TYPE_CHECKING:
    from api.tlog import TransparencyLog

log = logging.getLogger("shanlian.anchor")


class Mined(Protocol):
    """Where an anchor was mined: a ``CheckpointAnchored`` log that reconciliation read,
    or the outcome of the anchor transaction this worker sent."""

    @property
    def tx_hash(self) -> bytes: ...

    @property
    def block_number(self) -> int: ...

    @property
    def block_hash(self) -> bytes: ...


@dataclass(frozen=True)
class Reconciled:
    """What reconciliation found: the contract's latest checkpoint and what changed."""

    latest: AnchoredCheckpoint | None
    recorded: int
    forgotten: int


class AnchorWorker:
    """Anchors the journal of ``store`` through ``client``, one process at a time."""

    def __init__(
        self,
        store: Store,
        client: ChainClient,
        settings: AnchorSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        transparency_log: TransparencyLog | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.transparency_log = transparency_log
        """Signs every checkpoint this worker anchors (ADR 0031), when the log has a key."""
        self.settings = settings or AnchorSettings()
        self.checkpoints = CheckpointLog(store.engine)
        self._clock = clock
        # Nothing anchored by this process yet: the first cycle anchors what is pending
        # (after a restart, or on a fresh embedded chain), then the interval applies.
        self._last_anchor = float("-inf")
        self._mutex = threading.Lock()
        self._leading = False
        self.budget = AnchorBudget(client, self.checkpoints, self.settings)
        """Whether fees and the budget allow an anchor now (ADR 0038)."""
        self.charities = CharityMirror(store, client)
        """Keeps the CharityRegistry up with the journal's charities and signers."""

    # -- reconciliation -------------------------------------------------------------

    def _check_against_journal(self, checkpoint: Checkpoint) -> None:
        size = self.store.size()
        if checkpoint.tree_size > size:
            raise JournalDivergedError(checkpoint, f"the journal has only {size} entries")
        root = self.store.root(checkpoint.tree_size)
        if root != checkpoint.root_hash:
            raise JournalDivergedError(checkpoint, f"the journal's root is {to_hex(root)}")

    def reconcile(self) -> Reconciled:
        """Mirror the contract's checkpoints into the ``checkpoint`` table.

        Raises:
            JournalDivergedError: a checkpoint on chain does not match the journal.
            ChainUnavailableError: the node does not answer.
        """
        client = self.client
        contract = client.ledger_anchor.address.lower()
        count = client.checkpoint_count()
        local = self.checkpoints.all()
        forgotten = 0
        if any(r.chain_id != client.chain_id or r.contract != contract for r in local):
            log.warning(
                "the recorded checkpoints belong to another chain or contract; "
                "re-reading them from chain %s, contract %s",
                client.chain_id,
                contract,
            )
            forgotten += self.checkpoints.forget(from_index=0)
            local = []
        if local and local[-1].checkpoint_index >= count:
            dropped = self.checkpoints.forget(from_index=count)
            forgotten += dropped
            # The embedded chain starts empty at every start, as expected (serve says so
            # once); on a real node this is news.
            log.log(
                logging.INFO if client.is_embedded else logging.WARNING,
                "the chain holds %d checkpoints, %d recorded ones are gone (a reorg or a "
                "new chain): they will be anchored again",
                count,
                dropped,
            )
            local = [r for r in local if r.checkpoint_index < count]
        known = {r.checkpoint_index: r for r in local}
        confirmations = client.confirmations
        # Trust confirmed rows; re-read everything after the first row that is not.
        first_open = next(
            (i for i in range(count) if i not in known or not known[i].confirmed), count
        )
        recorded = 0
        if first_open < count:
            settled = client.settled_block(client.finality, confirmations)
            from_block = known[first_open - 1].block_number if first_open else 0
            events = {e.index: e for e in client.checkpoint_events(from_block=from_block)}
            for index in range(first_open, count):
                row = known.get(index)
                event = events.get(index)
                if event is None:
                    raise AnchorError(
                        f"checkpoint {index} is on chain but no CheckpointAnchored log "
                        f"was found from block {from_block}"
                    )
                if row is not None and row.block_hash == event.block_hash:
                    final = _final(client.confirmations_of(row.tx_hash), event, settled.number)
                    if final and not row.confirmed:
                        self._record(
                            event.index, event, row.tree_size, row.root_hash, confirmed=True
                        )
                        recorded += 1
                    continue
                checkpoint = client.confirm_event(event)
                self._check_against_journal(checkpoint)
                self._record(
                    event.index,
                    event,
                    checkpoint.tree_size,
                    checkpoint.root_hash,
                    confirmed=_final(client.confirmations_of(event.tx_hash), event, settled.number),
                )
                recorded += 1
        return Reconciled(latest=self.checkpoints.latest(), recorded=recorded, forgotten=forgotten)

    def _record(
        self, index: int, mined: Mined, tree_size: int, root_hash: bytes, *, confirmed: bool
    ) -> AnchoredCheckpoint:
        timestamp = self.client.block_timestamp(mined.block_number)
        checkpoint = AnchoredCheckpoint(
            checkpoint_index=index,
            tree_size=tree_size,
            root_hash=root_hash,
            chain_id=self.client.chain_id,
            contract=self.client.ledger_anchor.address.lower(),
            tx_hash=mined.tx_hash,
            block_number=mined.block_number,
            block_hash=mined.block_hash,
            anchored_at=datetime.fromtimestamp(timestamp, UTC),
            confirmed=confirmed,
        )
        self.checkpoints.record(checkpoint)
        return checkpoint

    # -- anchoring --------------------------------------------------------------------

    def due(self, latest: AnchoredCheckpoint | None) -> bool:
        """Whether the journal has grown enough, or long enough ago, to anchor now."""
        pending = self.store.size() - (latest.tree_size if latest else 0)
        if pending <= 0:
            return False
        waited = self._clock() - self._last_anchor
        return pending >= self.settings.max_pending or waited >= self.settings.interval_s

    def _anchor(self) -> AnchoredCheckpoint | None:
        state = self.reconcile()
        latest = state.latest
        size = self.store.size()
        if size == 0 or (latest is not None and size <= latest.tree_size):
            return latest
        if self.client.pending_transactions() > 0:
            # An anchor sent before a crash is still in the mempool: let it land first,
            # or ours would be checked against a checkpoint that is about to change.
            log.info("an earlier transaction of the anchorer is pending; waiting for it")
            return latest
        status = self.budget.assess()
        if status.state != "ready":
            raise AnchorDeferredError(status)
        if latest is not None:
            # The new checkpoint must extend the anchored one; if the journal no longer
            # reproduces it, say so instead of sending a proof the contract would refuse.
            self._check_against_journal(
                Checkpoint(latest.checkpoint_index, latest.tree_size, latest.root_hash, 0)
            )
        root = self.store.root(size)
        if self.transparency_log is not None:  # signed before it is sent: every anchor is
            self.transparency_log.sign(size, root)
        proof = self.store.consistency_proof(latest.tree_size, size) if latest else []
        log.info(
            "anchoring tree size %d (root %s) from %s",
            size,
            to_hex(root),
            f"checkpoint {latest.checkpoint_index} at size {latest.tree_size}"
            if latest
            else "nothing",
        )
        budget_wei = self.settings.budget_wei
        try:
            tx_hash = self.client.send_anchor(
                size,
                root,
                proof,
                max_cost=None if budget_wei is None else max(0, budget_wei - status.spent_wei),
            )
        except (FeeAboveCapError, SpendingLimitError) as error:
            raise self.budget.refuse(error, status) from None
        log.info("sent anchor transaction %s", to_hex(tx_hash))
        outcome = self.client.anchor_outcome(tx_hash, confirmations=1)
        self._last_anchor = self._clock()
        confirmed = self.client.confirmations_of(tx_hash) >= self.client.confirmations
        checkpoint = self._record(
            outcome.checkpoint_index, outcome, size, root, confirmed=confirmed
        )
        log.info(
            "checkpoint %d anchored in block %d%s",
            checkpoint.checkpoint_index,
            checkpoint.block_number,
            "" if confirmed else f", waiting for {self.client.confirmations} confirmations",
        )
        return checkpoint

    def anchor_now(self) -> AnchoredCheckpoint | None:
        """Anchor the journal as it stands (if it grew) and return the latest checkpoint.

        Raises:
            AnchorDeferredError: the base fee is over the cap, or the budget is spent.
            AnchorBusyError: another process is the anchoring leader.
            JournalDivergedError, ChainError: see ``reconcile`` and the chain client.
        """
        with self._mutex:
            if self._leading:
                return self._anchor()
            with leader_lock(self.store.engine) as acquired:
                if not acquired:
                    raise AnchorBusyError(
                        "another process is anchoring this journal; its worker will anchor"
                    )
                return self._anchor()

    # -- fees and budget, and the registry: see ``AnchorBudget`` and ``CharityMirror`` ----

    def spent(self) -> int:
        """What the anchors of the budget's period cost, in wei."""
        return self.budget.spent()

    def assess(self) -> AnchorStatus:
        """Whether the fees and the budget allow an anchor now (``AnchorBudget.assess``)."""
        return self.budget.assess()

    def recent_status(self, max_age_s: float = 5.0) -> AnchorStatus:
        """The last assessment if at most ``max_age_s`` old, else a new one."""
        return self.budget.recent_status(max_age_s)

    @property
    def status(self) -> AnchorStatus | None:
        """The last assessment of this process's worker (None before its first)."""
        return self.budget.status

    def sync_registry(self) -> int:
        """Register on chain the journal's charities not registered yet."""
        return self.charities.sync_registry()

    def sync_signers(self) -> int:
        """Mirror on chain the signer changes not there yet (ADR 0037)."""
        return self.charities.sync_signers()

    def run_once(self) -> AnchoredCheckpoint | None:
        """One cycle: reconcile, anchor if due (unless fees or the budget say wait),
        register new charities on chain."""
        with self._mutex:
            state = self.reconcile()
            latest = state.latest
            if self.due(latest):
                # Deferred: said when the state changed; the next cycle looks again.
                with contextlib.suppress(AnchorDeferredError):
                    latest = self._anchor()
            self.sync_registry()
            self.sync_signers()
            return latest

    def run(self, stop: threading.Event) -> None:
        """Anchor until ``stop`` is set: lead if no other process does, else stand by.

        While the database is away (a restart, a cut connection) the worker backs off and
        then competes for the lock again: the session that held it is gone, and the lock
        with it, so another process may lead by then.
        """
        backoff = self.settings.poll_s
        while not stop.is_set():
            try:
                with leader_lock(self.store.engine) as lock:
                    if not lock:
                        log.debug("another process leads the anchoring; standing by")
                        stop.wait(self.settings.poll_s)
                        continue
                    self._leading = True
                    try:
                        backoff = self._lead(stop, backoff, lock)
                    finally:
                        self._leading = False
            except sqlalchemy.exc.DBAPIError as error:
                backoff = min(backoff * 2, self.settings.backoff_max_s)
                log.warning(
                    "the database does not answer (%s); retrying in %.1f s",
                    error.__class__.__name__,
                    backoff,
                )
                stop.wait(backoff)

    def _lead(self, stop: threading.Event, backoff: float, lock: LeaderLock) -> float:
        while not stop.is_set():
            if not lock.held():
                log.warning("the anchoring leader lock was lost with its database session")
                return backoff
            try:
                self.run_once()
                backoff = self.settings.poll_s
            except JournalDivergedError:
                log.exception("refusing to anchor")
                raise
            except ChainUnavailableError as error:
                backoff = min(backoff * 2, self.settings.backoff_max_s)
                log.warning("%s; retrying in %.1f s", error, backoff)
            except (ChainError, AnchorError):
                # A transient state of the chain (a log not served yet, a reorg under
                # way): the next cycle reconciles from scratch.
                backoff = min(backoff * 2, self.settings.backoff_max_s)
                log.exception("anchoring failed; retrying in %.1f s", backoff)
            except sqlalchemy.exc.DBAPIError:
                raise  # `run` backs off and competes for the leader lock again
            except Exception:
                # Nothing unforeseen may end the worker while the service goes on taking
                # donations: every cycle starts by reconciling with the contract.
                backoff = min(backoff * 2, self.settings.backoff_max_s)
                log.exception("unexpected error while anchoring; retrying in %.1f s", backoff)
            stop.wait(backoff)
        return backoff


def _final(depth: int, event: CheckpointEvent, settled: int) -> bool:
    """An anchor is final when its block is still the chain's and not after the settled
    block (the chain's ``finalized``/``safe`` one, or the confirmation depth's)."""
    return depth > 0 and event.block_number <= settled
