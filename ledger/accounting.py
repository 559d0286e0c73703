"""Accounting rules (DESIGN.md §3.2) over an in-memory view of the books.

Pure: the store loads the part of the books a batch touches, applies the batch here and
writes back what changed; the audit replays the whole journal through the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from operator import is_
from typing import Any, ClassVar, TypeVar

from pydantic import computed_field
from pydantic.dataclasses import dataclass as pydantic_dataclass

from ledger.entries import Entry
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


def _from_body(kind: type[_S], seq: int, body: Mapping[str, Any]) -> _S:
    """The state an entry creates: the body's fields that the state keeps, and its ``seq``."""
    return kind(seq=seq, **{name: value for name, value in body.items() if name in _FIELDS[kind]})


_SHELVES: Mapping[type[State], str] = {
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


@dataclass
class Books:
    """Charities, projects, donations, disbursements and allocations, by id.

    ``apply`` checks an entry against every rule and changes nothing when one fails;
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

    def apply(self, entry: Entry) -> None:
        """Check ``entry`` against the rules, then record its effect.

        Raises:
            AccountingError: naming the field that breaks a rule; nothing is changed.
        """
        rule = RULES.get(entry.kind)
        if rule is None:
            raise AccountingError("kind", f"no accounting rule for kind {entry.kind!r}")
        rule(self, entry.seq, entry.actor, entry.body)

    def apply_all(self, entries: Iterable[Entry]) -> None:
        """Apply entries in order."""
        for entry in entries:
            self.apply(entry)

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
        shelf: dict[str, Any] = getattr(self, _SHELVES[kind])
        return shelf

    def _add(self, state: State) -> None:
        """Keep a state an entry created."""
        self.shelf(type(state))[getattr(state, state.key)] = state
        self.created.append(state)
        if isinstance(state, MatchState):
            self.index_match(state)

    # -- one rule per kind (RULES, below the class) -----------------------------------

    def _charity_registered(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_actor(actor, charity_id=None)
        self._require_new(self.charities, "charity_id", body["charity_id"])
        self._add(_from_body(CharityState, seq, body))

    def _project_opened(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_new(self.projects, "project_id", body["project_id"])
        charity = self._charity(body["charity_id"])
        self._require_actor(actor, charity_id=charity.charity_id)
        self._add(_from_body(ProjectState, seq, body))

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

    def _donation_received(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self.receive_donation(
            seq,
            actor,
            body["donation_id"],
            body["charity_id"],
            body["project_id"],
            body["amount"],
            body["currency"],
            body["channel"],
            body["paid_at"],
        )

    def receive_donation(
        self,
        seq: int,
        actor: str,
        donation_id: str,
        charity_id: str,
        project_id: str | None,
        amount: int,
        currency: str,
        channel: str,
        paid_at: str,
    ) -> None:
        """Apply a ``donation.received`` entry given by its fields (``apply`` without a body).

        For a replay of millions of entries: the same rules as ``apply``, in the same
        order, without building the body. Arguments are positional, in the order above.

        Raises:
            AccountingError: naming the field that breaks a rule; nothing is changed.
        """
        # The checks of _donation_received, each tried the cheap way first: the slow way
        # raises the same error.
        if actor != "platform":
            self._require_actor(actor, charity_id=None)
        donations = self.donations
        if donation_id in donations:
            self._require_new(donations, "donation_id", donation_id)
        charity = self.charities.get(charity_id)
        if charity is None:
            charity = self._charity(charity_id)
        if project_id is not None:
            project = self.projects.get(project_id)
            if (
                project is None
                or project.charity_id != charity.charity_id
                or project.currency != currency
            ):
                self._check_project_currency(project_id, charity.charity_id, currency)
        donation = DonationState(
            donation_id,
            charity.charity_id,
            project_id,
            amount,
            currency,
            channel,
            paid_at,
            seq,
        )
        donations[donation_id] = donation
        self.created.append(donation)

    def receive_donations(
        self,
        seqs: Sequence[int],
        actors: Sequence[str],
        donation_ids: Sequence[str],
        charity_ids: Sequence[str],
        project_ids: Sequence[str | None],
        amounts: Sequence[int],
        currencies: Sequence[str],
        channels: Sequence[str],
        paid_ats: Sequence[str],
    ) -> bool:
        """Apply consecutive ``donation.received`` entries at once, if every one keeps the rules.

        The entries are given as columns, in order. They change the books as
        ``receive_donation`` one after another would, when none of them breaks a rule;
        otherwise nothing is changed and the result is False: apply them one at a time
        then, to learn which one breaks which rule. For an audit's replay, where whole
        runs of donations are checked with a few set operations instead of one by one.

        The result is the same as one by one because a donation changes nothing that a
        later donation's rules read, except the donation ids taken (checked here as
        each is added, and the added ones taken back when one was taken).

        Returns:
            Whether they were applied.

        Raises:
            ValueError: the columns are not all of one length.
        """
        columns = (seqs, actors, charity_ids, project_ids, amounts, currencies, channels, paid_ats)
        if any(len(column) != len(donation_ids) for column in columns):
            raise ValueError("the columns are not all of one length")
        if set(actors) - {"platform"}:
            return False
        donations = self.donations
        owners: dict[str, str] = {}  # each charity id as the charity keeps it
        for charity_id in set(charity_ids):
            charity = self.charities.get(charity_id)
            if charity is None:
                return False
            owners[charity_id] = charity.charity_id
        projects = self.projects
        for project_id, charity_id, currency in set(
            zip(project_ids, charity_ids, currencies, strict=True)
        ):
            if project_id is None:
                continue
            project = projects.get(project_id)
            if (
                project is None
                or project.charity_id != owners[charity_id]
                or project.currency != currency
            ):
                return False
        states = list(
            map(
                DonationState,
                donation_ids,
                map(owners.__getitem__, charity_ids),
                project_ids,
                amounts,
                currencies,
                channels,
                paid_ats,
                seqs,
            )
        )
        # Each one added unless its id is taken: one lookup in the (large) dict a donation.
        kept = list(map(donations.setdefault, donation_ids, states))
        if not all(map(is_, kept, states)):  # an id taken before, or twice among these
            for donation_id, state, seen in zip(donation_ids, states, kept, strict=True):
                if seen is state:  # added here: take it back
                    del donations[donation_id]
            return False
        self.created.extend(states)
        return True

    def _donation_refunded(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_actor(actor, charity_id=None)
        donation = self._donation(body["donation_id"])
        if donation.donation_id in self.matches:
            raise AccountingError(
                "body.donation_id",
                "is matched money: it goes back to its pool by match.reversed, not by a refund",
            )
        for match in self.donation_matches(donation.donation_id):
            if not match.reversed:
                raise AccountingError(
                    "body.donation_id",
                    f"donation is matched by {match.match_id!r} (pool {match.pool_id!r}); "
                    "reverse the match first",
                )
        amount = body["amount"]
        refundable = donation.amount - donation.refunded
        if amount > refundable:
            raise AccountingError(
                "body.amount", f"refund of {amount} exceeds the {refundable} not yet refunded"
            )
        if amount > donation.available:
            raise AccountingError(
                "body.amount",
                f"refund of {amount} would take back allocated money: only "
                f"{donation.available} is unallocated; reverse the allocation first",
            )
        donation.refunded += amount
        self._touch(donation)

    def _disbursement_made(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_new(self.disbursements, "disbursement_id", body["disbursement_id"])
        charity = self._charity(body["charity_id"])
        self._require_actor(actor, charity_id=charity.charity_id)
        self._check_project_currency(body["project_id"], charity.charity_id, body["currency"])
        self._add(_from_body(DisbursementState, seq, body))

    def _disbursement_voided(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        disbursement = self._disbursement(body["disbursement_id"])
        self._require_actor(actor, charity_id=disbursement.charity_id)
        if disbursement.voided:
            raise AccountingError("body.disbursement_id", "disbursement is already voided")
        if disbursement.allocated:
            raise AccountingError(
                "body.disbursement_id",
                f"{disbursement.allocated} of donations is allocated to this disbursement; "
                "reverse those allocations first",
            )
        disbursement.voided = True
        self._touch(disbursement)

    def _allocation_made(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self.make_allocation(
            seq,
            actor,
            body["allocation_id"],
            body["donation_id"],
            body["disbursement_id"],
            body["amount"],
        )

    def make_allocation(
        self,
        seq: int,
        actor: str,
        allocation_id: str,
        donation_id: str,
        disbursement_id: str,
        amount: int,
    ) -> None:
        """Apply an ``allocation.made`` entry given by its fields (``apply`` without a body).

        Raises:
            AccountingError: naming the field that breaks a rule; nothing is changed.
        """
        self._require_new(self.allocations, "allocation_id", allocation_id)
        donation = self._donation(donation_id)
        disbursement = self._disbursement(disbursement_id)
        self._require_actor(actor, charity_id=disbursement.charity_id)
        check_allocation(donation, disbursement, amount)
        allocation = AllocationState(
            allocation_id=allocation_id,
            donation_id=donation.donation_id,
            disbursement_id=disbursement.disbursement_id,
            amount=amount,
            seq=seq,
        )
        donation.allocated += allocation.amount
        disbursement.allocated += allocation.amount
        self._add(allocation)
        self._touch(donation)
        self._touch(disbursement)

    def _allocation_reversed(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        allocation = self.allocations.get(body["allocation_id"])
        if allocation is None:
            raise AccountingError(
                "body.allocation_id", f"allocation {body['allocation_id']!r} does not exist"
            )
        donation = self._donation(allocation.donation_id)
        disbursement = self._disbursement(allocation.disbursement_id)
        self._require_actor(actor, charity_id=disbursement.charity_id)
        if allocation.reversed:
            raise AccountingError("body.allocation_id", "allocation is already reversed")
        allocation.reversed = True
        donation.allocated -= allocation.amount
        disbursement.allocated -= allocation.amount
        for state in (allocation, donation, disbursement):
            self._touch(state)

    # -- disclosure (ADR 0039) -------------------------------------------------------------

    def _project_closed(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        project = self.projects.get(body["project_id"])
        if project is None:
            raise AccountingError(
                "body.project_id", f"project {body['project_id']!r} does not exist"
            )
        self._require_actor(actor, charity_id=project.charity_id)
        if project.closed:
            raise AccountingError("body.project_id", "project is already closed")
        project.closed = True
        self._touch(project)

    def _report_published(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        charity = self._charity(body["charity_id"])
        self._require_actor(actor, charity_id=charity.charity_id)
        project_id = body["project_id"]
        project = None if project_id is None else self._project(project_id, charity.charity_id)
        if body["tree_size"] > seq:
            raise AccountingError(
                "body.tree_size",
                f"a report published at entry {seq} can cover at most the {seq} entries before it",
            )
        if body["period"] == "final" and (project is None or not project.closed):
            raise AccountingError(
                "body.period", "a final report is for a project that is closed; close it first"
            )

    # -- charity signatures (ADR 0037) ----------------------------------------------------

    def _charity_signer_changed(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        charity = self._charity(body["charity_id"])
        self._require_actor(actor, charity_id=charity.charity_id)
        current = charity.seq if charity.signer_seq is None else charity.signer_seq
        if body["previous_seq"] != current:
            raise AccountingError(
                "body.previous_seq",
                f"the signer of charity {charity.charity_id!r} was last set by entry "
                f"{current}, not {body['previous_seq']}",
            )
        charity.signer = body["signer"]
        charity.signer_seq = seq
        self._touch(charity)

    # -- matching funds (ADR 0040) ------------------------------------------------------

    def _matcher_registered(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_actor(actor, charity_id=None)
        self._require_new(self.matchers, "matcher_id", body["matcher_id"])
        self._add(MatcherState(body["matcher_id"], body["name"], body["registration_no"], seq))

    def _pool(self, pool_id: Any) -> PoolState:
        pool = self.pools.get(pool_id)
        if pool is None:
            raise AccountingError("body.pool_id", f"matching pool {pool_id!r} does not exist")
        return pool

    def _match_pool_opened(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_actor(actor, charity_id=None)
        self._require_new(self.pools, "pool_id", body["pool_id"])
        if body["matcher_id"] not in self.matchers:
            raise AccountingError(
                "body.matcher_id", f"matcher {body['matcher_id']!r} is not registered"
            )
        if body["starts_at"] >= body["ends_at"]:
            raise AccountingError("body.ends_at", "must be after starts_at")
        if body["cap_per_donation"] > body["total"]:
            raise AccountingError("body.cap_per_donation", "exceeds the pool's total")
        project_ids = body["project_ids"]
        if len(set(project_ids)) != len(project_ids):
            raise AccountingError("body.project_ids", "names a project twice")
        for i, project_id in enumerate(project_ids):
            project = self.projects.get(project_id)
            if project is None:
                raise AccountingError(
                    f"body.project_ids[{i}]", f"project {project_id!r} does not exist"
                )
            if project.currency != body["currency"]:
                raise AccountingError(
                    f"body.project_ids[{i}]",
                    f"project {project_id!r} is kept in {project.currency}, "
                    f"the pool in {body['currency']}",
                )
        fields_ = {k: v for k, v in body.items() if k != "project_ids"}
        self._add(PoolState(**fields_, project_ids=" ".join(project_ids), seq=seq))

    def _match_pool_closed(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_actor(actor, charity_id=None)
        pool = self._pool(body["pool_id"])
        if pool.closed:
            raise AccountingError("body.pool_id", "matching pool is already closed")
        pool.closed = True
        self._touch(pool)

    def match_problem(
        self, pool: PoolState, donation: DonationState, payer_hash: str, amount: int
    ) -> tuple[str, str] | None:
        """Why ``pool`` may not match ``donation`` with ``amount`` for this payer: the
        field and the message, or None when every rule of the pool holds (ADR 0040).

        The sequencer asks before it makes a match; the rule of ``match.made`` (and so
        the audit's replay) refuses a match for the same reasons.
        """
        if pool.closed:
            return "body.pool_id", f"matching pool {pool.pool_id!r} is closed"
        if donation.donation_id in self.matches:
            return "body.donation_id", "is matched money itself: a match is not matched"
        if not pool.covers(donation.project_id):
            return "body.donation_id", (
                f"donation's project {donation.project_id!r} is not covered by the pool"
            )
        if donation.currency != pool.currency:
            return "body.donation_id", f"donation is in {donation.currency}, pool {pool.currency}"
        if not pool.starts_at <= donation.paid_at < pool.ends_at:
            return "body.donation_id", (
                f"donation was paid at {donation.paid_at}, outside the pool's window "
                f"[{pool.starts_at}, {pool.ends_at})"
            )
        if donation.refunded:
            return "body.donation_id", "donation was refunded"
        if any(m.pool_id == pool.pool_id for m in self.donation_matches(donation.donation_id)):
            return "body.donation_id", f"donation is already matched by pool {pool.pool_id!r}"
        expected = pool.match_amount(donation.amount)
        if amount != expected:
            return "body.amount", (
                f"the pool's rules match this donation with {expected}, not {amount} "
                f"({pool.ratio_percent}% of {donation.amount}, at most {pool.cap_per_donation})"
            )
        earlier = self.payer_matches(pool.pool_id, payer_hash)
        if earlier and pool.min_interval_s:
            paid = _instant_ms(donation.paid_at)
            for match in earlier:
                if abs(_instant_ms(match.paid_at) - paid) < pool.min_interval_s * 1000:
                    return "body.payer_hash", (
                        f"the payer's donation paid at {match.paid_at} was matched "
                        f"({match.match_id!r}): less than {pool.min_interval_s} s apart"
                    )
        day = _day(donation.paid_at, pool.day_offset_minutes)
        that_day = sum(
            m.amount
            for m in earlier
            if not m.reversed and _day(m.paid_at, pool.day_offset_minutes) == day
        )
        if that_day + amount > pool.cap_per_payer_per_day:
            return "body.amount", (
                f"the payer was matched {that_day} on {day} already; "
                f"{amount} more exceeds the {pool.cap_per_payer_per_day} a day"
            )
        if amount > pool.left:
            return "body.amount", (
                f"match of {amount} exceeds the {pool.left} left in the pool (a match is "
                "whole or not made)"
            )
        return None

    def _match_made(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_actor(actor, charity_id=None)
        match_id = body["match_id"]
        self._require_new(self.matches, "match_id", match_id)
        self._require_new(self.donations, "match_id", match_id)
        pool = self._pool(body["pool_id"])
        donation = self._donation(body["donation_id"])
        problem = self.match_problem(pool, donation, body["payer_hash"], body["amount"])
        if problem is not None:
            raise AccountingError(*problem)
        amount = body["amount"]
        pool.spent += amount
        pool.matches += 1
        self._touch(pool)
        self._add(
            MatchState(
                match_id,
                pool.pool_id,
                donation.donation_id,
                body["payer_hash"],
                amount,
                donation.paid_at,
                seq,
            )
        )
        # The matched money: the matcher's donation to the same charity and project.
        self._add(
            DonationState(
                match_id,
                donation.charity_id,
                donation.project_id,
                amount,
                donation.currency,
                MATCH_CHANNEL,
                donation.paid_at,
                seq,
            )
        )

    def _match_reversed(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_actor(actor, charity_id=None)
        match = self.matches.get(body["match_id"])
        if match is None:
            raise AccountingError("body.match_id", f"match {body['match_id']!r} does not exist")
        if match.reversed:
            raise AccountingError("body.match_id", "match is already reversed")
        money = self.donations.get(match.match_id)
        if money is None:
            raise AccountingError("body.match_id", "the matched money is not in the books")
        if money.allocated:
            raise AccountingError(
                "body.match_id",
                f"{money.allocated} of the matched money is allocated; "
                "reverse those allocations first",
            )
        pool = self._pool(match.pool_id)
        match.reversed = True
        money.refunded = money.amount  # back to the matcher's pool
        pool.spent -= match.amount
        pool.matches -= 1
        for state in (match, money, pool):
            self._touch(state)


MATCH_CHANNEL = "match"
"""The ``channel`` of matched money's ``DonationState`` (ADR 0040)."""


def _instant_ms(at: str) -> int:
    """Milliseconds since the epoch of a journal time (``YYYY-MM-DDTHH:MM:SS.mmmZ``)."""
    moment = datetime.fromisoformat(at)
    return int(moment.timestamp() * 1000)


def _day(at: str, offset_minutes: int) -> str:
    """The calendar day of a journal time at UTC ``offset_minutes`` (``YYYY-MM-DD``)."""
    return (datetime.fromisoformat(at) + timedelta(minutes=offset_minutes)).date().isoformat()


Rule = Callable[[Books, int, str, Mapping[str, Any]], None]
"""How one kind of entry changes the books: ``rule(books, seq, actor, body)``; raises
``AccountingError`` and changes nothing when the entry breaks a rule."""
RULES: Mapping[str, Rule] = {
    "charity.registered": Books._charity_registered,
    "project.opened": Books._project_opened,
    "donation.received": Books._donation_received,
    "donation.refunded": Books._donation_refunded,
    "disbursement.made": Books._disbursement_made,
    "disbursement.voided": Books._disbursement_voided,
    "allocation.made": Books._allocation_made,
    "allocation.reversed": Books._allocation_reversed,
    "project.closed": Books._project_closed,
    "report.published": Books._report_published,
    "charity.signer_changed": Books._charity_signer_changed,
    "matcher.registered": Books._matcher_registered,
    "match_pool.opened": Books._match_pool_opened,
    "match_pool.closed": Books._match_pool_closed,
    "match.made": Books._match_made,
    "match.reversed": Books._match_reversed,
}
"""The rule of each kind of entry (``Books.apply`` dispatches through it); a test holds it
to ``ledger.entries.BODIES``, so a kind cannot be added without its rule (ADR 0027)."""


def check_allocation(donation: DonationState, disbursement: DisbursementState, amount: int) -> None:
    """Check that ``amount`` of ``donation`` may fund ``disbursement``.

    Raises:
        AccountingError: naming the field that breaks a rule.
    """
    if disbursement.voided:
        raise AccountingError("body.disbursement_id", "disbursement is voided")
    if donation.charity_id != disbursement.charity_id:
        raise AccountingError("body.donation_id", "donation was made to another charity")
    if donation.project_id is not None and donation.project_id != disbursement.project_id:
        raise AccountingError(
            "body.donation_id",
            f"donation is earmarked for project {donation.project_id!r} and funds only "
            "that project's disbursements",
        )
    if donation.currency != disbursement.currency:
        raise AccountingError(
            "body.donation_id",
            f"donation is in {donation.currency}, disbursement in {disbursement.currency}",
        )
    if amount > donation.available:
        raise AccountingError(
            "body.amount",
            f"allocation of {amount} exceeds the {donation.available} left of the donation",
        )
    if amount > disbursement.unfunded:
        raise AccountingError(
            "body.amount",
            f"allocation of {amount} exceeds the {disbursement.unfunded} "
            "the disbursement still needs",
        )


def plan_fifo(
    disbursement: DisbursementState, candidates: Sequence[DonationState]
) -> list[tuple[DonationState, int]]:
    """Pick donations for a disbursement, oldest first (DESIGN.md §3.2 ``fifo``).

    Args:
        disbursement: what is to be funded; its ``unfunded`` part is covered.
        candidates: donations in the order to use them: the project's own, oldest
            first, then the charity's general fund, oldest first. Donations that may
            not fund this disbursement are skipped.

    Returns:
        ``(donation, amount)`` pairs; their amounts add up to at most ``unfunded``
        (less when the donations do not cover it).
    """
    need = disbursement.unfunded
    plan: list[tuple[DonationState, int]] = []
    for donation in candidates:
        if need == 0:
            break
        take = min(need, donation.available)
        if take <= 0:
            continue
        try:
            check_allocation(donation, disbursement, take)
        except AccountingError:
            continue
        plan.append((donation, take))
        need -= take
    return plan
