"""What an append derives on the books beyond a request's drafts, under the append lock.

A request may ask for entries it cannot write itself: ``allocate: fifo`` (the allocations
of a disbursement, planned over the oldest unspent donations) and a donation's matches
(ADR 0040, one from each open pool whose rules allow it). Both are planned on the batch's
``Books``, after the requests before them, so that they see exactly what a separate
append would. ``BooksUndo`` takes a request's changes back off the books when a later
draft of it breaks a rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from ledger.accounting import Books, DisbursementState, DonationState, PoolState, plan_fifo
from ledger.entries import Entry, pool_payer_hash, to_hex
from ledger.errors import AccountingError
from ledger.store import projections
from ledger.store.requests import Draft, FifoAllocation, MatchDonation, new_id
from ledger.store.tables import DONATION

FIFO_PAGE = 500
"""Donations read at a time while planning a FIFO allocation."""

_STATE_FIELDS: dict[type, tuple[str, ...]] = {}


class BooksUndo:
    """Takes back what one request did to ``Books`` (its later draft broke a rule).

    Before each draft is applied, the states it may change are kept as they are (every
    state named by the body's ids, and an allocation's donation and disbursement); a
    restore puts their fields back, drops the states created since, and forgets the
    states marked changed since.
    """

    def __init__(self, books: Books) -> None:
        self.books = books
        self.created = len(books.created)
        self.changed = len(books.changed)
        self.before: dict[int, tuple[Any, tuple[Any, ...]]] = {}

    def keep_state(self, state: Any) -> None:
        """Keep one state as it is now (a pool a match may spend from)."""
        self._keep(state)

    def _keep(self, state: Any) -> None:
        if state is None or id(state) in self.before:
            return
        names = _STATE_FIELDS.get(type(state))
        if names is None:
            names = _STATE_FIELDS[type(state)] = tuple(f.name for f in fields(state))
        self.before[id(state)] = (state, tuple(getattr(state, name) for name in names))

    def keep(self, body: Mapping[str, Any]) -> None:
        books = self.books
        allocation = books.allocations.get(body.get("allocation_id"))  # type: ignore[arg-type]
        self._keep(allocation)
        if allocation is not None:
            self._keep(books.donations.get(allocation.donation_id))
            self._keep(books.disbursements.get(allocation.disbursement_id))
        self._keep(books.donations.get(body.get("donation_id")))  # type: ignore[arg-type]
        self._keep(books.disbursements.get(body.get("disbursement_id")))  # type: ignore[arg-type]
        # Matching funds (ADR 0040): a match changes its pool, a reversal its money too.
        match = books.matches.get(body.get("match_id"))  # type: ignore[arg-type]
        self._keep(match)
        self._keep(books.donations.get(body.get("match_id")))  # type: ignore[arg-type]
        pool_id = match.pool_id if match is not None else body.get("pool_id")
        self._keep(books.pools.get(pool_id))  # type: ignore[arg-type]

    def restore(self) -> None:
        books = self.books
        for state, values in self.before.values():
            for name, value in zip(_STATE_FIELDS[type(state)], values, strict=True):
                setattr(state, name, value)
        for state in books.created[self.created :]:
            del books.shelf(type(state))[getattr(state, projections.KEYS[type(state)])]
        del books.created[self.created :]
        while len(books.changed) > self.changed:
            books.changed.popitem()


def load_matching(
    connection: Connection, books: Books, matching: Sequence[MatchDonation]
) -> list[PoolState]:
    """The open pools, and every match of the batch's payers in them (ADR 0040)."""
    pools = projections.load_open_pools(connection, books)
    if pools:
        hashes = [
            to_hex(pool_payer_hash(m.payer_key, pool.pool_id)) for m in matching for pool in pools
        ]
        projections.load_payer_matches(connection, books, hashes)
    return pools


def match_entries(
    books: Books,
    request: MatchDonation,
    pools: Sequence[PoolState],
    first_seq: int,
    stamp: str,
) -> list[Entry]:
    """The ``match.made`` entries of a donation: one from each open pool whose rules
    allow the whole match (a match is whole or not made: ADR 0040), applied to
    ``books``. A donation no pool may match gets none; nothing is refused."""
    donation = books.donations.get(request.donation_id)
    if donation is None:
        return []
    entries: list[Entry] = []
    for pool in pools:
        amount = pool.match_amount(donation.amount)
        if amount <= 0 or pool.closed or not pool.covers(donation.project_id):
            continue
        payer_hash = to_hex(pool_payer_hash(request.payer_key, pool.pool_id))
        if books.match_problem(pool, donation, payer_hash, amount) is not None:
            continue
        entry = Entry(
            seq=first_seq + len(entries),
            kind="match.made",
            at=stamp,
            actor=request.actor,
            body={
                "match_id": new_id("dn"),
                "donation_id": donation.donation_id,
                "pool_id": pool.pool_id,
                "amount": amount,
                "payer_hash": payer_hash,
            },
        )
        try:
            books.apply(entry)
        except AccountingError:  # the rules said yes above: never, but never a refusal
            continue
        entries.append(entry)
    return entries


def load_fifo_candidates(
    connection: Connection,
    books: Books,
    disbursement: DisbursementState,
    *,
    limit: int,
    offset: int = 0,
) -> FifoPage:
    """Donations that may fund ``disbursement``, in FIFO order (DESIGN.md §3.2).

    The project's own donations come first, oldest first, then the charity's general
    fund; only donations with money left are returned: every one on ``books`` (those
    created earlier in this batch too) and a page of at most ``limit`` from the database.
    """
    table = DONATION
    project_clause = (
        table.c.project_id.is_(None)
        if disbursement.project_id is None
        else or_(table.c.project_id == disbursement.project_id, table.c.project_id.is_(None))
    )
    query = (
        select(table)
        .where(
            and_(
                table.c.charity_id == disbursement.charity_id,
                table.c.currency == disbursement.currency,
                project_clause,
                table.c.amount - table.c.refunded - table.c.allocated > 0,
            )
        )
        .order_by(table.c.project_id.is_(None), table.c.seq)
        .limit(limit)
        .offset(offset)
    )
    rows = connection.execute(query).mappings().all()
    for row in rows:
        books.donations.setdefault(row["donation_id"], DonationState(**row))
    candidates = [
        d
        for d in books.donations.values()
        if d.charity_id == disbursement.charity_id
        and d.currency == disbursement.currency
        and d.project_id in (None, disbursement.project_id)
        and d.available > 0
    ]
    candidates.sort(key=lambda d: (d.project_id is None, d.seq))
    return FifoPage(candidates, full=len(rows) == limit)


class FifoPage(NamedTuple):
    """What ``load_fifo_candidates`` found, and whether its page of the table was full
    (then the next page may hold more, even if this one brought nothing new)."""

    candidates: list[DonationState]
    full: bool


def expand_fifo(
    connection: Connection, books: Books, request: FifoAllocation, index: int
) -> list[Draft]:
    """The ``allocation.made`` drafts of a FIFO plan for the request's disbursement.

    Raises:
        AccountingError: the disbursement does not exist.
    """
    disbursement = books.disbursements.get(request.disbursement_id)
    if disbursement is None:
        raise AccountingError(
            f"entries[{index}].disbursement_id",
            f"disbursement {request.disbursement_id!r} does not exist",
        )
    drafts: list[Draft] = []
    # Planning page after page must not pick the same money twice: what a page
    # takes is reserved on the books, and released before the allocations are
    # applied for real.
    reserved: list[tuple[DonationState, int]] = []
    offset = 0
    while disbursement.unfunded > 0:
        page = load_fifo_candidates(connection, books, disbursement, limit=FIFO_PAGE, offset=offset)
        offset += FIFO_PAGE
        plan = plan_fifo(disbursement, page.candidates)
        for donation, amount in plan:
            draft = Draft(
                kind="allocation.made",
                body={
                    "allocation_id": new_id("al"),
                    "donation_id": donation.donation_id,
                    "disbursement_id": disbursement.disbursement_id,
                    "amount": amount,
                },
                actor=request.actor,
            )
            drafts.append(draft)
            donation.allocated += amount
            disbursement.allocated += amount
            reserved.append((donation, amount))
        # A page may bring nothing new: the batch's own donations are on the table too
        # (written while the batch is built, ADR 0049) and already on the books. Only a
        # page that is not full says the table has no more.
        if not page.full:
            break
    for donation, amount in reserved:
        donation.allocated -= amount
        disbursement.allocated -= amount
    return drafts
