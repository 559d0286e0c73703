"""The journal store: gapless, append-only, Merkle-logged (DESIGN.md §3–§4).

Appends are serialized (a PostgreSQL transaction-level advisory lock, SQLite's
``BEGIN IMMEDIATE``), validated against the accounting rules, and written in one
transaction together with the Merkle nodes they complete and the projections they
change — or not at all. The write path is ``ledger.store.appends`` (``Store`` is an
``Appender``), the values it takes ``ledger.store.requests``, and ``verify``'s checks
``ledger.store.verify``: import their names from there. ``Draft`` and
``FifoAllocation``, what ``append`` is called with, are importable from here too, as the
README's example does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ledger.accounting import Books
from ledger.entries import Entry, parse_entry
from ledger.errors import ProofSizeError
from ledger.merkle import NodeId, consistency_plan, inclusion_plan, plan_nodes, resolve, root_plan
from ledger.store import migrate, projections
from ledger.store.appends import Appender
from ledger.store.engine import make_engine
from ledger.store.requests import Draft, FifoAllocation
from ledger.store.tables import ENTRY, ENTRY_REF
from ledger.store.tiles import read_nodes
from ledger.store.verify import Verification, verify_journal

__all__ = ["Draft", "FifoAllocation", "Store"]


def _consistency_plan(first: int, second: int) -> list[list[NodeId]]:
    if first == 0 or first == second:  # the empty proof
        if not 0 <= first <= second:
            raise ProofSizeError(f"no consistency proof from {first} to {second}")
        return []
    return consistency_plan(first, second)


_SIZE = select(func.max(ENTRY.c.seq))
"""Built once: every proof asks it first."""


def _size(connection: Connection) -> int:
    value = connection.execute(_SIZE).scalar()
    return 0 if value is None else int(value) + 1


class Store(Appender):
    """The journal, its Merkle log and its projections in one SQL database.

    Appending (``append``, ``append_batch``, ``check``) is ``Appender``'s; reading,
    proofs, projections and verification are here.
    """

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, **engine_options: Any) -> Store:
        """Open the store at ``url``, migrating the schema to the latest revision."""
        engine = make_engine(url, **engine_options)
        if upgrade:
            migrate.upgrade(engine)
        return cls(engine)

    def size(self) -> int:
        """Number of entries in the journal (the Merkle tree's size)."""
        with self.engine.connect() as connection:
            return _size(connection)

    def _resolve(self, size: int, planned: Callable[[], list[list[NodeId]]]) -> list[bytes]:
        """The hashes of the plan ``planned()`` makes in the tree of ``size`` entries, once
        the journal is known to hold that many: the check and the nodes on one connection
        (each checkout of the pool costs two round trips, its ping and its rollback, and a
        proof is two queries)."""
        with self.engine.connect() as connection:
            current = _size(connection)
            if not 0 <= size <= current:
                raise ProofSizeError(f"the journal has {current} entries, not {size}")
            plan = planned()
            ids = sorted(plan_nodes(plan))
            nodes = dict(zip(ids, read_nodes(connection, ids), strict=True))
        return resolve(plan, nodes)

    def root(self, size: int | None = None) -> bytes:
        """The Merkle root at ``size`` entries (default: all), from O(log n) stored nodes."""
        if size is None:
            size = self.size()
        return self._resolve(size, lambda: [root_plan(size)])[0]

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        """The audit path of entry ``seq`` in the tree of ``size`` entries."""
        return self._resolve(size, lambda: inclusion_plan(seq, size))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """The proof that the tree at ``second`` extends the tree at ``first``."""
        return self._resolve(second, lambda: _consistency_plan(first, second))

    def leaf_hash(self, seq: int) -> bytes:
        """The stored leaf hash of entry ``seq``."""
        with self.engine.connect() as connection:
            return read_nodes(connection, [(0, seq)])[0]

    def entry(self, seq: int) -> Entry:
        """Entry ``seq`` as stored.

        Raises:
            KeyError: no such entry.
        """
        with self.engine.connect() as connection:
            entries = list(self._read(connection, seq, seq + 1))
        if not entries:
            raise KeyError(seq)
        return entries[0]

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[Entry]:
        """Entries with ``start <= seq < stop``, in order."""
        with self.engine.connect() as connection:
            yield from self._read(connection, start, stop)

    def entries_about(self, ref_id: str) -> list[Entry]:
        """Every entry whose body names ``ref_id`` (a donation, disbursement or allocation)."""
        with self.engine.connect() as connection:
            seqs = set(
                connection.execute(
                    select(ENTRY_REF.c.seq).where(ENTRY_REF.c.ref_id == ref_id)
                ).scalars()
            )
            created = projections.created_seq(connection, ref_id)
            if created is not None:
                seqs.add(created)
            rows = connection.execute(
                select(ENTRY.c.leaf).where(ENTRY.c.seq.in_(sorted(seqs))).order_by(ENTRY.c.seq)
            )
            return [parse_entry(json.loads(row.leaf)) for row in rows]

    def leaves(self, start: int = 0, stop: int | None = None, page: int = 1000) -> Iterator[bytes]:
        """Canonical leaf bytes of entries ``start <= seq < stop``: the journal export."""
        while stop is None or start < stop:
            end = start + page if stop is None else min(start + page, stop)
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(ENTRY.c.leaf)
                    .where(ENTRY.c.seq >= start, ENTRY.c.seq < end)
                    .order_by(ENTRY.c.seq)
                ).all()
            for row in rows:
                yield row.leaf.encode("utf-8")
            if len(rows) < end - start:
                return
            start = end

    def _read(self, connection: Connection, start: int, stop: int | None) -> Iterator[Entry]:
        query = select(ENTRY.c.leaf).where(ENTRY.c.seq >= start).order_by(ENTRY.c.seq)
        if stop is not None:
            query = query.where(ENTRY.c.seq < stop)
        for row in connection.execute(query):
            yield parse_entry(json.loads(row.leaf))

    # -- projections --------------------------------------------------------------------

    def rebuild_books(self) -> Books:
        """Replay the whole journal through the accounting rules."""
        books = Books()
        for entry in self.entries():
            books.apply(entry)
        return books

    def projection_differences(self) -> list[str]:
        """Where the live projections differ from a rebuild from the journal."""
        rebuilt = self.rebuild_books()
        with self.engine.connect() as connection:
            live = projections.read_books(connection)
        return projections.diff_books(live, rebuilt)

    def rebuild_projections(self) -> None:
        """Replace the projection tables with a rebuild from the journal."""
        with self.engine.begin() as connection:
            self._lock(connection)
            books = Books()
            for entry in self._read(connection, 0, None):
                books.apply(entry)
            projections.replace_books(connection, books)

    # -- verification -------------------------------------------------------------------

    def verify(self) -> Verification:
        """Check the stored journal against itself, naming every bad ``seq``.

        Checks that ``seq`` is gapless, that each row is a valid canonical entry whose
        columns match it, that its leaf hash is the stored level-0 node, that every
        stored interior node is the hash of its children, that the entries obey the
        accounting rules, and that the projections equal a rebuild. A tamperer who
        recomputes every stored hash is caught only against anchored checkpoints
        (the audit); this check needs no chain.
        """
        with self.engine.connect() as connection:
            return verify_journal(connection)
