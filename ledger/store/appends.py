"""The journal's write path: batches of requests checked, applied and written in one transaction.

``Appender`` is the part of ``Store`` that appends (ADR 0017): one lock, one tail read,
one idempotency query, one load of the books and one write per table for a whole batch,
one commit; each request succeeds or fails alone.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy.exc
from psycopg.rows import namedtuple_row
from sqlalchemy import Table, select, text
from sqlalchemy.engine import Connection, Engine

from ledger.accounting import (
    Books,
    PoolState,
    State,
)
from ledger.entries import (
    ACTOR,
    Entry,
    format_at,
    parse_at,
    parse_entry,
    validate_body,
)
from ledger.errors import (
    AccountingError,
    EntryError,
    IdempotencyConflictError,
    LedgerError,
    StoreError,
)
from ledger.merkle import CompactRange
from ledger.store import projections, writes
from ledger.store.copytext import array_literal, bulk_insert
from ledger.store.derived import BooksUndo, expand_fifo, load_matching, match_entries
from ledger.store.requests import (
    AppendRequest,
    AppendResult,
    BatchOutcome,
    CheckedRequest,
    Draft,
    FifoAllocation,
    MatchDonation,
    Request,
    check_not_ahead,
    request_hash,
)
from ledger.store.tables import ENTRY, IDEMPOTENCY
from ledger.store.tlog import check_bundle_fits

# pg_advisory_xact_lock key: the first 8 bytes of SHA-256("shanlian.journal.append"),
# as a signed 64-bit integer, so no other application's lock collides with ours.
APPEND_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"shanlian.journal.append").digest()[:8], "big", signed=True
)


class _Prepared(NamedTuple):
    """A request of a batch, checked: its position in the batch, drafts and key.

    A named tuple: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, ~0.5 ms more a batch of 1,000 requests.
    """

    position: int
    requests: list[Request]
    key: str | None
    request_hash: bytes | None
    item: AppendRequest


def _connection_lost(error: BaseException) -> bool:
    """The database went away: retrying each request alone would not help."""
    return isinstance(error, sqlalchemy.exc.DBAPIError) and (
        error.connection_invalidated or isinstance(error, sqlalchemy.exc.OperationalError)
    )


class _Tail(NamedTuple):
    """The journal's end, read under the append lock: its size, its last entry's time
    and leaf (``None`` and ``""`` for an empty journal)."""

    size: int
    at: datetime | None
    leaf: str


class _Edge(NamedTuple):
    """The tree's right edge after a committed batch, kept for the next one."""

    size: int
    leaf: str
    """The last entry's leaf: with ``size``, what the next batch's tail must read."""
    frontier: CompactRange


def _after(last: Sequence[Any] | None) -> _Tail:
    """The journal's tail, from its last ``(seq, leaf)`` row."""
    if last is None:
        return _Tail(0, None, "")
    seq, leaf = last[0], last[1]
    return _Tail(seq + 1, parse_at(json.loads(leaf)["at"]), leaf)


class Appender:
    """Appends to the journal in ``engine`` (the write half of ``Store``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        # The Merkle frontier this process's last batch left (``_take_edge``): the next
        # batch starts from it instead of reading the tree's edge again, when the tail
        # it reads under the lock is the one that batch committed.
        self._edge: _Edge | None = None
        self._edge_lock = threading.Lock()

    def append(
        self,
        requests: Sequence[Request],
        *,
        idempotency_key: str | None = None,
        request_hash: bytes | None = None,
        at: datetime | None = None,
        alongside: Callable[[Connection, list[Entry]], None] | None = None,
        rows: Sequence[tuple[Table, Mapping[str, Any]]] = (),
    ) -> AppendResult:
        """Validate ``requests`` and append them as consecutive entries, atomically.

        A batch of one (``append_batch``).

        Args:
            requests: drafts (and FIFO allocations) in the order to append.
            idempotency_key: when given, a repeat with the same key and request returns
                the first result and appends nothing.
            request_hash: what "the same request" means for the key (default: a hash
                of ``requests``).
            at: the append time (default: now); never earlier than the last entry's,
                never later than now (``CLOCK_TOLERANCE``).
            alongside: called inside the append's transaction with the new entries, to
                write rows that must exist exactly when the entries do (the donor table);
                not called when an idempotency key replays an earlier result.
            rows: ``(table, row)`` pairs inserted with the entries (like ``alongside``,
                but written in bulk with the other requests of a batch).

        Returns:
            The appended entries (or, for a repeated key, the entries first appended).

        Raises:
            EntryError: an entry is malformed (the field is named); nothing is stored.
            AccountingError: an entry breaks a rule of §3.2; nothing is stored.
            IdempotencyConflictError: the key was used for another request.
        """
        item = AppendRequest(requests, idempotency_key, request_hash, at, alongside, rows)
        return self.append_request(item)

    def append_request(self, item: AppendRequest) -> AppendResult:
        """``append`` of a request already put together (a batch of one).

        Raises:
            EntryError, AccountingError, IdempotencyConflictError: as ``append``.
        """
        result = self.append_batch([item]).results[0]
        if isinstance(result, Exception):
            raise result
        assert result is not None  # append_batch answers every request
        return result

    def append_batch(self, items: Sequence[AppendRequest]) -> BatchOutcome:
        """Append many callers' requests in one transaction; each succeeds or fails alone.

        One lock, one tail read, one idempotency query, one load of the books and one
        write per table for the whole batch, one commit. The requests are applied in
        order, each exactly as ``append`` alone would apply it at that point: a request
        that is malformed, breaks an accounting rule or reuses a key for another request
        gets its error and leaves no trace on the books the later ones see; the rest
        commit. A key repeated inside the batch replays the first (accepted) request's
        result. If the transaction fails before its commit (an id already taken, a row
        the database refuses), every request is appended again on its own, so that
        only the one at fault fails; if the commit itself fails, its outcome is
        unknown and every request of the batch gets that error (ADR 0017).

        Args:
            items: the requests, in the order to apply them.

        Returns:
            One result per item, in order: an ``AppendResult`` or the error that
            refused it (``EntryError``, ``AccountingError``,
            ``IdempotencyConflictError``, or a database error).
        """
        outcome = BatchOutcome(results=[None] * len(items))
        prepared: list[_Prepared] = []
        for index, item in enumerate(items):
            try:
                prepared.append(self._prepare(index, item))
            except LedgerError as error:
                outcome.results[index] = error
        if not prepared:
            return outcome
        committing = False
        try:
            with self.engine.connect() as connection, connection.begin():
                edge = self._append_prepared(connection, prepared, outcome)
                committing = True
                started = time.perf_counter()
            outcome.commit_s = time.perf_counter() - started
            if edge is not None:
                with self._edge_lock:
                    self._edge = edge
        except Exception as error:
            if committing or _connection_lost(error):
                # The commit's outcome is unknown (or the database is gone): nothing may
                # be appended again here; a caller with an idempotency key retries.
                for p in prepared:
                    outcome.results[p.position] = error
                return outcome
            if len(prepared) == 1:
                only = prepared[0]
                outcome.results[only.position] = self._explain_failure(only.requests, error)
                return outcome
            # Rolled back: one request made the database refuse the batch. Alone, it
            # fails alone.
            outcome.fell_back = True
            for p in prepared:
                single = self.append_batch([items[p.position]])
                outcome.results[p.position] = single.results[0]
                outcome.commit_s += single.commit_s
        return outcome

    def _explain_failure(self, requests: Sequence[Request], error: Exception) -> Exception:
        if isinstance(error, (sqlalchemy.exc.IntegrityError, self._driver_integrity_error)):
            explained = self._explain_integrity_error(requests)
            explained.__cause__ = error
            return explained
        return error

    def check(self, item: AppendRequest) -> AppendRequest:
        """Validate a request before it joins a batch (in the caller's thread).

        ``append_batch`` then skips the checks for it: a sequencer's single thread
        spends its time on appending, while the callers validate in parallel with the
        batch in flight.

        Raises:
            EntryError: a draft is malformed, or the idempotency key is not 1 to 200
                characters; nothing is stored.
        """
        if isinstance(item, CheckedRequest):
            return item
        prepared = self._prepare(0, item)
        return CheckedRequest(
            prepared.requests,
            item.idempotency_key,
            prepared.request_hash,
            item.at,
            item.alongside,
            item.rows,
        )

    def _prepare(self, index: int, item: AppendRequest) -> _Prepared:
        if isinstance(item, CheckedRequest):
            requests = list(item.requests)
            return _Prepared(index, requests, item.idempotency_key, item.request_hash, item)
        if not item.requests:
            raise EntryError("entries", "nothing to append")
        check_not_ahead(item.at)
        checked = [self._check(r, i) for i, r in enumerate(item.requests)]
        key, hashed = item.idempotency_key, item.request_hash
        if key is not None:
            if not 0 < len(key) <= 200:
                raise EntryError("idempotency_key", "must be 1 to 200 characters")
            hashed = hashed or request_hash(item.requests)
        return _Prepared(index, checked, key, hashed, item)

    def _take_edge(self, tail: _Tail) -> CompactRange | None:
        """The frontier the last committed batch left, if the journal still ends there.

        Taken, not shared: the batch extends it, and only a commit puts one back (or a
        refused lone request that never extended it). A journal that another process
        has appended to since ends elsewhere, and the batch reads the edge from the
        tree's stored nodes instead.
        """
        with self._edge_lock:
            edge, self._edge = self._edge, None
        if edge is None or edge.size != tail.size or edge.leaf != tail.leaf:
            return None
        return edge.frontier

    def _append_prepared(
        self, connection: Connection, prepared: Sequence[_Prepared], outcome: BatchOutcome
    ) -> _Edge | None:
        """The batch's transaction: apply each request in order, write what was accepted.

        Returns:
            The tree's right edge after the batch, for the next one once this commits.
        """
        started = time.perf_counter()
        keys = [p.key for p in prepared if p.key is not None]
        earlier, tail = self._open(connection, keys)
        size, last_at = tail.size, tail.at
        outcome.lock_s = time.perf_counter() - started
        outcome.size_before = size
        pairs = [(r.kind, r.body) for p in prepared for r in p.requests if isinstance(r, Draft)]
        fifo_ids = [
            r.disbursement_id for p in prepared for r in p.requests if isinstance(r, FifoAllocation)
        ]
        books = projections.load_books(connection, pairs, fifo_ids)
        matching = [r for p in prepared for r in p.requests if isinstance(r, MatchDonation)]
        pools = load_matching(connection, books, matching) if matching else []
        now = datetime.now(UTC)
        entries: list[Entry] = []
        accepted: list[tuple[_Prepared, list[Entry]]] = []
        in_batch: dict[str, tuple[bytes | None, list[Entry]]] = {}
        replays: list[tuple[_Prepared, Any]] = []
        same_as: list[tuple[_Prepared, list[Entry]]] = []
        stamped: tuple[datetime | None, str] = (None, "")
        parsed: tuple[str, datetime | None] = ("", None)
        # The rows are written as they are made (``EntryWriter``): PostgreSQL inserts
        # them while the later requests are built; leaving the block writes the rest. A
        # batch's only request streams its own rows as its drafts are applied.
        alone = len(prepared) == 1
        with writes.EntryWriter(connection, size, self._take_edge(tail)) as writer:
            for p in prepared:
                if p.key is not None:
                    row = earlier.get(p.key)
                    seen = in_batch.get(p.key)
                    if row is not None or seen is not None:
                        stored_hash = bytes(row.request_hash) if row is not None else seen[0]  # type: ignore[index]
                        if stored_hash != p.request_hash:
                            outcome.results[p.position] = IdempotencyConflictError(p.key)
                        elif row is not None:
                            replays.append((p, row))
                        else:
                            same_as.append((p, seen[1]))  # type: ignore[index]
                        continue
                moment = p.item.at or now
                moment = max(moment, last_at) if last_at else moment
                if moment != stamped[0]:  # most requests of a batch share one moment: format once
                    stamped = (moment, format_at(moment))
                stamp = stamped[1]
                created = len(books.created)
                try:
                    made = self._build(
                        writer.reads,
                        books,
                        p.requests,
                        size + len(entries),
                        stamp,
                        pools,
                        stream=writer.add if alone else None,
                    )
                except EntryError as error:  # AccountingError too
                    if alone:  # some of its rows may be sent: roll back (append_batch)
                        frontier = writer.frontier
                        if frontier is not None and frontier.size == size:  # not extended
                            with self._edge_lock:
                                self._edge = _Edge(size, tail.leaf, frontier)
                        raise
                    outcome.results[p.position] = error
                    continue
                if stamp != parsed[0]:
                    parsed = (stamp, parse_at(stamp))
                last_at = parsed[1]
                entries += made
                if not alone:
                    writer.add(made, books.created[created:])
                accepted.append((p, made))
                if p.key is not None:
                    in_batch[p.key] = (p.request_hash, made)
            outcome.build_s = time.perf_counter() - started - outcome.lock_s
        if entries:
            projections.write_books(connection, books, writer.written)
            tables: dict[tuple[Table, tuple[str, ...]], list[Mapping[str, Any]]] = {}
            for p, _made in accepted:
                for table, row in p.item.rows:
                    tables.setdefault((table, tuple(row)), []).append(row)
            for (table, _columns), rows in tables.items():
                bulk_insert(connection, table, rows)
            for p, made in accepted:
                if p.item.alongside is not None:
                    p.item.alongside(connection, made)
            writes.write_keys(
                connection,
                [(p.key, p.request_hash, made) for p, made in accepted if p.key is not None],
            )
        replayed = self._read_ranges(
            connection, [(row.first_seq, row.first_seq + row.entry_count) for _, row in replays]
        )
        for p, row in replays:
            outcome.results[p.position] = AppendResult(
                entries=[
                    replayed[seq] for seq in range(row.first_seq, row.first_seq + row.entry_count)
                ],
                replayed=True,
            )
        for p, made in accepted:
            outcome.results[p.position] = AppendResult(entries=made)
        for p, made in same_as:
            outcome.results[p.position] = AppendResult(entries=made, replayed=True)
        outcome.entries = len(entries)
        outcome.write_s = time.perf_counter() - started - outcome.lock_s - outcome.build_s
        frontier = writer.frontier
        if frontier is None:
            return None
        last_leaf = entries[-1].leaf_bytes.decode() if entries else tail.leaf
        return _Edge(frontier.size, last_leaf, frontier)

    @property
    def _driver_integrity_error(self) -> type[Exception]:
        """The driver's own IntegrityError (COPY raises it outside SQLAlchemy)."""
        dbapi = self.engine.dialect.loaded_dbapi
        error: type[Exception] = dbapi.IntegrityError
        return error

    def _explain_integrity_error(self, requests: Sequence[Request]) -> Exception:
        """Name the draft whose new id was taken: the primary keys refused the batch."""
        drafts = [(r.kind, r.body) if isinstance(r, Draft) else ("", {}) for r in requests]
        with self.engine.connect() as connection:
            taken = projections.existing_ids(connection, drafts)
        if not taken:
            return StoreError("the database refused the append; see the cause")
        index, key = taken[0]
        value = drafts[index][1][key]
        return AccountingError(f"entries[{index}].body.{key}", f"{value!r} already exists")

    def _check(self, request: Request, index: int) -> Request:
        actor = request.actor
        if not isinstance(actor, str) or not ACTOR.fullmatch(actor):
            raise EntryError(f"entries[{index}].actor", "must be platform or charity:<id>")
        if isinstance(request, (FifoAllocation, MatchDonation)):
            return request
        return Draft(
            kind=request.kind,
            body=validate_body(request.kind, request.body),
            actor=actor,
            sig=request.sig,
        )

    def _open(self, connection: Connection, keys: Sequence[str]) -> tuple[dict[str, Any], _Tail]:
        """Take the append lock, then read the batch's keys and the journal's tail.

        On PostgreSQL the three go in one pipeline: one round trip instead of four (the
        transaction's ``BEGIN`` too) while the sequencer holds no lock yet. PostgreSQL
        runs them in order, and each read takes its snapshot when it starts, after the
        lock is granted: it sees every batch committed before. On SQLite the engine
        began this transaction with ``BEGIN IMMEDIATE``, which is the lock.

        Returns:
            The stored rows of ``keys`` by key, and the journal's tail.
        """
        wanted = sorted(set(keys))
        if not self.is_postgres:
            return self._idempotency_rows(connection, wanted), self._tail(connection)
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.pipeline():
            driver.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK_KEY,))
            # One parameter, an array literal written here: psycopg's array dumper and an
            # IN list of a thousand parameters each cost more than the lookup itself. Never
            # prepared: a generic plan knows nothing of the array and, on a young table,
            # scans every row for each key — each batch slower than the last.
            stored = driver.cursor(row_factory=namedtuple_row)
            stored.execute(
                "SELECT key, request_hash, first_seq, entry_count FROM idempotency "
                "WHERE key = ANY(CAST(%s AS text[]))",
                (array_literal(wanted),),
                prepare=False,
            )
            tail = driver.cursor()
            tail.execute("SELECT seq, leaf FROM entry ORDER BY seq DESC LIMIT 1")
        earlier = {row.key: row for row in stored.fetchall()}
        return earlier, _after(tail.fetchone())

    def _lock(self, connection: Connection) -> None:
        """The append lock alone (a rebuild of the projections holds it too)."""
        if self.is_postgres:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
        # SQLite: the engine began this transaction with BEGIN IMMEDIATE.

    def _idempotency_rows(self, connection: Connection, wanted: Sequence[str]) -> dict[str, Any]:
        """The stored rows of these idempotency keys (SQLite: a thousand at a time)."""
        found: dict[str, Any] = {}
        for start in range(0, len(wanted), 1000):
            rows = connection.execute(
                select(IDEMPOTENCY).where(IDEMPOTENCY.c.key.in_(wanted[start : start + 1000]))
            )
            found.update((row.key, row) for row in rows)
        return found

    def _read_ranges(
        self, connection: Connection, ranges: Sequence[tuple[int, int]]
    ) -> dict[int, Entry]:
        """Entries ``start <= seq < stop`` of each range, by seq (replayed results)."""
        seqs = sorted({seq for start, stop in ranges for seq in range(start, stop)})
        found: dict[int, Entry] = {}
        for start in range(0, len(seqs), 1000):
            rows = connection.execute(
                select(ENTRY.c.leaf).where(ENTRY.c.seq.in_(seqs[start : start + 1000]))
            )
            for row in rows:
                entry = parse_entry(json.loads(row.leaf))
                found[entry.seq] = entry
        return found

    def _tail(self, connection: Connection) -> _Tail:
        return _after(
            connection.execute(
                select(ENTRY.c.seq, ENTRY.c.leaf).order_by(ENTRY.c.seq.desc()).limit(1)
            ).first()
        )

    def _build(
        self,
        reads: Callable[[], Connection],
        books: Books,
        requests: Sequence[Request],
        first_seq: int,
        stamp: str,
        pools: Sequence[PoolState] = (),
        stream: Callable[[Sequence[Entry], Sequence[State]], None] | None = None,
    ) -> list[Entry]:
        """One request's entries, applied to ``books``; on an error, ``books`` is as before.

        ``Books.apply`` changes nothing when an entry breaks a rule, so a request of one
        draft needs no undo; a longer one (a disbursement with its allocations, a void
        with its reversals) may fail on a later draft, and its earlier drafts are taken
        back off the books (``BooksUndo``), so the next request of the batch sees the
        books exactly as a separate append would.

        With ``stream`` (the batch's only request: its error rolls the transaction
        back), the entries and the states they create are handed to it as they are
        made, a chunk at a time, instead of all at the end (the caller's ``add``), and
        no undo is kept: an error leaves nothing to take back.
        """
        undo = (
            BooksUndo(books)
            if stream is None and (len(requests) > 1 or isinstance(requests[0], FifoAllocation))
            else None
        )
        entries: list[Entry] = []
        streamed, created = 0, len(books.created)
        try:
            for index, request in enumerate(requests):
                if isinstance(request, MatchDonation):
                    if undo is not None:
                        for pool in pools:
                            undo.keep_state(pool)
                    entries += match_entries(books, request, pools, first_seq + len(entries), stamp)
                    continue
                drafts = (
                    expand_fifo(reads(), books, request, index)
                    if isinstance(request, FifoAllocation)
                    else [request]
                )
                for draft in drafts:
                    entry = Entry(
                        seq=first_seq + len(entries),
                        kind=draft.kind,
                        at=stamp,
                        actor=draft.actor,
                        body=draft.body,
                        sig=draft.sig,
                    )
                    check_bundle_fits(entry, f"entries[{index}]")  # tlog-tiles, ADR 0031
                    if undo is not None:
                        undo.keep(entry.body)
                    try:
                        books.apply(entry)
                    except AccountingError as error:
                        raise AccountingError(
                            f"entries[{index}].{error.field}", error.message
                        ) from None
                    entries.append(entry)
                    if stream is not None and len(entries) - streamed >= writes.ENTRY_CHUNK:
                        stream(entries[streamed:], books.created[created:])
                        streamed, created = len(entries), len(books.created)
        except EntryError:
            if undo is not None:
                undo.restore()
            raise
        if stream is not None:
            stream(entries[streamed:], books.created[created:])
        return entries
