"""Anchored checkpoints as the service last saw them on chain, and the anchoring lock.

The store never talks to the chain: the anchor worker (in the service layer) reads the
contract and records here what it found, so that proof bundles and pages can be served
without a chain call per request.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import sqlalchemy.exc
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine

from ledger.store.rows import all_rows, first_row
from ledger.store.tables import CHECKPOINT

# pg_try_advisory_lock key of the anchoring leader (session-level, unlike the append
# lock): the first 8 bytes of SHA-256("shanlian.anchor.leader"), signed.
LEADER_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"shanlian.anchor.leader").digest()[:8], "big", signed=True
)


@dataclass(frozen=True)
class AnchoredCheckpoint:
    """A checkpoint found in the LedgerAnchor contract, with the transaction that put it there.

    Attributes:
        checkpoint_index: its index in the contract, from 0.
        tree_size: entries covered.
        root_hash: the journal's Merkle root at ``tree_size``.
        chain_id: the chain.
        contract: the LedgerAnchor address (0x lowercase hex).
        tx_hash: the anchoring transaction.
        block_number: the block that holds it.
        block_hash: that block's hash (a reorg changes it).
        anchored_at: the block's timestamp.
        confirmed: the block has the configured number of confirmations.
    """

    checkpoint_index: int
    tree_size: int
    root_hash: bytes
    chain_id: int
    contract: str
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    anchored_at: datetime
    confirmed: bool


def _from_row(row: Any) -> AnchoredCheckpoint:
    values = dict(row._mapping)
    for key in ("root_hash", "tx_hash", "block_hash"):
        values[key] = bytes(values[key])
    return AnchoredCheckpoint(**values)


class CheckpointLog:
    """The ``checkpoint`` table: what the chain holds, as last reconciled."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def all(self) -> list[AnchoredCheckpoint]:
        """Every recorded checkpoint, by index."""
        query = select(CHECKPOINT).order_by(CHECKPOINT.c.checkpoint_index)
        return all_rows(self.engine, query, _from_row)

    def anchored_since(self, at: datetime) -> list[AnchoredCheckpoint]:
        """The recorded checkpoints whose block is dated ``at`` or later, by index (what the
        anchoring budget counts)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(CHECKPOINT)
                .where(CHECKPOINT.c.anchored_at >= at)
                .order_by(CHECKPOINT.c.checkpoint_index)
            )
            return [_from_row(row) for row in rows]

    def latest(self, *, confirmed_only: bool = False) -> AnchoredCheckpoint | None:
        """The checkpoint with the highest index (optionally: the highest confirmed one)."""
        query = select(CHECKPOINT).order_by(CHECKPOINT.c.checkpoint_index.desc()).limit(1)
        if confirmed_only:
            query = query.where(CHECKPOINT.c.confirmed.is_(True))
        return first_row(self.engine, query, _from_row)

    def get(self, checkpoint_index: int) -> AnchoredCheckpoint | None:
        """The checkpoint with that index, if recorded."""
        query = select(CHECKPOINT).where(CHECKPOINT.c.checkpoint_index == checkpoint_index)
        return first_row(self.engine, query, _from_row)

    def covering(self, seq: int, *, confirmed_only: bool = False) -> AnchoredCheckpoint | None:
        """The latest checkpoint whose tree contains entry ``seq``."""
        query = (
            select(CHECKPOINT)
            .where(CHECKPOINT.c.tree_size > seq)
            .order_by(CHECKPOINT.c.checkpoint_index.desc())
            .limit(1)
        )
        if confirmed_only:
            query = query.where(CHECKPOINT.c.confirmed.is_(True))
        return first_row(self.engine, query, _from_row)

    def first_covering(self, seq: int) -> AnchoredCheckpoint | None:
        """The first checkpoint whose tree contains entry ``seq``: when it went on chain."""
        query = (
            select(CHECKPOINT)
            .where(CHECKPOINT.c.tree_size > seq)
            .order_by(CHECKPOINT.c.checkpoint_index)
            .limit(1)
        )
        return first_row(self.engine, query, _from_row)

    def newest(
        self, limit: int, *, before: int | None = None
    ) -> tuple[list[AnchoredCheckpoint], int]:
        """Up to ``limit`` checkpoints, newest first, and how many are recorded in all.

        Args:
            limit: checkpoints to return.
            before: only checkpoints with a smaller index (a page's cursor).
        """
        query = select(CHECKPOINT).order_by(CHECKPOINT.c.checkpoint_index.desc()).limit(limit)
        if before is not None:
            query = query.where(CHECKPOINT.c.checkpoint_index < before)
        with self.engine.connect() as connection:
            rows = [_from_row(row) for row in connection.execute(query)]
            count = connection.execute(select(func.count()).select_from(CHECKPOINT)).scalar_one()
        return rows, int(count)

    def indexes_by_hash(self, digest: bytes) -> list[int]:
        """The indexes of the checkpoints anchored by transaction ``digest`` or with that root."""
        query = select(CHECKPOINT.c.checkpoint_index).where(
            (CHECKPOINT.c.tx_hash == digest) | (CHECKPOINT.c.root_hash == digest)
        )
        with self.engine.connect() as connection:
            return [int(index) for index in connection.execute(query).scalars()]

    def record(self, checkpoint: AnchoredCheckpoint) -> None:
        """Insert or replace the row for ``checkpoint.checkpoint_index``."""
        values = dict(vars(checkpoint))
        with self.engine.begin() as connection:
            connection.execute(
                CHECKPOINT.delete().where(
                    (CHECKPOINT.c.checkpoint_index == checkpoint.checkpoint_index)
                    | (CHECKPOINT.c.tree_size == checkpoint.tree_size)
                )
            )
            connection.execute(CHECKPOINT.insert().values(**values))

    def forget(self, *, from_index: int = 0) -> int:
        """Drop the rows from ``from_index`` on (the chain no longer holds them)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                CHECKPOINT.delete().where(CHECKPOINT.c.checkpoint_index >= from_index)
            )
        return int(result.rowcount or 0)


class LeaderLock:
    """The outcome of ``leader_lock``: true while this process leads the anchoring.

    On PostgreSQL the lock lives exactly as long as the session that took it: a restart
    of the server, or a cut connection, releases it without telling anyone. ``held()``
    asks that session whether it is still alive; once it was not, the lock stays lost
    (the connection may reconnect, but not with the lock).
    """

    def __init__(self, acquired: bool, connection: Connection | None = None) -> None:
        self.acquired = acquired
        self._connection = connection

    def __bool__(self) -> bool:
        return self.acquired

    def held(self) -> bool:
        """Whether this process still holds the lock (one round trip on PostgreSQL)."""
        if not self.acquired or self._connection is None:
            return self.acquired
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except sqlalchemy.exc.DBAPIError:
            self.acquired = False
        return self.acquired


@contextmanager
def leader_lock(engine: Engine) -> Iterator[LeaderLock]:
    """Try to become the one anchoring process; yields whether this process is it.

    PostgreSQL: a session-level advisory lock held on a dedicated connection for as
    long as the block runs (released if the process dies, or the session ends: check
    ``LeaderLock.held()`` before acting as the leader). SQLite: an exclusive ``flock``
    on a file beside the database.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            acquired = bool(
                connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
                ).scalar()
            )
            connection.commit()
            lock = LeaderLock(acquired, connection)
            try:
                yield lock
            finally:
                if lock.acquired:
                    try:
                        connection.execute(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY}
                        )
                        connection.commit()
                    except sqlalchemy.exc.DBAPIError:
                        pass  # the session is gone, and its lock with it
        return
    database = engine.url.database or ""
    path = f"{database}.anchor.lock" if database and database != ":memory:" else None
    if path is None:
        yield LeaderLock(True)
        return
    handle: IO[str] = open(path, "a")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            acquired = True
        except BlockingIOError:
            acquired = False
        yield LeaderLock(acquired)
    finally:
        handle.close()
