"""The books' shelves (DESIGN.md §3.2): states by id, and the lookups every rule uses.

Pure: no I/O. ``BookShelves`` holds what the books know and what a batch touched; the rule
of each kind of entry extends it (``ledger.money_rules``, ``ledger.matching_rules``,
``ledger.accounting``), so a rule names the field that breaks it through the same lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import AccountingError
from ledger.states import (
    SHELVES,
    AllocationState,
    CharityState,
    DisbursementState,
    DonationState,
    MatcherState,
    MatchState,
    PoolState,
    ProjectState,
    State,
)


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
