"""The states the books keep (DESIGN.md §3.2) and the shelves that keep them, by id.

Pure: no I/O. One dataclass a thing an entry creates: the store loads and writes them (one
projection table each), the accounting rules change them, the audit replays into them;
``Balance`` is the money they add up to. ``BookShelves`` holds them with the lookups every
rule uses; the rule of each kind of entry extends it (``ledger.money_rules``,
``ledger.matching_rules``, ``ledger.accounting``), so a rule names the field that breaks it
through the same lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar, get_args

from pydantic import computed_field
from pydantic.dataclasses import dataclass as pydantic_dataclass

from ledger.errors import AccountingError


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
STATES: tuple[type[State], ...] = get_args(State)
"""Every kind of state the books keep, in the order things are created (``State``'s); each
one's ``key`` names the field that holds its id."""
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


@dataclass
class BookShelves:
    """Charities, projects, donations, disbursements, allocations and matching, by id.

    ``created`` and ``changed`` record what a batch touched, for the store to write.
    """

    charities: dict[str, CharityState] = field(default_factory=dict)
    projects: dict[str, ProjectState] = field(default_factory=dict)
    donations: dict[str, DonationState] = field(default_factory=dict)
    disbursements: dict[str, DisbursementState] = field(default_factory=dict)
    allocations: dict[str, AllocationState] = field(default_factory=dict)
    matchers: dict[str, MatcherState] = field(default_factory=dict)
    pools: dict[str, PoolState] = field(default_factory=dict)
    matches: dict[str, MatchState] = field(default_factory=dict)
    created: list[State] = field(default_factory=list)
    changed: dict[int, State] = field(default_factory=dict)
    _by_payer: dict[tuple[str, str], list[MatchState]] = field(default_factory=dict, repr=False)
    _by_donation: dict[str, list[MatchState]] = field(default_factory=dict, repr=False)

    # -- lookups that name the field when the thing is missing ----------------------

    def _charity(self, charity_id: Any, where: str = "body.charity_id") -> CharityState:
        charity = self.charities.get(charity_id)
        if charity is None:
            raise AccountingError(where, f"charity {charity_id!r} is not registered")
        return charity

    def _project(self, project_id: Any, charity_id: str) -> ProjectState:
        project = self.projects.get(project_id)
        if project is None:
            raise AccountingError("body.project_id", f"project {project_id!r} does not exist")
        if project.charity_id != charity_id:
            raise AccountingError(
                "body.project_id", f"project {project_id!r} belongs to another charity"
            )
        return project

    def _donation(self, donation_id: Any) -> DonationState:
        donation = self.donations.get(donation_id)
        if donation is None:
            raise AccountingError("body.donation_id", f"donation {donation_id!r} does not exist")
        return donation

    def _disbursement(self, disbursement_id: Any) -> DisbursementState:
        disbursement = self.disbursements.get(disbursement_id)
        if disbursement is None:
            raise AccountingError(
                "body.disbursement_id", f"disbursement {disbursement_id!r} does not exist"
            )
        return disbursement

    @staticmethod
    def _require_new(existing: Mapping[str, object], key: str, value: Any) -> None:
        if value in existing:
            raise AccountingError(f"body.{key}", f"{value!r} already exists")

    @staticmethod
    def _require_actor(actor: str, *, charity_id: str | None) -> None:
        # The platform, or the charity itself when the entry is about one.
        if actor != "platform" and (charity_id is None or actor != "charity:" + charity_id):
            raise AccountingError("actor", f"{actor!r} may not write this entry")

    def index_match(self, match: MatchState) -> None:
        """Find ``match`` by its pool and payer, and by its donation (the store calls
        this for the matches it loads; a rule, for those it makes)."""
        self._by_payer.setdefault((match.pool_id, match.payer_hash), []).append(match)
        self._by_donation.setdefault(match.donation_id, []).append(match)

    def payer_matches(self, pool_id: str, payer_hash: str) -> list[MatchState]:
        """The matches a pool made to one payer (reversed ones too) that the books hold."""
        found = self._by_payer.get((pool_id, payer_hash), [])
        return [m for m in found if self.matches.get(m.match_id) is m]

    def donation_matches(self, donation_id: str) -> list[MatchState]:
        """The matches of a donation (reversed ones too) that the books hold."""
        found = self._by_donation.get(donation_id, [])
        return [m for m in found if self.matches.get(m.match_id) is m]

    def _touch(self, state: State) -> None:
        self.changed[id(state)] = state

    def shelf(self, kind: type[State]) -> dict[str, Any]:
        """The states of one kind, by id (``books.shelf(DonationState)`` is ``donations``)."""
        shelf: dict[str, Any] = getattr(self, SHELVES[kind])
        return shelf

    def _add(self, state: State) -> None:
        """Keep a state an entry created."""
        self.shelf(type(state))[getattr(state, state.key)] = state
        self.created.append(state)
        if isinstance(state, MatchState):
            self.index_match(state)

    def _check_project_currency(
        self, project_id: str | None, charity_id: str, currency: str
    ) -> None:
        if project_id is None:
            return
        project = self._project(project_id, charity_id)
        if project.currency != currency:
            raise AccountingError(
                "body.currency", f"project {project_id!r} is kept in {project.currency}"
            )

    def _pool(self, pool_id: Any) -> PoolState:
        pool = self.pools.get(pool_id)
        if pool is None:
            raise AccountingError("body.pool_id", f"matching pool {pool_id!r} does not exist")
        return pool
