"""The states the books keep (DESIGN.md §3.2): one dataclass a thing an entry creates.

Pure: no I/O. The store loads and writes them (one projection table each), the accounting
rules (``ledger.accounting``) change them, the audit replays into them; ``Balance`` is the
money they add up to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from pydantic import computed_field
from pydantic.dataclasses import dataclass as pydantic_dataclass


@dataclass(slots=True)
class CharityState:
    key: ClassVar[str] = "charity_id"

    charity_id: str
    name: str
    registration_no: str
    signer: str | None
    seq: int
    signer_seq: int | None = None
    """The seq of the entry that set ``signer``: None for its ``charity.registered`` (``seq``),
    else its last ``charity.signer_changed`` (ADR 0037)."""


@dataclass(slots=True)
class ProjectState:
    key: ClassVar[str] = "project_id"

    project_id: str
    charity_id: str
    title: str
    goal_amount: int
    currency: str
    seq: int
    closed: bool = False
    """A ``project.closed`` entry ended it (ADR 0039): its final report becomes due."""


@dataclass(slots=True)
class DonationState:
    key: ClassVar[str] = "donation_id"

    donation_id: str
    charity_id: str
    project_id: str | None
    amount: int
    currency: str
    channel: str
    paid_at: str
    seq: int
    refunded: int = 0
    allocated: int = 0

    @property
    def available(self) -> int:
        """Money of this donation not refunded and not yet allocated to a disbursement."""
        return self.amount - self.refunded - self.allocated


@dataclass(slots=True)
class DisbursementState:
    key: ClassVar[str] = "disbursement_id"

    disbursement_id: str
    charity_id: str
    project_id: str | None
    amount: int
    currency: str
    payee: str
    purpose: str
    seq: int
    allocated: int = 0
    voided: bool = False

    @property
    def unfunded(self) -> int:
        """Part of this disbursement no donation has been allocated to yet."""
        return 0 if self.voided else self.amount - self.allocated


@dataclass(slots=True)
class AllocationState:
    key: ClassVar[str] = "allocation_id"

    allocation_id: str
    donation_id: str
    disbursement_id: str
    amount: int
    seq: int
    reversed: bool = False


# -- matching funds (配捐, ADR 0040) -----------------------------------------------------


@dataclass(slots=True)
class MatcherState:
    key: ClassVar[str] = "matcher_id"

    matcher_id: str
    name: str
    registration_no: str
    seq: int


@dataclass(slots=True)
class PoolState:
    """A matching pool: its rules (``match_pool.opened``), what it spent, whether it closed.

    ``project_ids`` is the covered projects' ids joined by spaces (a state holds scalars).
    """

    key: ClassVar[str] = "pool_id"

    pool_id: str
    matcher_id: str
    title: str
    currency: str
    total: int
    ratio_percent: int
    cap_per_donation: int
    cap_per_payer_per_day: int
    min_interval_s: int
    starts_at: str
    ends_at: str
    day_offset_minutes: int
    project_ids: str
    seq: int
    spent: int = 0
    matches: int = 0
    closed: bool = False

    def covers(self, project_id: str | None) -> bool:
        return project_id is not None and project_id in self.project_ids.split(" ")

    def match_amount(self, amount: int) -> int:
        """What the pool's ratio and per-donation cap give a donation of ``amount``."""
        return min(amount * self.ratio_percent // 100, self.cap_per_donation)

    @property
    def left(self) -> int:
        return self.total - self.spent


@dataclass(slots=True)
class MatchState:
    """A match: ``match_id`` is also the id of the matched money's ``DonationState``."""

    key: ClassVar[str] = "match_id"

    match_id: str
    pool_id: str
    donation_id: str
    payer_hash: str
    amount: int
    paid_at: str
    seq: int
    reversed: bool = False


State = (
    CharityState
    | ProjectState
    | DonationState
    | DisbursementState
    | AllocationState
    | MatcherState
    | PoolState
    | MatchState
)
STATES: tuple[type[State], ...] = (
    CharityState,
    ProjectState,
    DonationState,
    DisbursementState,
    AllocationState,
    MatcherState,
    PoolState,
    MatchState,
)
"""Every kind of state the books keep, in the order things are created; each one's ``key``
names the field that holds its id."""
_S = TypeVar("_S", CharityState, ProjectState, DisbursementState, AllocationState)
_FIELDS: Mapping[type[State], frozenset[str]] = {
    kind: frozenset(f.name for f in fields(kind)) for kind in STATES
}


def state_from_body(kind: type[_S], seq: int, body: Mapping[str, Any]) -> _S:
    """The state an entry creates: the body's fields that the state keeps, and its ``seq``."""
    return kind(seq=seq, **{name: value for name, value in body.items() if name in _FIELDS[kind]})


SHELVES: Mapping[type[State], str] = {
    CharityState: "charities",
    ProjectState: "projects",
    DonationState: "donations",
    DisbursementState: "disbursements",
    AllocationState: "allocations",
    MatcherState: "matchers",
    PoolState: "pools",
    MatchState: "matches",
}
"""The ``Books`` field that keeps each kind of state."""


@pydantic_dataclass(frozen=True)
class Balance:
    """Money of a charity, a project or all of them, in minor units of one currency.

    The store sums it from the projections, the audit from its replay; the API and the
    explorer show it (``held`` included in its JSON).

    Attributes:
        currency: ISO 4217 code.
        received: all donations.
        refunded: refunded to donors.
        allocated: allocated to disbursements (less reversals).
        disbursed: disbursements not voided.
    """

    currency: str
    received: int = 0
    refunded: int = 0
    allocated: int = 0
    disbursed: int = 0

    @computed_field(description="received, not refunded, not yet allocated")  # type: ignore[prop-decorator]
    @property
    def held(self) -> int:
        """Received, not refunded and not yet allocated to any disbursement."""
        return self.received - self.refunded - self.allocated


MATCH_CHANNEL = "match"
"""The ``channel`` of matched money's ``DonationState`` (ADR 0040)."""
