"""Projections: the books as tables, loaded for a batch, written back, and rebuilt.

The rules live in ``ledger.accounting``; this module only moves ``Books`` state
between memory and the projection tables, and answers balance queries.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

from psycopg import sql
from psycopg.rows import dict_row
from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.engine import Connection

from ledger.accounting import (
    STATES,
    AllocationState,
    Balance,
    Books,
    CharityState,
    DisbursementState,
    DonationState,
    MatcherState,
    MatchState,
    PoolState,
    ProjectState,
    State,
)
from ledger.entries import CREATES as CREATES  # the ledger's; re-exported for the journal
from ledger.entries import format_at, thing_of
from ledger.store.copytext import array_literal, bulk_insert, copy_lines
from ledger.store.tables import (
    ALLOCATION,
    CHARITY,
    DISBURSEMENT,
    DONATION,
    MATCH,
    MATCH_POOL,
    MATCHER,
    PROJECT,
)

S = TypeVar("S", bound=State)
"""One kind of projection state (``ledger.accounting.STATES``)."""

TABLES: Mapping[type[State], Table] = dict(
    zip(
        STATES,
        (CHARITY, PROJECT, DONATION, DISBURSEMENT, ALLOCATION, MATCHER, MATCH_POOL, MATCH),
        strict=True,
    )
)
_FIELD_NAMES: Mapping[type[State], tuple[str, ...]] = {
    kind: tuple(f.name for f in fields(kind)) for kind in STATES
}
"""The states are slotted dataclasses (no ``__dict__``): their fields, in order."""
_FIELD_GETTERS = {kind: attrgetter(*names) for kind, names in _FIELD_NAMES.items()}
KEYS: Mapping[type[State], str] = {kind: kind.key for kind in STATES}
"""The id column of each state's table."""
_TABLE_BY_KEY: Mapping[str, Table] = {kind.key: table for kind, table in TABLES.items()}
"""Each state's table by its id column (what a ``type[S]`` can be looked up by)."""
_BY_THING: Mapping[str, type[State]] = {kind.key.removesuffix("_id"): kind for kind in STATES}


def row_of(state: State) -> dict[str, Any]:
    """A state's fields as a row (a shallow copy: states hold only scalars)."""
    names = _FIELD_NAMES[type(state)]
    return dict(zip(names, _FIELD_GETTERS[type(state)](state), strict=True))


def _load(connection: Connection, books: Books, kind: type[State], ids: Iterable[Any]) -> None:
    shelf = books.shelf(kind)
    wanted = sorted({i for i in ids if isinstance(i, str)} - shelf.keys())
    if not wanted:
        return
    table, key = TABLES[kind], KEYS[kind]
    for start in range(0, len(wanted), 1000):
        for row in _rows_with_keys(connection, table, key, wanted[start : start + 1000]):
            shelf[row[key]] = state = kind(**row)
            if isinstance(state, MatchState):
                books.index_match(state)


def _rows_with_keys(
    connection: Connection, table: Table, key: str, values: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows of ``table`` whose ``key`` is one of ``values``, as mappings.

    On PostgreSQL one statement on the driver, the keys one array literal: every batch
    loads its charities and projects, and SQLAlchemy's expanding ``IN`` cost more than
    the round trip. Never prepared, as the idempotency lookup (``Appender._open``): a
    generic plan knows nothing of the array. The states hold only strings, integers and
    booleans, which the driver returns as SQLAlchemy would.
    """
    if connection.dialect.name != "postgresql":
        rows = connection.execute(select(table).where(table.c[key].in_(values))).mappings()
        return [dict(row) for row in rows]
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor(row_factory=dict_row)
    cursor.execute(_select_with_keys(table, key), (array_literal(values),), prepare=False)
    found: list[dict[str, Any]] = cursor.fetchall()
    return found


@functools.cache
def _select_with_keys(table: Table, key: str) -> sql.Composed:
    return sql.SQL("SELECT {} FROM {} WHERE {} = ANY(CAST(%s AS text[]))").format(
        sql.SQL(", ").join(sql.Identifier(column.name) for column in table.columns),
        sql.Identifier(table.name),
        sql.Identifier(key),
    )


def load_books(
    connection: Connection,
    drafts: Sequence[tuple[str, Mapping[str, Any]]],
    disbursement_ids: Iterable[str],
) -> Books:
    """Load every row that the given ``(kind, body)`` drafts refer to into a partial ``Books``.

    Ids a draft creates are not looked up: the primary keys refuse a duplicate, and
    ``existing_ids`` then names it.
    """
    books = Books()

    def ids(name: str) -> list[Any]:
        return [body[name] for kind, body in drafts if name in body and CREATES.get(kind) != name]

    _load(connection, books, AllocationState, ids("allocation_id"))
    donation_ids = ids("donation_id") + [a.donation_id for a in books.allocations.values()]
    disbursements = ids("disbursement_id") + list(disbursement_ids)
    disbursements += [a.disbursement_id for a in books.allocations.values()]
    _load(connection, books, DonationState, donation_ids)
    _load(connection, books, DisbursementState, disbursements)
    _load(connection, books, ProjectState, ids("project_id"))
    _load(connection, books, CharityState, ids("charity_id"))
    if any(kind.startswith(("match", "donation.refunded")) for kind, _ in drafts):
        _load_matching(connection, books, drafts, ids)
    return books


def _load_matching(
    connection: Connection,
    books: Books,
    drafts: Sequence[tuple[str, Mapping[str, Any]]],
    ids: Any,
) -> None:
    """The matching states the drafts of a batch read (ADR 0040)."""
    _load(connection, books, MatcherState, ids("matcher_id"))
    matches = ids("match_id")
    _load(connection, books, MatchState, matches)
    _load(connection, books, DonationState, matches)
    pools = ids("pool_id") + [m.pool_id for m in books.matches.values()]
    _load(connection, books, PoolState, pools)
    _load(
        connection,
        books,
        ProjectState,
        [p for kind, body in drafts if kind == "match_pool.opened" for p in body["project_ids"]],
    )
    # A refund asks whether its donation is matched, a match whether it is matched already.
    donations = [
        body["donation_id"] for kind, body in drafts if kind in ("donation.refunded", "match.made")
    ]
    load_donation_matches(connection, books, donations)
    _load(connection, books, MatchState, donations)  # a refund of matched money is refused
    load_payer_matches(
        connection, books, [body["payer_hash"] for kind, body in drafts if kind == "match.made"]
    )


def _load_matches_where(connection: Connection, books: Books, clause: Any) -> None:
    for row in connection.execute(select(MATCH).where(clause)).mappings():
        if row["match_id"] not in books.matches:
            books.matches[row["match_id"]] = state = MatchState(**row)
            books.index_match(state)


def load_donation_matches(
    connection: Connection, books: Books, donation_ids: Sequence[str]
) -> None:
    """The matches of these donations (a refund must find them)."""
    wanted = sorted(set(donation_ids))
    for start in range(0, len(wanted), 1000):
        _load_matches_where(
            connection, books, MATCH.c.donation_id.in_(wanted[start : start + 1000])
        )


def load_payer_matches(connection: Connection, books: Books, payer_hashes: Sequence[str]) -> None:
    """Every match of these payer hashes (a hash is a payer within one pool): the rate and
    per-day rules read them."""
    wanted = sorted(set(payer_hashes))
    for start in range(0, len(wanted), 1000):
        _load_matches_where(connection, books, MATCH.c.payer_hash.in_(wanted[start : start + 1000]))


def load_open_pools(connection: Connection, books: Books) -> list[PoolState]:
    """Every matching pool not closed, oldest first (the sequencer matches against them)."""
    for row in connection.execute(
        select(MATCH_POOL).where(MATCH_POOL.c.closed.is_(False))
    ).mappings():
        books.pools.setdefault(row["pool_id"], PoolState(**row))
    return sorted((p for p in books.pools.values() if not p.closed), key=lambda p: p.seq)


def existing_ids(
    connection: Connection, drafts: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[tuple[int, str]]:
    """``(index, key)`` of each draft whose created id is already taken."""
    found: list[tuple[int, str]] = []
    kinds = {CREATES[k]: k for k in CREATES}
    for key, kind in kinds.items():
        state = next(t for t, name in KEYS.items() if name == key)
        wanted = {body[key]: i for i, (k, body) in enumerate(drafts) if k == kind}
        if not wanted:
            continue
        books = Books()
        _load(connection, books, state, wanted)
        found.extend((wanted[taken], key) for taken in books.shelf(state))
    return sorted(found)


def write_books(
    connection: Connection,
    books: Books,
    written: Set[int] = frozenset(),
) -> None:
    """Insert what a batch created and update what it changed.

    Args:
        connection: the batch's connection.
        books: the batch's books.
        written: the ``id`` of each created state whose row was sent while the batch
            was built (``EntryWriter.written``): not inserted again, and updated if the
            rules marked it changed (a refund later in the batch; the update is then
            only redundant if the change came before its row was sent).
    """
    created_ids = {id(state) for state in books.created}
    created: dict[type[State], list[Any]] = {}
    for state in books.created:
        if id(state) not in written:
            created.setdefault(type(state), []).append(state)
    for kind in STATES:  # in the order things are created: a row's references come first
        states = created.get(kind)
        if not states:
            continue
        if kind is DonationState and connection.dialect.name == "postgresql":
            copy_lines(connection, DONATION, DONATION_COLUMNS, donation_lines(states))
        else:
            bulk_insert(connection, TABLES[kind], [row_of(state) for state in states])
    updates: dict[type[State], list[State]] = {}
    for state in books.changed.values():
        if id(state) not in created_ids or id(state) in written:
            updates.setdefault(type(state), []).append(state)
    for kind, states in updates.items():
        # One executemany a table (psycopg pipelines it): a batch of refunds is one
        # round trip, not one per donation.
        table, key = TABLES[kind], KEYS[kind]
        rows = [row_of(state) for state in states]
        for row in rows:
            row["_key"] = row.pop(key)
        names = [name for name in rows[0] if name != "_key"]
        statement = (
            table.update()
            .where(table.c[key] == bindparam("_key"))
            .values({name: bindparam(name) for name in names})
        )
        connection.execute(statement, rows)


DONATION_COLUMNS = _FIELD_NAMES[DonationState]
"""The donation table's columns, in the order ``donation_lines`` writes them."""


def donation_lines(states: Sequence[DonationState]) -> str:
    """Donation rows as COPY text, one f-string a row (a giving day writes thousands a batch).

    Nothing is escaped: ids, currency, channel and ``paid_at`` are validated to ASCII
    letters, digits and ``_:.-`` (``ledger.entries``), amounts are ints.
    """
    null = "\\N"
    return "".join(
        f"{d.donation_id}\t{d.charity_id}\t{d.project_id or null}\t{d.amount}\t{d.currency}\t"
        f"{d.channel}\t{d.paid_at}\t{d.seq}\t{d.refunded}\t{d.allocated}\n"
        for d in states
    )


def read_books(connection: Connection) -> Books:
    """Every projection row, as ``Books`` (to compare with a rebuild)."""
    books = Books()
    for kind, table in TABLES.items():
        shelf = books.shelf(kind)
        for row in connection.execute(select(table)).mappings():
            shelf[row[KEYS[kind]]] = kind(**row)
    return books


def diff_books(live: Books, rebuilt: Books) -> list[str]:
    """Differences between the live projections and a rebuild from the journal."""
    problems: list[str] = []
    for kind in TABLES:
        have, want = live.shelf(kind), rebuilt.shelf(kind)
        for key in sorted(have.keys() | want.keys()):
            if have.get(key) != want.get(key):
                problems.append(
                    f"{TABLES[kind].name} {key}: live {have.get(key)!r}, journal {want.get(key)!r}"
                )
    return problems


def replace_books(connection: Connection, books: Books) -> None:
    """Empty the projection tables and write ``books`` into them (a rebuild)."""
    for kind in reversed(STATES):
        connection.execute(TABLES[kind].delete())
    for kind in STATES:
        rows = [row_of(s) for s in books.shelf(kind).values()]
        if rows:
            bulk_insert(connection, TABLES[kind], rows)


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


def state_of(kind: type[S], row: Any) -> S:
    """A projection state from a row holding its table's columns, among any others (a join
    of tables that share column names: each is found by its column, not its name)."""
    mapping = row._mapping
    return kind(**{column.name: mapping[column] for column in _TABLE_BY_KEY[kind.key].columns})


def get(connection: Connection, kind: type[S], key: str) -> S | None:
    """One projection row by id (a charity, project, donation, disbursement or allocation)."""
    key_name = kind.key
    query = _query(_TABLE_BY_KEY[kind.key], "seq", ((key_name, False),))
    row = connection.execute(query, {key_name: key}).mappings().first()
    return None if row is None else kind(**row)


def find(connection: Connection, kind: type[S], order_by: str = "seq", **where: Any) -> list[S]:
    """Projection rows whose columns equal ``where``, ordered by ``order_by``."""
    query = _query(
        _TABLE_BY_KEY[kind.key], order_by, tuple(sorted((k, v is None) for k, v in where.items()))
    )
    values = {name: value for name, value in where.items() if value is not None}
    return [kind(**row) for row in connection.execute(query, values).mappings()]


@functools.cache
def _query(table: Table, order_by: str, columns: tuple[tuple[str, bool], ...]) -> Select[Any]:
    """The rows of ``table`` whose ``columns`` are NULL (``(name, True)``) or equal their
    parameter of the same name: built once per shape, not per request (the explorer asks
    a few shapes many times)."""
    query = select(table).order_by(table.c[order_by])
    for column, null in columns:
        query = query.where(
            table.c[column].is_(None) if null else table.c[column] == bindparam(column)
        )
    return query


_MONEY_COLUMNS = ("seq", "recorded_at", "charity_id", "project_id", "amount", "currency")
"""What a donation's and a disbursement's export rows both say after their id: when it
was recorded, and whose money it is, how much, in what currency."""
EXPORT_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "donations": (
        "donation_id",
        *_MONEY_COLUMNS,
        "channel",
        "paid_at",
        "refunded",
        "allocated",
        "unspent",
    ),
    "disbursements": (
        "disbursement_id",
        *_MONEY_COLUMNS,
        "payee",
        "purpose",
        "allocated",
        "voided",
    ),
    "allocations": (
        "allocation_id",
        "seq",
        "recorded_at",
        "charity_id",
        "donation_id",
        "disbursement_id",
        "amount",
        "currency",
        "reversed",
    ),
}


_EXPORT_TABLES: Mapping[str, Table] = {
    "donations": DONATION,
    "disbursements": DISBURSEMENT,
    "allocations": ALLOCATION,
}


def export_rows(
    connection: Connection,
    kind: str,
    *,
    charity_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Iterable[tuple[Any, ...]]:
    """Rows of an auditor's export (``EXPORT_COLUMNS[kind]``), by ``seq``.

    Args:
        kind: ``donations``, ``disbursements`` or ``allocations``.
        charity_id: only this charity's rows.
        start: only rows recorded at or after this moment.
        end: only rows recorded before this moment.
    """
    from ledger.store.tables import ENTRY

    table = _EXPORT_TABLES.get(kind)
    if table is None:
        raise ValueError(f"unknown export {kind!r}; expected one of {', '.join(EXPORT_COLUMNS)}")
    # Columns by name from the kind's table, except these; an allocation's charity and
    # currency are its disbursement's.
    computed: dict[str, Any] = {
        "recorded_at": ENTRY.c.at,
        "unspent": (DONATION.c.amount - DONATION.c.refunded - DONATION.c.allocated).label(
            "unspent"
        ),
    }
    owner = DISBURSEMENT.c.charity_id if table is ALLOCATION else table.c.charity_id
    if table is ALLOCATION:
        computed |= {"charity_id": owner, "currency": DISBURSEMENT.c.currency}
    query = select(
        *(computed[name] if name in computed else table.c[name] for name in EXPORT_COLUMNS[kind])
    )
    if table is ALLOCATION:
        query = query.join(
            DISBURSEMENT, DISBURSEMENT.c.disbursement_id == ALLOCATION.c.disbursement_id
        )
    query = query.join(ENTRY, ENTRY.c.seq == table.c.seq).order_by(table.c.seq)
    if charity_id is not None:
        query = query.where(owner == charity_id)
    # Bound in UTC by the column's type (SQLite compares the stored UTC text).
    if start is not None:
        query = query.where(ENTRY.c.at >= start)
    if end is not None:
        query = query.where(ENTRY.c.at < end)
    for row in connection.execute(query.execution_options(yield_per=1000)):
        values = list(row)
        values[2] = format_at(values[2])
        yield tuple(values)


def created_seq(connection: Connection, ref_id: str) -> int | None:
    """The ``seq`` of the entry that created ``ref_id`` (by its prefix), if it exists."""
    thing = thing_of(ref_id)
    if thing is None:
        return None
    kind = _BY_THING[thing]
    table = TABLES[kind]
    value = connection.execute(select(table.c.seq).where(table.c[KEYS[kind]] == ref_id)).scalar()
    return None if value is None else int(value)
