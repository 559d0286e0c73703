"""The rules of matching funds (配捐, ADR 0040): matchers, pools, matches.

Pure: no I/O. ``MatchingRules`` checks and records a matcher registered, a pool opened or
closed, a match made or reversed; ``match_problem`` is the one place that says why a pool
may not match a donation, for the sequencer before it matches and for the rule after.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ledger.errors import AccountingError
from ledger.states import (
    MATCH_CHANNEL,
    BookShelves,
    DonationState,
    MatcherState,
    MatchState,
    PoolState,
)


class MatchingRules(BookShelves):
    """The rules of the matching kinds (``ledger.accounting.RULES`` names them)."""

    def _matcher_registered(self, seq: int, actor: str, body: Mapping[str, Any]) -> None:
        self._require_actor(actor, charity_id=None)
        self._require_new(self.matchers, "matcher_id", body["matcher_id"])
        self._add(MatcherState(body["matcher_id"], body["name"], body["registration_no"], seq))

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


def _instant_ms(at: str) -> int:
    """Milliseconds since the epoch of a journal time (``YYYY-MM-DDTHH:MM:SS.mmmZ``)."""
    moment = datetime.fromisoformat(at)
    return int(moment.timestamp() * 1000)


def _day(at: str, offset_minutes: int) -> str:
    """The calendar day of a journal time at UTC ``offset_minutes`` (``YYYY-MM-DD``)."""
    return (datetime.fromisoformat(at) + timedelta(minutes=offset_minutes)).date().isoformat()
