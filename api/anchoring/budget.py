"""What anchoring may spend (ADR 0038): its settings, and the gate of fees and budget.

Before it sends, the worker asks ``AnchorBudget`` what an anchor would cost: while the
chain's base fee is above ``CHAIN_MAX_FEE_PER_GAS`` it waits, and while the anchors of the
budget's period have spent the budget, or the next one could overspend it, it pauses.
Each change of state is logged once and counted in ``/metrics``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api import metrics
from api.anchoring.errors import AnchorDeferredError
from chain.client import ChainClient
from chain.errors import FeeAboveCapError, SpendingLimitError, TransactionError
from ledger.store.checkpoints import CheckpointLog

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


class AnchorBudget:
    """Whether the fees and the budget let the worker anchor now, and since when not.

    It remembers the cost of each anchor transaction (a mined receipt never changes) and
    the last assessment, which public pages read instead of asking the node each visit.
    """

    def __init__(
        self, client: ChainClient, checkpoints: CheckpointLog, settings: AnchorSettings
    ) -> None:
        self._client = client
        self._checkpoints = checkpoints
        self._settings = settings
        self._costs: dict[bytes, int] = {}
        """What each anchor transaction cost, by hash: a mined receipt never changes."""
        self._status: AnchorStatus | None = None
        self._overspend_at: int | None = None
        """What the period had spent when an anchor was refused for its worst cost: the
        budget stays paused until spending leaves the period."""
        self._assessed_at = float("-inf")

    def spent(self) -> int:
        """What the anchors of the budget's period cost, in wei (their receipts' gas used ×
        effective gas price), on this chain and contract."""
        since = datetime.now(UTC) - timedelta(seconds=self._settings.budget_period_s)
        contract = self._client.ledger_anchor.address.lower()
        total = 0
        for checkpoint in self._checkpoints.anchored_since(since):
            if checkpoint.chain_id != self._client.chain_id or checkpoint.contract != contract:
                continue
            cost = self._costs.get(checkpoint.tx_hash)
            if cost is None:
                try:
                    cost = self._client.transaction_cost(checkpoint.tx_hash)
                except TransactionError:
                    continue  # gone in a reorg: it cost nothing, and reconcile re-reads it
                self._costs[checkpoint.tx_hash] = cost
            total += cost
        return total

    def _status_of(self, base_fee: int | None, spent: int) -> AnchorStatus:
        settings = self._settings
        cap = self._client.max_fee_per_gas
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
        settings = self._settings
        return AnchorStatus(
            state="budget_exhausted",
            detail=(
                f"anchoring is paused: the next anchor could cost up to {error.worst_cost:,} "
                f"wei, and {error.allowed:,} wei of the budget ANCHOR_BUDGET_WEI "
                f"({settings.budget_wei or 0:,} a {_period(settings)}) is left; it anchors when "
                "older anchors leave the period. Donations are recorded meanwhile"
            ),
            base_fee_wei=base_fee,
            max_fee_per_gas=self._client.max_fee_per_gas,
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
        cap, budget = self._client.max_fee_per_gas, self._settings.budget_wei
        base_fee = None if cap is None else self._client.base_fee()
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
        """The last assessment (None before the first)."""
        return self._status

    def refuse(
        self, error: FeeAboveCapError | SpendingLimitError, assessed: AnchorStatus
    ) -> AnchorDeferredError:
        """The deferral of a send the chain client refused after ``assessed`` said ready:
        the fee rose since, or the anchor's worst cost could overspend the budget."""
        if isinstance(error, FeeAboveCapError):
            self._set_status(self._status_of(error.base_fee, assessed.spent_wei))
        else:
            self._overspend_at = assessed.spent_wei
            self._set_status(self._budget_status(assessed.base_fee_wei, assessed.spent_wei, error))
        return AnchorDeferredError(self._status or assessed)


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
