"""Projections: the books as tables, loaded for a batch, written back, and rebuilt.

The rules live in ``ledger.accounting``; this module only moves ``Books`` state
between memory and the projection tables, and answers balance queries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.engine import Connection

from ledger.accounting import (
    AllocationState,
    Books,
    CharityState,
    DisbursementState,
    DonationState,
    ProjectState,
    State,
)
from ledger.store.tables import ALLOCATION, CHARITY, DISBURSEMENT, DONATION, PROJECT

TABLES: Mapping[type[State], Table] = {
    CharityState: CHARITY,
    ProjectState: PROJECT,
    DonationState: DONATION,
    DisbursementState: DISBURSEMENT,
    AllocationState: ALLOCATION,
}
KEYS: Mapping[type[State], str] = {
    CharityState: "charity_id",
    ProjectState: "project_id",
    DonationState: "donation_id",
    DisbursementState: "disbursement_id",
    AllocationState: "allocation_id",
}


def _shelf(books: Books, kind: type[State]) -> dict[str, Any]:
    shelves: dict[type[State], dict[str, Any]] = {
        CharityState: books.charities,
        ProjectState: books.projects,
        DonationState: books.donations,
        DisbursementState: books.disbursements,
        AllocationState: books.allocations,
    }
    return shelves[kind]


def _load(connection: Connection, books: Books, kind: type[State], ids: Iterable[Any]) -> None:
    shelf = _shelf(books, kind)
    wanted = sorted({i for i in ids if isinstance(i, str)} - shelf.keys())
    if not wanted:
        return
    table, key = TABLES[kind], KEYS[kind]
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        for row in connection.execute(select(table).where(table.c[key].in_(chunk))).mappings():
            shelf[row[key]] = kind(**row)


def load_books(
    connection: Connection, bodies: Sequence[Mapping[str, Any]], disbursement_ids: Iterable[str]
) -> Books:
    """Load every row that the given entry bodies refer to into a partial ``Books``."""
    books = Books()

    def ids(name: str) -> list[Any]:
        return [body[name] for body in bodies if name in body]

    _load(connection, books, AllocationState, ids("allocation_id"))
    donation_ids = ids("donation_id") + [a.donation_id for a in books.allocations.values()]
    disbursements = ids("disbursement_id") + list(disbursement_ids)
    disbursements += [a.disbursement_id for a in books.allocations.values()]
    _load(connection, books, DonationState, donation_ids)
    _load(connection, books, DisbursementState, disbursements)
    _load(connection, books, ProjectState, ids("project_id"))
    _load(connection, books, CharityState, ids("charity_id"))
    return books


def load_fifo_candidates(
    connection: Connection,
    books: Books,
    disbursement: DisbursementState,
    *,
    limit: int,
    offset: int = 0,
) -> list[DonationState]:
    """Donations that may fund ``disbursement``, in FIFO order (DESIGN.md §3.2).

    The project's own donations come first, oldest first, then the charity's general
    fund; only donations with money left are returned, at most ``limit`` from the
    database plus any created earlier in this batch.
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
    for row in connection.execute(query).mappings():
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
    return candidates


def write_books(connection: Connection, books: Books) -> None:
    """Insert what a batch created and update what it changed."""
    created_ids = {id(state) for state in books.created}
    inserts: dict[type[State], list[dict[str, Any]]] = {}
    for state in books.created:
        inserts.setdefault(type(state), []).append(dataclasses.asdict(state))
    for kind in (CharityState, ProjectState, DonationState, DisbursementState, AllocationState):
        if kind in inserts:
            connection.execute(TABLES[kind].insert(), inserts[kind])
    updates: dict[type[State], list[State]] = {}
    for state in books.changed.values():
        if id(state) not in created_ids:
            updates.setdefault(type(state), []).append(state)
    for kind, states in updates.items():
        table, key = TABLES[kind], KEYS[kind]
        for state in states:
            values = dataclasses.asdict(state)
            connection.execute(
                table.update().where(table.c[key] == values.pop(key)).values(**values)
            )


def read_books(connection: Connection) -> Books:
    """Every projection row, as ``Books`` (to compare with a rebuild)."""
    books = Books()
    for kind, table in TABLES.items():
        shelf = _shelf(books, kind)
        for row in connection.execute(select(table)).mappings():
            shelf[row[KEYS[kind]]] = kind(**row)
    return books


def diff_books(live: Books, rebuilt: Books) -> list[str]:
    """Differences between the live projections and a rebuild from the journal."""
    problems: list[str] = []
    for kind in TABLES:
        have, want = _shelf(live, kind), _shelf(rebuilt, kind)
        for key in sorted(have.keys() | want.keys()):
            if have.get(key) != want.get(key):
                problems.append(
                    f"{TABLES[kind].name} {key}: live {have.get(key)!r}, journal {want.get(key)!r}"
                )
    return problems


def replace_books(connection: Connection, books: Books) -> None:
    """Empty the projection tables and write ``books`` into them (a rebuild)."""
    for kind in (AllocationState, DisbursementState, DonationState, ProjectState, CharityState):
        connection.execute(TABLES[kind].delete())
    for kind in (CharityState, ProjectState, DonationState, DisbursementState, AllocationState):
        rows = [dataclasses.asdict(s) for s in _shelf(books, kind).values()]
        if rows:
            connection.execute(TABLES[kind].insert(), rows)


@dataclass(frozen=True)
class Balance:
    """Money of a charity, a project or a donation, in minor units of ``currency``."""

    currency: str
    received: int
    refunded: int
    allocated: int
    disbursed: int

    @property
    def held(self) -> int:
        """Received, not refunded and not yet allocated to any disbursement."""
        return self.received - self.refunded - self.allocated


def balances(
    connection: Connection, *, charity_id: str | None = None, project_id: str | None = None
) -> list[Balance]:
    """Balances per currency of a charity or of a project (one of the two)."""
    if (charity_id is None) == (project_id is None):
        raise ValueError("give exactly one of charity_id and project_id")
    donation, disbursement = DONATION, DISBURSEMENT
    column = "charity_id" if charity_id is not None else "project_id"
    value = charity_id if charity_id is not None else project_id
    received = {
        row.currency: row
        for row in connection.execute(
            select(
                donation.c.currency,
                func.coalesce(func.sum(donation.c.amount), 0).label("received"),
                func.coalesce(func.sum(donation.c.refunded), 0).label("refunded"),
                func.coalesce(func.sum(donation.c.allocated), 0).label("allocated"),
            )
            .where(donation.c[column] == value)
            .group_by(donation.c.currency)
        )
    }
    disbursed = {
        row.currency: row.disbursed
        for row in connection.execute(
            select(
                disbursement.c.currency,
                func.coalesce(func.sum(disbursement.c.amount), 0).label("disbursed"),
            )
            .where(disbursement.c[column] == value, disbursement.c.voided.is_(False))
            .group_by(disbursement.c.currency)
        )
    }
    return [
        Balance(
            currency=currency,
            received=int(received[currency].received) if currency in received else 0,
            refunded=int(received[currency].refunded) if currency in received else 0,
            allocated=int(received[currency].allocated) if currency in received else 0,
            disbursed=int(disbursed.get(currency, 0)),
        )
        for currency in sorted(received.keys() | disbursed.keys())
    ]


@dataclass(frozen=True)
class Funding:
    """One live allocation of a donation: what it paid for."""

    allocation_id: str
    amount: int
    seq: int
    disbursement_id: str
    disbursement_seq: int
    payee: str
    purpose: str
    project_id: str | None


def donation_funded(connection: Connection, donation_id: str) -> list[Funding]:
    """What a donation funded: its live (not reversed) allocations, oldest first."""
    allocation, disbursement = ALLOCATION, DISBURSEMENT
    rows = connection.execute(
        select(
            allocation.c.allocation_id,
            allocation.c.amount,
            allocation.c.seq,
            disbursement.c.disbursement_id,
            disbursement.c.seq.label("disbursement_seq"),
            disbursement.c.payee,
            disbursement.c.purpose,
            disbursement.c.project_id,
        )
        .join(disbursement, disbursement.c.disbursement_id == allocation.c.disbursement_id)
        .where(allocation.c.donation_id == donation_id, allocation.c.reversed.is_(False))
        .order_by(allocation.c.seq)
    )
    return [Funding(**row) for row in rows.mappings()]
