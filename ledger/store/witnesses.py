"""Witnesses' cosignatures of the log's checkpoints, and where each witness stands (ADR 0035).

``witness_cosignature``: one row per checkpoint size and witness key, the note signature
line the witness returned (c2sp.org/tlog-cosignature), checked before it is kept and never
changed (append-only on PostgreSQL, like the journal). ``witness_state``: per witness key,
the size it last cosigned (or told us it holds, in a 409) and the outcome of the last
attempt: what the operator reads when a witness lags or refuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy.exc
from sqlalchemy import BigInteger, Column, String, Text, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Field

from ledger.store.rows import record_of
from ledger.store.tables import (
    CHECKPOINT,
    ENTRY,
    SIGNED_CHECKPOINT,
    Table,
    UtcDateTime,
    big_integer,
    table_of,
)
from ledger.store.tlog import SignedCheckpointRecord, SignedCheckpoints

MAX_DETAIL = 500
"""Characters of a witness's answer or error kept for the operator."""


class WitnessCosignature(Table, table=True):
    """A witness's cosignature of the checkpoint at ``tree_size``: a statement, kept as is."""

    __tablename__ = "witness_cosignature"
    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    witness_key: str = Field(sa_column=Column(String(400), primary_key=True))
    """The witness's verifier key (``name+keyid+base64(0x04 ‖ key)``)."""
    line: str = Field(sa_column=Column(Text, nullable=False))
    """The signature line, ``— <name> <base64>\\n``, exactly as appended to the note."""
    timestamp: int = big_integer()
    """The cosignature's own time (POSIX seconds), as the witness signed it."""
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class WitnessState(Table, table=True):
    """Where a witness stands for this log, and how the last attempt went."""

    __tablename__ = "witness_state"
    witness_key: str = Field(sa_column=Column(String(400), primary_key=True))
    known_size: int = big_integer()
    """The size the witness last cosigned for this log, as far as the log knows (0: none)."""
    cosigned_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    """When the log last received a cosignature from it."""
    attempted_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    outcome: str = Field(sa_column=Column(String(20), nullable=False))
    """``cosigned``, ``conflict`` (409), ``refused`` (422), ``forbidden`` (403),
    ``unknown_log`` (404), ``bad_answer``, ``unreachable``, ``not_sent`` or ``new``."""
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    failures: int = big_integer()
    """Attempts in a row that gave no cosignature (the backoff's exponent)."""


COSIGNATURE = table_of(WitnessCosignature)
STATE = table_of(WitnessState)


@dataclass(frozen=True)
class Cosignature:
    tree_size: int
    witness_key: str
    line: str
    timestamp: int
    received_at: datetime


@dataclass(frozen=True)
class Standing:
    """A witness's row of ``witness_state``."""

    witness_key: str
    known_size: int
    cosigned_at: datetime | None
    attempted_at: datetime | None
    outcome: str
    detail: str | None
    next_attempt_at: datetime | None
    failures: int


class Witnessing:
    """The two tables: cosignatures kept once, and each witness's standing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_cosignature(self, cosignature: Cosignature) -> None:
        """Keep a checked cosignature; a second one of the same size and key is dropped
        (the first stays: a row is never changed)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(COSIGNATURE.insert().values(**asdict(cosignature)))
        except sqlalchemy.exc.IntegrityError:
            pass

    def cosignatures(self, tree_size: int, keys: Iterable[str]) -> list[Cosignature]:
        """The kept cosignatures of ``tree_size`` by the given witness keys, in key order."""
        wanted = list(keys)
        if not wanted:
            return []
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(COSIGNATURE)
                .where(COSIGNATURE.c.tree_size == tree_size, COSIGNATURE.c.witness_key.in_(wanted))
                .order_by(COSIGNATURE.c.witness_key)
            ).all()
        return [record_of(Cosignature, row) for row in rows]

    def cosigned_sizes(
        self, keys: Iterable[str], at_least: int = 1, limit: int = 64
    ) -> dict[int, set[str]]:
        """The largest ``limit`` sizes cosigned by ``at_least`` of ``keys``, with who
        cosigned each."""
        wanted = list(keys)
        if not wanted:
            return {}
        with self.engine.connect() as connection:
            sizes = (
                select(COSIGNATURE.c.tree_size)
                .where(COSIGNATURE.c.witness_key.in_(wanted))
                .group_by(COSIGNATURE.c.tree_size)
                .having(func.count() >= at_least)
                .order_by(COSIGNATURE.c.tree_size.desc())
                .limit(limit)
                .subquery()
            )
            rows = connection.execute(
                select(COSIGNATURE.c.tree_size, COSIGNATURE.c.witness_key).where(
                    COSIGNATURE.c.tree_size.in_(select(sizes.c.tree_size)),
                    COSIGNATURE.c.witness_key.in_(wanted),
                )
            ).all()
        found: dict[int, set[str]] = {}
        for row in rows:
            found.setdefault(row.tree_size, set()).add(row.witness_key)
        return found

    def anchored_after(self, tree_size: int, limit: int) -> list[SignedCheckpointRecord]:
        """The newest ``limit`` signed checkpoints above ``tree_size`` that are anchored,
        oldest first (the order a witness must see them in)."""
        with self.engine.connect() as connection:
            sizes = connection.execute(
                select(SIGNED_CHECKPOINT.c.tree_size)
                .where(
                    SIGNED_CHECKPOINT.c.tree_size > tree_size,
                    SIGNED_CHECKPOINT.c.tree_size.in_(select(CHECKPOINT.c.tree_size)),
                )
                .order_by(SIGNED_CHECKPOINT.c.tree_size.desc())
                .limit(limit)
            ).scalars()
            found = sorted(sizes)
        signed = SignedCheckpoints(self.engine)
        return [record for size in found if (record := signed.get(size)) is not None]

    def signed(self, tree_size: int) -> SignedCheckpointRecord | None:
        """The log's signed checkpoint of ``tree_size``, if there is one."""
        return SignedCheckpoints(self.engine).get(tree_size)

    def latest_cosigned(self, witness_key: str) -> int:
        """The largest size ``witness_key`` cosigned (0: none)."""
        with self.engine.connect() as connection:
            size = connection.execute(
                select(COSIGNATURE.c.tree_size)
                .where(COSIGNATURE.c.witness_key == witness_key)
                .order_by(COSIGNATURE.c.tree_size.desc())
                .limit(1)
            ).scalar()
        return int(size or 0)

    def entry_time(self, seq: int) -> datetime | None:
        """When entry ``seq`` was recorded (the lag's clock), if it exists."""
        with self.engine.connect() as connection:
            at: datetime | None = connection.execute(
                select(ENTRY.c.at).where(ENTRY.c.seq == seq)
            ).scalar()
        return at

    def standing(self, witness_key: str) -> Standing | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(STATE).where(STATE.c.witness_key == witness_key)
            ).first()
        return None if row is None else record_of(Standing, row)

    def save_standing(self, standing: Standing) -> None:
        """Write a witness's standing (the row is replaced: it is state, not a statement)."""
        values = {
            "known_size": standing.known_size,
            "cosigned_at": standing.cosigned_at,
            "attempted_at": standing.attempted_at,
            "outcome": standing.outcome,
            "detail": None if standing.detail is None else standing.detail[:MAX_DETAIL],
            "next_attempt_at": standing.next_attempt_at,
            "failures": standing.failures,
        }
        with self.engine.begin() as connection:
            updated = connection.execute(
                STATE.update().where(STATE.c.witness_key == standing.witness_key).values(**values)
            ).rowcount
            if not updated:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            STATE.insert().values(witness_key=standing.witness_key, **values)
                        )
                except sqlalchemy.exc.IntegrityError:  # another process wrote it first
                    connection.execute(
                        STATE.update()
                        .where(STATE.c.witness_key == standing.witness_key)
                        .values(**values)
                    )
