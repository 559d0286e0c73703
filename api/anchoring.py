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
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

import sqlalchemy.exc
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api import metrics
from chain.client import ChainClient, Checkpoint, CheckpointEvent
from chain.errors import (
    ChainError,
    ChainUnavailableError,
    CharityRegistryUnknownCharityError,
    FeeAboveCapError,
    SpendingLimitError,
    TransactionError,
)
from ledger.accounting import CharityState
from ledger.entries import to_hex
from ledger.store import projections
from ledger.store.checkpoints import AnchoredCheckpoint, CheckpointLog, LeaderLock, leader_lock
from ledger.store.journal import Store

if TYPE_CHECKING:
    from api.tlog import TransparencyLog

log = logging.getLogger("shanlian.anchor")


class AnchorSettings(BaseSettings):
    """When to anchor.

    Attributes:
        interval_s: anchor when the journal has grown and this long has passed since the
            last anchor (``ANCHOR_INTERVAL_S``).
        max_pending: …or as soon as this many entries wait (``ANCHOR_MAX_PENDING``).
        poll_s: how often the worker looks (``ANCHOR_POLL_S``).
        backoff_max_s: longest pause while the node is down (``ANCHOR_BACKOFF_MAX_S``).
        budget_wei: the most the anchors of one period may cost, in wei
            (``ANCHOR_BUDGET_WEI``); unset, no budget. An anchor that could overspend it
            (gas limit × max fee per gas) is not sent.
        budget_period_s: the period, a sliding window ending now (``ANCHOR_BUDGET_PERIOD_S``,
            a day).
    """

    model_config = SettingsConfigDict(
        env_prefix="ANCHOR_", env_file=".env", extra="ignore", frozen=True
    )

    interval_s: Annotated[float, Field(ge=0)] = 60.0
    max_pending: Annotated[int, Field(ge=1)] = 1000
    poll_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 60.0
    budget_wei: Annotated[int, Field(ge=0)] | None = None
    budget_period_s: Annotated[float, Field(gt=0)] = 86_400.0


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


AnchorState = Literal["ready", "waiting_for_fees", "budget_exhausted"]


@dataclass(frozen=True)
class AnchorStatus:
    """Whether the worker may anchor now as far as money goes, and why not.

    Attributes:
        state: ``ready``; ``waiting_for_fees`` (the base fee is over the cap: it anchors
            when the fee falls); ``budget_exhausted`` (the period's anchors spent the
            budget, or the next could overspend it: it anchors when older spending leaves
            the window).
        detail: one sentence saying so, with the numbers.
        base_fee_wei: the next block's base fee, wei a unit of gas (None: not read, as
            there is no cap).
        max_fee_per_gas: the cap, or None.
        spent_wei: what the period's anchors cost.
        budget_wei: the budget, or None.
        budget_period_s: the budget's period.
        since: when the worker entered this state.
    """

    state: AnchorState
    detail: str
    base_fee_wei: int | None
    max_fee_per_gas: int | None
    spent_wei: int
    budget_wei: int | None
    budget_period_s: float
    since: datetime = field(default_factory=lambda: datetime.now(UTC))


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
        # Charities known to be registered on chain, as of the block below: the cache is
        # dropped when that block is gone or changed (a node restored from an older
        # state, a reorg), since the chain may have forgotten a registration with it.
        self._registered: set[str] = set()
        self._registered_as_of: tuple[int, bytes | None] | None = None
        self._costs: dict[bytes, int] = {}
        """What each anchor transaction cost, by hash: a mined receipt never changes."""
        self._status: AnchorStatus | None = None
        self._overspend_at: int | None = None
        self._assessed_at = float("-inf")
        """What the period had spent when an anchor was refused for its worst cost: the
        budget stays paused until spending leaves the period."""
        self._signers: dict[str, int] = {}
        """Charities whose signer history is on chain, up to the entry (seq) that set it."""

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
                        self._record(event, row.tree_size, row.root_hash, confirmed=True)
                        recorded += 1
                    continue
                checkpoint = client.confirm_event(event)
                self._check_against_journal(checkpoint)
                self._record(
                    event,
                    checkpoint.tree_size,
                    checkpoint.root_hash,
                    confirmed=_final(client.confirmations_of(event.tx_hash), event, settled.number),
                )
                recorded += 1
        return Reconciled(latest=self.checkpoints.latest(), recorded=recorded, forgotten=forgotten)

    def _record(
        self, event: CheckpointEvent, tree_size: int, root_hash: bytes, *, confirmed: bool
    ) -> AnchoredCheckpoint:
        timestamp = self.client.block_timestamp(event.block_number)
        checkpoint = AnchoredCheckpoint(
            checkpoint_index=event.index,
            tree_size=tree_size,
            root_hash=root_hash,
            chain_id=self.client.chain_id,
            contract=self.client.ledger_anchor.address.lower(),
            tx_hash=event.tx_hash,
            block_number=event.block_number,
            block_hash=event.block_hash,
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
        status = self.assess()
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
        budget = self.settings.budget_wei
        try:
            tx_hash = self.client.send_anchor(
                size,
                root,
                proof,
                max_cost=None if budget is None else max(0, budget - status.spent_wei),
            )
        except FeeAboveCapError as error:  # the fee rose since the assessment
            self._set_status(self._status_of(error.base_fee, status.spent_wei))
            raise AnchorDeferredError(self._status or status) from None
        except SpendingLimitError as error:
            self._overspend_at = status.spent_wei
            self._set_status(self._budget_status(status.base_fee_wei, status.spent_wei, error))
            raise AnchorDeferredError(self._status or status) from None
        log.info("sent anchor transaction %s", to_hex(tx_hash))
        outcome = self.client.anchor_outcome(tx_hash, confirmations=1)
        self._last_anchor = self._clock()
        event = CheckpointEvent(
            index=outcome.checkpoint_index,
            tree_size=outcome.tree_size,
            root_hash=outcome.root_hash,
            tx_hash=outcome.tx_hash,
            block_number=outcome.block_number,
            block_hash=outcome.block_hash,
            log_index=0,
        )
        confirmed = self.client.confirmations_of(tx_hash) >= self.client.confirmations
        checkpoint = self._record(event, size, root, confirmed=confirmed)
        log.info(
            "checkpoint %d anchored in block %d%s",
            checkpoint.checkpoint_index,
            checkpoint.block_number,
            "" if confirmed else f", waiting for {self.client.confirmations} confirmations",
        )
        return checkpoint

    # -- fees and budget ------------------------------------------------------------------

    def spent(self) -> int:
        """What the anchors of the budget's period cost, in wei (their receipts' gas used ×
        effective gas price), on this chain and contract."""
        since = datetime.now(UTC) - timedelta(seconds=self.settings.budget_period_s)
        contract = self.client.ledger_anchor.address.lower()
        total = 0
        for checkpoint in self.checkpoints.anchored_since(since):
            if checkpoint.chain_id != self.client.chain_id or checkpoint.contract != contract:
                continue
            cost = self._costs.get(checkpoint.tx_hash)
            if cost is None:
                try:
                    cost = self.client.transaction_cost(checkpoint.tx_hash)
                except TransactionError:
                    continue  # gone in a reorg: it cost nothing, and reconcile re-reads it
                self._costs[checkpoint.tx_hash] = cost
            total += cost
        return total

    def _status_of(self, base_fee: int | None, spent: int) -> AnchorStatus:
        settings = self.settings
        cap = self.client.max_fee_per_gas
        budget = settings.budget_wei
        state: AnchorState = "ready"
        detail = "anchoring as due"
        if cap is not None and base_fee is not None and base_fee > cap:
            state = "waiting_for_fees"
            detail = (
                f"anchoring waits: the base fee is {_gwei(base_fee)}, above the cap "
                f"CHAIN_MAX_FEE_PER_GAS ({_gwei(cap)}); it anchors when the fee falls under "
                "it. Donations are recorded meanwhile, and the next anchor covers them"
            )
        elif budget is not None and spent >= budget:
            state = "budget_exhausted"
            detail = (
                f"anchoring is paused: the anchors of the last {_period(settings)} cost "
                f"{spent:,} wei, the budget ANCHOR_BUDGET_WEI is {budget:,}; it anchors when "
                "older anchors leave the period. Donations are recorded meanwhile"
            )
        return AnchorStatus(
            state=state,
            detail=detail,
            base_fee_wei=base_fee,
            max_fee_per_gas=cap,
            spent_wei=spent,
            budget_wei=budget,
            budget_period_s=settings.budget_period_s,
        )

    def _budget_status(
        self, base_fee: int | None, spent: int, error: SpendingLimitError
    ) -> AnchorStatus:
        settings = self.settings
        return AnchorStatus(
            state="budget_exhausted",
            detail=(
                f"anchoring is paused: the next anchor could cost up to {error.worst_cost:,} "
                f"wei, and {error.allowed:,} wei of the budget ANCHOR_BUDGET_WEI "
                f"({settings.budget_wei or 0:,} a {_period(settings)}) is left; it anchors when "
                "older anchors leave the period. Donations are recorded meanwhile"
            ),
            base_fee_wei=base_fee,
            max_fee_per_gas=self.client.max_fee_per_gas,
            spent_wei=spent,
            budget_wei=settings.budget_wei,
            budget_period_s=settings.budget_period_s,
        )

    def assess(self) -> AnchorStatus:
        """Whether the fees and the budget allow an anchor now; logged and counted when
        it changes.

        Raises:
            ChainUnavailableError: the node does not answer.
        """
        self._assessed_at = time.monotonic()
        cap, budget = self.client.max_fee_per_gas, self.settings.budget_wei
        base_fee = None if cap is None else self.client.base_fee()
        spent = 0 if budget is None else self.spent()
        status = self._status_of(base_fee, spent)
        if status.state == "ready" and self._overspend_at is not None:
            if spent >= self._overspend_at and self._status is not None:
                return self._status  # nothing left the period since the send was refused
            self._overspend_at = None
        self._set_status(status)
        return self._status or status

    def _set_status(self, status: AnchorStatus) -> None:
        previous = self._status
        if previous is not None and previous.state == status.state:
            status = AnchorStatus(**{**status.__dict__, "since": previous.since})
        elif status.state != "ready":
            log.warning("%s", status.detail)
        elif previous is not None:
            log.warning("anchoring resumes: %s", _resumed(previous))
        self._status = status
        metrics.observe_anchor_status(
            status.state, status.base_fee_wei, status.spent_wei, status.budget_wei
        )

    def recent_status(self, max_age_s: float = 5.0) -> AnchorStatus:
        """The last assessment if it is at most ``max_age_s`` old, else a new one: what a
        public page asks, so that its visitors cannot make the node work for each visit.

        Raises:
            ChainUnavailableError: the node does not answer.
        """
        if self._status is not None and time.monotonic() - self._assessed_at <= max_age_s:
            return self._status
        return self.assess()

    @property
    def status(self) -> AnchorStatus | None:
        """The last assessment of this process's worker (None before its first)."""
        return self._status

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

    def sync_registry(self) -> int:
        """Register on chain every charity of the journal not registered yet.

        The metadata hash is the leaf hash of the charity's ``charity.registered`` entry,
        so anyone can tie the on-chain record to the journal. Returns how many were
        registered now. A charity found registered is not asked about again, unless the
        chain lost the block it was last seen at: then every one is checked again.
        """
        client = self.client
        if self._registered_as_of is not None:
            number, block_hash = self._registered_as_of
            if client.block_hash(number) != block_hash:
                log.warning(
                    "block %d of the chain is gone or changed since the charities were last "
                    "checked (a node restored from an older state, or a reorg): checking "
                    "every registration again",
                    number,
                )
                self._registered.clear()
                self._registered_as_of = None
        with self.store.engine.connect() as connection:
            charities = projections.find(connection, CharityState)
        registered = checked = 0
        for charity in charities:
            if charity.charity_id in self._registered:
                continue
            checked += 1
            try:
                self.client.charity(charity.charity_id)
            except CharityRegistryUnknownCharityError:
                entry = self.store.entry(charity.seq)
                # The signer its entry registered: later ones follow as changes (ADR 0037).
                signer = entry.body["signer"]
                try:
                    self.client.register_charity(
                        charity.charity_id, None if signer is None else str(signer), entry.leaf_hash
                    )
                except FeeAboveCapError:
                    log.info("registering charities waits for the base fee to fall too")
                    return registered
                log.info("registered charity %s on chain", charity.charity_id)
                registered += 1
            self._registered.add(charity.charity_id)
        if checked:  # the cache grew: it holds as of the chain's head now
            head = client.block_number()
            self._registered_as_of = (head, client.block_hash(head))
        return registered

    def sync_signers(self) -> int:
        """Mirror on chain every ``charity.signer_changed`` not there yet (ADR 0037).

        A charity's changes form a chain through ``previous_seq`` back to its
        registration: the ones whose leaf hash no ``CharitySignerChanged`` event holds are
        sent, oldest first, so the chain keeps each signer of the history. Returns how
        many were sent now.
        """
        with self.store.engine.connect() as connection:
            changed = [
                c
                for c in projections.find(connection, CharityState)
                if c.signer_seq is not None and self._signers.get(c.charity_id) != c.signer_seq
            ]
        if not changed:
            return 0
        on_chain = {record.entry_hash for record in self.client.signer_history()}
        sent = 0
        for charity in changed:
            assert charity.signer_seq is not None
            missing = []
            seq = charity.signer_seq
            while seq != charity.seq:
                entry = self.store.entry(seq)
                if entry.leaf_hash in on_chain:
                    break
                missing.append(entry)
                seq = int(str(entry.body["previous_seq"]))
            for entry in reversed(missing):
                signer = entry.body["signer"]
                try:
                    self.client.change_signer(
                        charity.charity_id, None if signer is None else str(signer), entry.leaf_hash
                    )
                except FeeAboveCapError:
                    log.info("recording signer changes waits for the base fee to fall too")
                    return sent
                log.info("recorded the new signer of charity %s on chain", charity.charity_id)
                sent += 1
            self._signers[charity.charity_id] = charity.signer_seq
        return sent

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


def _gwei(wei: int) -> str:
    return f"{wei / 10**9:,.3f} gwei ({wei:,} wei)"


def _period(settings: AnchorSettings) -> str:
    seconds = settings.budget_period_s
    if seconds % 86_400 == 0:
        days = int(seconds // 86_400)
        return "day" if days == 1 else f"{days} days"
    return f"{seconds:g} s"


def _resumed(previous: AnchorStatus) -> str:
    waited = (datetime.now(UTC) - previous.since).total_seconds()
    reason = (
        "the base fee is under the cap"
        if previous.state == "waiting_for_fees"
        else ("the budget allows it")
    )
    return f"{reason} again, after {waited:,.0f} s"
