"""Accounting rules (DESIGN.md §3.2) over an in-memory view of the books.

Pure: the store loads the part of the books a batch touches, applies the batch here and
writes back what changed; the audit replays the whole journal through the same rules.

The states and the shelves that keep them are in ``ledger.states``, the rules of money in
``ledger.money_rules`` and of matching funds in ``ledger.matching_rules``; ``Books`` joins
them, and every name is re-exported here, where callers take them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ledger.entries import Entry
from ledger.errors import AccountingError
from ledger.matching_rules import MatchingRules
from ledger.money_rules import MoneyRules

# Re-exported (``X as X``): callers take every name of the accounting from here.
from ledger.money_rules import check_allocation as check_allocation
from ledger.money_rules import plan_fifo as plan_fifo
from ledger.states import MATCH_CHANNEL as MATCH_CHANNEL
from ledger.states import STATES as STATES
from ledger.states import AllocationState as AllocationState
from ledger.states import Balance as Balance
from ledger.states import CharityState as CharityState
from ledger.states import DisbursementState as DisbursementState
from ledger.states import DonationState as DonationState
from ledger.states import MatcherState as MatcherState
from ledger.states import MatchState as MatchState
from ledger.states import PoolState as PoolState
from ledger.states import ProjectState as ProjectState
from ledger.states import State as State
from ledger.states import state_from_body


class Books(MoneyRules, MatchingRules):
    """The books: the shelves of ``BookShelves`` with the rule of every kind of entry.

    ``apply`` checks an entry against every rule and changes nothing when one fails;
    ``created`` and ``changed`` record what a batch touched, for the store to write.
    """

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

    # -- the rules of charities and projects (RULES, below the class, names them all) ----

    def _charity_registered(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_actor(actor, charity_id=None)
        self._require_new(self.charities, "charity_id", body["charity_id"])
        self._add(state_from_body(CharityState, seq, body))

    def _project_opened(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_new(self.projects, "project_id", body["project_id"])
        charity = self._charity(body["charity_id"])
        self._require_actor(actor, charity_id=charity.charity_id)
        self._add(state_from_body(ProjectState, seq, body))

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
