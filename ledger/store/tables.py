"""The store's tables: the journal, its Merkle nodes, idempotency keys and projections.

``entry`` and ``merkle_node`` are append-only (PostgreSQL triggers reject UPDATE,
DELETE and TRUNCATE). The projection tables (``charity`` … ``allocation``) are derived
from the journal and can be rebuilt from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    LargeBinary,
    MetaData,
    SmallInteger,
    Text,
    TypeDecorator,
)
from sqlalchemy import Table as SaTable
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time: stored in UTC, read back as an aware datetime in UTC.

    PostgreSQL's ``timestamptz`` keeps the instant and hands it back in the session's
    time zone; SQLite keeps the wall-clock text without any offset. Converting to UTC on
    the way in and marking (or converting to) UTC on the way out gives both databases
    the same answer, so no reader patches a naive value (ADR 0026). A naive datetime is
    refused: it names no instant.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"{value!r}: a stored time must be a timezone-aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Table(SQLModel):
    metadata = metadata


def big_integer(*, nullable: bool = False) -> Any:
    """A BIGINT column: an amount in minor units, a seq, a size, milliseconds.

    A plain ``int`` field is a 32-bit INTEGER, too small for these. A nullable one is None
    until set.
    """
    column = Column(BigInteger, nullable=nullable)
    return Field(default=None, sa_column=column) if nullable else Field(sa_column=column)


class JournalEntry(Table, table=True):
    """One journal entry: its canonical JSON exactly as hashed, and a few columns to query."""

    __tablename__ = "entry"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=60)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    leaf: str = Field(sa_column=Column(Text, nullable=False))
    """RFC 8785 canonical JSON of the entry, exactly as hashed: the Merkle leaf."""
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    """RFC 6962 leaf hash, computed at append: level 0 of the Merkle tree."""


class EntryRef(Table, table=True):
    """Which entries name a donation, disbursement or allocation: its timeline, by index."""

    __tablename__ = "entry_ref"
    ref_id: str = Field(primary_key=True, max_length=43)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class MerkleNode(Table, table=True):
    """The hash of the complete subtree ``(level, idx)``, for even levels from 2 up.

    Level 0 is ``entry.leaf_hash``; an odd level is one hash of two stored nodes below
    it. Storing every other level (tiles of height 2) keeps about n/3 rows for n
    entries instead of 2n, and any root or proof still reads O(log n) of them.
    """

    __tablename__ = "merkle_node"
    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class Idempotency(Table, table=True):
    """An idempotency key and the entries its first request appended."""

    __tablename__ = "idempotency"
    key: str = Field(primary_key=True, max_length=200)
    request_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    first_seq: int = big_integer()
    entry_count: int
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Charity(Table, table=True):
    __tablename__ = "charity"
    charity_id: str = Field(primary_key=True, max_length=43)
    name: str = Field(max_length=200)
    registration_no: str = Field(max_length=64)
    signer: str | None = Field(default=None, max_length=42)
    seq: int = big_integer()
    # ADR 0037: the entry that set ``signer`` (None: the charity.registered one, ``seq``).
    signer_seq: int | None = big_integer(nullable=True)


class Project(Table, table=True):
    __tablename__ = "project"
    project_id: str = Field(primary_key=True, max_length=43)
    charity_id: str = Field(index=True, max_length=43)
    title: str = Field(max_length=200)
    goal_amount: int = big_integer()
    currency: str = Field(max_length=3)
    seq: int = big_integer()
    closed: bool = Field(default=False)
    """ADR 0039: a ``project.closed`` entry ended it."""


class Donation(Table, table=True):
    __tablename__ = "donation"
    __table_args__ = (
        Index("ix_donation_charity_id_project_id_seq", "charity_id", "project_id", "seq"),
    )
    donation_id: str = Field(primary_key=True, max_length=43)
    charity_id: str = Field(max_length=43)
    project_id: str | None = Field(default=None, max_length=43)
    amount: int = big_integer()
    currency: str = Field(max_length=3)
    channel: str = Field(max_length=32)
    paid_at: str = Field(max_length=24)
    seq: int = big_integer()
    refunded: int = big_integer()
    allocated: int = big_integer()


class Disbursement(Table, table=True):
    __tablename__ = "disbursement"
    disbursement_id: str = Field(primary_key=True, max_length=43)
    charity_id: str = Field(index=True, max_length=43)
    project_id: str | None = Field(default=None, index=True, max_length=43)
    amount: int = big_integer()
    currency: str = Field(max_length=3)
    payee: str = Field(max_length=200)
    purpose: str = Field(max_length=500)
    seq: int = big_integer()
    allocated: int = big_integer()
    voided: bool


class Allocation(Table, table=True):
    __tablename__ = "allocation"
    allocation_id: str = Field(primary_key=True, max_length=43)
    donation_id: str = Field(index=True, max_length=43)
    disbursement_id: str = Field(index=True, max_length=43)
    amount: int = big_integer()
    seq: int = big_integer()
    reversed: bool


# -- matching funds (配捐, ADR 0040) -----------------------------------------------------


class Matcher(Table, table=True):
    __tablename__ = "matcher"
    matcher_id: str = Field(primary_key=True, max_length=43)
    name: str = Field(max_length=200)
    registration_no: str = Field(max_length=64)
    seq: int = big_integer()


class MatchPool(Table, table=True):
    __tablename__ = "match_pool"
    pool_id: str = Field(primary_key=True, max_length=43)
    matcher_id: str = Field(index=True, max_length=43)
    title: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    total: int = big_integer()
    ratio_percent: int
    cap_per_donation: int = big_integer()
    cap_per_payer_per_day: int = big_integer()
    min_interval_s: int
    starts_at: str = Field(max_length=24)
    ends_at: str = Field(max_length=24)
    day_offset_minutes: int
    project_ids: str = Field(sa_column=Column(Text, nullable=False))
    """The covered projects' ids, joined by spaces."""
    seq: int = big_integer()
    spent: int = big_integer()
    matches: int = big_integer()
    closed: bool


class Match(Table, table=True):
    """A match; ``match_id`` is also the matched money's row in ``donation``."""

    __tablename__ = "match"
    __table_args__ = (Index("ix_match_pool_id_payer_hash", "pool_id", "payer_hash"),)
    match_id: str = Field(primary_key=True, max_length=43)
    pool_id: str = Field(max_length=43)
    donation_id: str = Field(index=True, max_length=43)
    payer_hash: str = Field(max_length=66)
    amount: int = big_integer()
    paid_at: str = Field(max_length=24)
    seq: int = big_integer()
    reversed: bool


PROJECTION_TABLES = (
    "match",
    "match_pool",
    "matcher",
    "allocation",
    "disbursement",
    "donation",
    "project",
    "charity",
)
"""Projection tables, children first (the order to empty them in)."""


def table_of(model: type[SQLModel]) -> SaTable:
    """The SQLAlchemy table of a model (``__table__``, which SQLModel does not type)."""
    table: SaTable = model.__table__  # type: ignore[attr-defined]
    return table


ENTRY = table_of(JournalEntry)
ENTRY_REF = table_of(EntryRef)
NODE = table_of(MerkleNode)
IDEMPOTENCY = table_of(Idempotency)
CHARITY = table_of(Charity)
PROJECT = table_of(Project)
DONATION = table_of(Donation)
DISBURSEMENT = table_of(Disbursement)
ALLOCATION = table_of(Allocation)
MATCHER = table_of(Matcher)
MATCH_POOL = table_of(MatchPool)
MATCH = table_of(Match)


class CheckpointRow(Table, table=True):
    """A checkpoint anchored on chain, mirrored from the contract by the anchor worker.

    Unlike the journal this is a cache of the chain: a reorg that drops an anchor drops
    its row, and the worker anchors again.
    """

    __tablename__ = "checkpoint"
    checkpoint_index: int = Field(
        sa_column=Column(BigInteger, primary_key=True, autoincrement=False)
    )
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    root_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    chain_id: int = big_integer()
    contract: str = Field(max_length=42)
    tx_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    block_number: int = big_integer()
    block_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    anchored_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    confirmed: bool


CHECKPOINT = table_of(CheckpointRow)


class Donor(Table, table=True):
    """Who gave a donation, and the receipt secret: personal data, read by the operator only.

    Never part of the journal (which holds only the donor commitment); a row can be
    erased without touching the journal.
    """

    __tablename__ = "donor"
    donation_id: str = Field(primary_key=True, max_length=43)
    receipt_secret: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False))
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    anonymous: bool
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class ApiKey(Table, table=True):
    """An API key, stored as its SHA-256 only: a charity's or an auditor's."""

    __tablename__ = "api_key"
    key_hash: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    role: str = Field(max_length=16)
    charity_id: str | None = Field(default=None, max_length=43, index=True)
    label: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class EvidenceFile(Table, table=True):
    """An uploaded evidence file, by the SHA-256 of its bytes (the journal holds the hash)
    and the charity that uploaded it: two charities may hold the same bytes."""

    __tablename__ = "evidence_file"
    sha256: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    charity_id: str = Field(primary_key=True, max_length=43)
    media_type: str = Field(max_length=127)
    size: int = big_integer()
    filename: str | None = Field(default=None, max_length=255)
    public: bool = Field(default=False)
    """Listed as public evidence by some disbursement: anyone may download it."""
    uploaded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class CharityRegistration(Table, table=True):
    """Each registration number once: the charity registered with it (a service table).

    ``registration_key`` is ``ledger.entries.registration_key`` of the number in the
    journal; its primary key refuses a second charity with the same number, even when two
    registrations race. The journal itself may hold duplicates written before this table.
    """

    __tablename__ = "charity_registration"
    registration_key: str = Field(primary_key=True, max_length=64)
    charity_id: str = Field(max_length=43)


DONOR = table_of(Donor)
API_KEY = table_of(ApiKey)
EVIDENCE_FILE = table_of(EvidenceFile)
CHARITY_REGISTRATION = table_of(CharityRegistration)


class SignedCheckpoint(Table, table=True):
    """A checkpoint of the journal signed by the log key: a C2SP signed note (ADR 0031).

    One row per tree size, never changed: the log signs each size once (Ed25519 is
    deterministic, so signing a size again with the same key gives the same note).
    """

    __tablename__ = "signed_checkpoint"
    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    """The signed note exactly as served at ``/tlog/checkpoint``."""
    signed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


SIGNED_CHECKPOINT = table_of(SignedCheckpoint)
