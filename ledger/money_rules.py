"""The rules of donations, disbursements and allocations (DESIGN.md §3.2).

Pure: no I/O. ``MoneyRules`` checks and records the entries that move money: a donation
received or refunded, a disbursement made or voided, an allocation made or reversed; with
the fast paths of the audit's replay (``receive_donation``, ``receive_donations``,
``make_allocation``) and the FIFO plan the store allocates by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import is_
from typing import Any

from ledger.errors import AccountingError
from ledger.states import (
    AllocationState,
    BookShelves,
    DisbursementState,
    DonationState,
    state_from_body,
)


class MoneyRules(BookShelves):
    """The rules of the kinds that move money (``ledger.accounting.RULES`` names them)."""

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
        self._add(state_from_body(DisbursementState, seq, body))

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
