"""A page's reads in one read transaction, and what a donation's page reads together.

An explorer page used to open a connection for every question it asked (a dozen for a
donation), each with its pool checkout, ``BEGIN`` and rollback, and each question its
own query. ``one_transaction`` gives the store, the checkpoint log and the read model of
one page a single connection (one read transaction, one snapshot: SQLite's read
transaction, PostgreSQL's ``REPEATABLE READ``), and the functions below read in one
query what a page would otherwise ask row by row (ADR 0044).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import cast

from sqlalchemy import bindparam, func, or_, select, union
from sqlalchemy.engine import Connection, Engine, Row

from ledger.accounting import (
    AllocationState,
    CharityState,
    DisbursementState,
    DonationState,
    MatcherState,
    MatchState,
    PoolState,
    ProjectState,
)
from ledger.entries import Entry, parse_entry
from ledger.store.projections import state_of
from ledger.store.tables import (
    ALLOCATION,
    CHARITY,
    DISBURSEMENT,
    DONATION,
    ENTRY,
    ENTRY_REF,
    MATCH,
    MATCH_POOL,
    MATCHER,
    PROJECT,
)


class OneConnection:
    """Stands for an engine whose every ``connect`` is the same open connection.

    ``Store``, ``CheckpointLog`` and ``ReadModel`` each open ``engine.connect()`` per
    question; given this instead of their engine, every question of a page shares one
    connection and its one transaction. It cannot ``begin`` a write: a page only reads.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.url = connection.engine.url

    def connect(self) -> AbstractContextManager[Connection]:
        return nullcontext(self.connection)


@contextmanager
def one_transaction(engine: Engine) -> Iterator[Engine]:
    """An engine-like whose connections are all one, in one read transaction, closed after.

    On PostgreSQL the transaction is ``REPEATABLE READ`` (psycopg sends it with the
    ``BEGIN``: no round trip more), so every read sees the same snapshot, as SQLite's
    read transaction does; a standby serves it too.
    """
    if isinstance(engine, OneConnection):  # already one page's: share it
        yield engine
        return
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        yield cast(Engine, OneConnection(connection))


def in_one_transaction(engine: Engine) -> bool:
    """Whether ``engine`` is one page's connection (``one_transaction``'s)."""
    return isinstance(engine, OneConnection)


@dataclass(frozen=True)
class MatchRead:
    """A match with its pool and the pool's matcher (ADR 0040)."""

    match: MatchState
    pool: PoolState
    matcher: MatcherState


@dataclass(frozen=True)
class Funded:
    """A live allocation of a donation, the disbursement it paid, and that one's entry."""

    allocation: AllocationState
    disbursement: DisbursementState
    entry: Entry


@dataclass(frozen=True)
class DonationRead:
    """What a donation's page shows of the store, read in four queries."""

    donation: DonationState
    charity: CharityState
    project: ProjectState | None
    signer_entry: Entry
    """The charity's entry that set its current signer (ADR 0037)."""
    timeline: list[Entry]
    """Every entry about the donation, in order: the first one received it."""
    funded: list[Funded]
    """Its live allocations, oldest first."""
    matched_by: MatchRead | None
    """The match that made this donation, when it is matched money."""
    matches: list[MatchRead]
    """The matches of this donation, oldest first."""


def _entry(leaf: str) -> Entry:
    return parse_entry(json.loads(leaf))


_SIGNER = ENTRY.alias("signer_entry")
_DONATION = (
    select(DONATION, CHARITY, PROJECT, _SIGNER.c.leaf)
    .join(CHARITY, CHARITY.c.charity_id == DONATION.c.charity_id)
    .outerjoin(PROJECT, PROJECT.c.project_id == DONATION.c.project_id)
    .join(_SIGNER, _SIGNER.c.seq == func.coalesce(CHARITY.c.signer_seq, CHARITY.c.seq))
    .where(DONATION.c.donation_id == bindparam("id"))
)
_ABOUT = (
    select(ENTRY.c.leaf)
    .where(
        or_(
            ENTRY.c.seq.in_(select(ENTRY_REF.c.seq).where(ENTRY_REF.c.ref_id == bindparam("id"))),
            ENTRY.c.seq == bindparam("created"),
        )
    )
    .order_by(ENTRY.c.seq)
)
_FUNDED = (
    select(ALLOCATION, DISBURSEMENT, ENTRY.c.leaf)
    .join(DISBURSEMENT, DISBURSEMENT.c.disbursement_id == ALLOCATION.c.disbursement_id)
    .join(ENTRY, ENTRY.c.seq == DISBURSEMENT.c.seq)
    .where(ALLOCATION.c.donation_id == bindparam("id"), ALLOCATION.c.reversed.is_(False))
    .order_by(ALLOCATION.c.seq)
)
_MATCHES = (
    select(MATCH, MATCH_POOL, MATCHER)
    .join(MATCH_POOL, MATCH_POOL.c.pool_id == MATCH.c.pool_id)
    .join(MATCHER, MATCHER.c.matcher_id == MATCH_POOL.c.matcher_id)
    .order_by(MATCH.c.seq)
)
_MATCHES_OF_DONATION = _MATCHES.where(
    or_(MATCH.c.match_id == bindparam("id"), MATCH.c.donation_id == bindparam("id"))
)
_POOL_MATCHES = (
    _MATCHES.where(MATCH.c.pool_id == bindparam("id"))
    .order_by(None)
    .order_by(MATCH.c.seq.desc())
    .limit(bindparam("limit"))
)


def _match_read(row: Row[object]) -> MatchRead:
    return MatchRead(
        state_of(MatchState, row), state_of(PoolState, row), state_of(MatcherState, row)
    )


def donation_read(connection: Connection, donation_id: str) -> DonationRead | None:
    """Donation ``donation_id`` and what its page shows, or None: no such donation."""
    row = connection.execute(_DONATION, {"id": donation_id}).first()
    if row is None:
        return None
    donation = state_of(DonationState, row)
    about = {"id": donation_id, "created": donation.seq}
    matches = [_match_read(r) for r in connection.execute(_MATCHES_OF_DONATION, about)]
    return DonationRead(
        donation=donation,
        charity=state_of(CharityState, row),
        project=state_of(ProjectState, row) if donation.project_id else None,
        signer_entry=_entry(row.leaf),
        timeline=[_entry(leaf) for leaf in connection.execute(_ABOUT, about).scalars()],
        funded=[
            Funded(state_of(AllocationState, r), state_of(DisbursementState, r), _entry(r.leaf))
            for r in connection.execute(_FUNDED, about)
        ],
        matched_by=next((m for m in matches if m.match.match_id == donation_id), None),
        matches=[m for m in matches if m.match.donation_id == donation_id],
    )


_RELATED = union(
    select(ALLOCATION.c.allocation_id).where(ALLOCATION.c.donation_id == bindparam("id")),
    select(ALLOCATION.c.disbursement_id).where(ALLOCATION.c.donation_id == bindparam("id")),
    select(MATCH.c.match_id).where(MATCH.c.donation_id == bindparam("id")),
)
_DONATION_VERSION = (
    select(
        DONATION.c.seq,
        DONATION.c.refunded,
        DONATION.c.allocated,
        CHARITY.c.signer_seq,
        select(func.max(ENTRY_REF.c.seq))
        .where(ENTRY_REF.c.ref_id == bindparam("id"))
        .scalar_subquery()
        .label("about"),
        select(func.max(ENTRY_REF.c.seq))
        .where(ENTRY_REF.c.ref_id.in_(_RELATED))
        .scalar_subquery()
        .label("related"),
    )
    .join(CHARITY, CHARITY.c.charity_id == DONATION.c.charity_id)
    .where(DONATION.c.donation_id == bindparam("id"))
)


@dataclass(frozen=True)
class DonationVersion:
    """What a donation's page reads of the projections changes only when this does.

    Every row ``donation_read`` reads is either never changed after its entry (the
    charity's name, the project's title, the pools' and matchers' names, the entries
    themselves) or changed only by an entry that names, in a field ``entry_ref`` keeps,
    the donation, one of its allocations, a disbursement they funded or one of its
    matches: ``about`` and ``related``, the last such entry, grow with each (ADR 0046).
    The charity's signer is named by no ref: its ``signer_seq`` is read itself.
    """

    seq: int
    """The entry that created the donation."""
    refunded: int
    allocated: int
    signer_seq: int | None
    about: int | None
    """The last entry that names the donation (a refund, an allocation, a match of it, the
    reversal of matched money)."""
    related: int | None
    """The last entry that names one of its allocations (a reversal), a disbursement they
    funded (a void, another allocation) or one of its matches (a reversal)."""


def donation_version(connection: Connection, donation_id: str) -> DonationVersion | None:
    """The version of what donation ``donation_id``'s page reads, in one indexed query;
    None: no such donation."""
    row = connection.execute(_DONATION_VERSION, {"id": donation_id}).first()
    if row is None:
        return None
    return DonationVersion(
        row.seq, row.refunded, row.allocated, row.signer_seq, row.about, row.related
    )


def pool_matches(connection: Connection, pool_id: str, limit: int) -> list[MatchRead]:
    """A matching pool's latest matches, newest first, each with its pool and matcher."""
    rows = connection.execute(_POOL_MATCHES, {"id": pool_id, "limit": limit})
    return [_match_read(row) for row in rows]
