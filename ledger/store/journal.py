"""The journal store: gapless, append-only, Merkle-logged (DESIGN.md §3–§4).

Appends are serialized (a PostgreSQL transaction-level advisory lock, SQLite's
``BEGIN IMMEDIATE``), validated against the accounting rules, and written in one
transaction together with the Merkle nodes they complete and the projections they
change — or not at all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy.exc
from sqlalchemy import Table, func, literal, select, text, tuple_
from sqlalchemy.engine import Connection, Engine

from ledger.accounting import (
    AllocationState,
    Books,
    CharityState,
    DisbursementState,
    DonationState,
    ProjectState,
    plan_fifo,
)
from ledger.entries import (
    ACTOR,
    Entry,
    JsonValue,
    canonical_bytes,
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
    ProofSizeError,
    StoreError,
)
from ledger.merkle import (
    CompactRange,
    NodeId,
    consistency_plan,
    inclusion_plan,
    node_hash,
    plan_nodes,
    resolve,
    root_plan,
)
from ledger.store import migrate, projections
from ledger.store.engine import make_engine
from ledger.store.tables import ENTRY, ENTRY_REF, IDEMPOTENCY, NODE
from ledger.store.tiles import check_bundle_fits

# pg_advisory_xact_lock key: the first 8 bytes of SHA-256("shanlian.journal.append"),
# as a signed 64-bit integer, so no other application's lock collides with ours.
APPEND_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"shanlian.journal.append").digest()[:8], "big", signed=True
)
_ID_ALPHABET = string.ascii_lowercase + string.digits
_ID_SPACE = len(_ID_ALPHABET) ** 20
FIFO_PAGE = 500
REF_KEYS = ("donation_id", "disbursement_id", "allocation_id")
"""Body fields whose ids get a timeline in ``entry_ref`` (charities and projects have
their own rows; their timelines would be every donation)."""
CLOCK_TOLERANCE = timedelta(minutes=2)
"""How far ahead of this host's clock an explicit append time may be (clock skew between
hosts). Journal time never goes back, so one entry stamped ahead would drag every later
entry into the future with it."""


def check_not_ahead(at: datetime | None, now: datetime | None = None) -> None:
    """Refuse an append time ahead of the clock.

    Args:
        at: the requested append time (None: now, always fine).
        now: the real clock (default: ``datetime.now(UTC)``).

    Raises:
        EntryError: ``at`` is more than ``CLOCK_TOLERANCE`` after ``now``, or naive.
    """
    if at is None:
        return
    if at.tzinfo is None:
        raise EntryError("at", "must be timezone-aware")
    now = now or datetime.now(UTC)
    if at > now + CLOCK_TOLERANCE:
        raise EntryError(
            "at",
            f"{format_at(at)} is ahead of the clock ({format_at(now)}); "
            "an entry cannot be recorded in the future",
        )


def new_id(prefix: str) -> str:
    """A fresh random id such as ``dn_k3v0…`` (20 characters of [a-z0-9], ~103 bits)."""
    # One draw from the OS for all 20 characters (not one a character): the same uniform
    # choice among 36**20 ids.
    number = secrets.randbelow(_ID_SPACE)
    characters = []
    for _ in range(20):
        number, digit = divmod(number, 36)
        characters.append(_ID_ALPHABET[digit])
    return prefix + "_" + "".join(characters)


@dataclass(frozen=True)
class Draft:
    """An entry to append: its kind, its body and who is accountable for it."""

    kind: str
    body: Mapping[str, Any]
    actor: str = "platform"


@dataclass(frozen=True)
class FifoAllocation:
    """Fund a disbursement from the oldest unallocated donations (DESIGN.md §3.2).

    Expanded inside the append lock into ``allocation.made`` entries, so the choice
    is made on the books exactly as they stand when the entries are written.
    """

    disbursement_id: str
    actor: str = "platform"


Request = Draft | FifoAllocation


@dataclass(frozen=True)
class AppendRequest:
    """One caller's append, as ``Store.append`` takes it: a value, to batch with others."""

    requests: Sequence[Request]
    idempotency_key: str | None = None
    request_hash: bytes | None = None
    at: datetime | None = None
    alongside: Callable[[Connection, list[Entry]], None] | None = None
    rows: Sequence[tuple[Table, Mapping[str, Any]]] = ()


@dataclass(frozen=True)
class AppendResult:
    """What an append wrote; ``replayed`` when an idempotency key returned an earlier result."""

    entries: list[Entry]
    replayed: bool = False

    @property
    def first_seq(self) -> int:
        return self.entries[0].seq


@dataclass(frozen=True)
class _CheckedRequest(AppendRequest):
    """A request ``Store.check`` validated: its drafts normalized, its request hash set."""


@dataclass
class BatchOutcome:
    """What ``Store.append_batch`` did: a result or an error per request, and its timings.

    Attributes:
        results: per request, in order: its ``AppendResult`` or the error refusing it.
        size_before: the journal's size when the batch took the lock.
        entries: entries the batch appended (0 after a fallback: see ``fell_back``).
        fell_back: the transaction failed before its commit and each request was
            appended on its own instead.
        lock_s: waiting for the append lock.
        build_s: reading the tail, keys and books, and applying the requests.
        write_s: writing entries, nodes, projections, side rows and keys.
        commit_s: the commit (the durable part).
    """

    results: list[AppendResult | Exception | None]
    size_before: int = 0
    entries: int = 0
    fell_back: bool = False
    lock_s: float = 0.0
    build_s: float = 0.0
    write_s: float = 0.0
    commit_s: float = 0.0


@dataclass(frozen=True)
class _Prepared:
    """A request of a batch, checked: its index in the batch, drafts and key."""

    index: int
    requests: list[Request]
    key: str | None
    request_hash: bytes | None
    item: AppendRequest


_STATE_FIELDS: dict[type, tuple[str, ...]] = {}


class _BooksUndo:
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

    def restore(self) -> None:
        books = self.books
        for state, values in self.before.values():
            for name, value in zip(_STATE_FIELDS[type(state)], values, strict=True):
                setattr(state, name, value)
        shelves: dict[type, dict[str, Any]] = {
            CharityState: books.charities,
            ProjectState: books.projects,
            DonationState: books.donations,
            DisbursementState: books.disbursements,
            AllocationState: books.allocations,
        }
        for state in books.created[self.created :]:
            del shelves[type(state)][getattr(state, projections.KEYS[type(state)])]
        del books.created[self.created :]
        while len(books.changed) > self.changed:
            books.changed.popitem()


def _connection_lost(error: BaseException) -> bool:
    """The database went away: retrying each request alone would not help."""
    return isinstance(error, sqlalchemy.exc.DBAPIError) and (
        error.connection_invalidated or isinstance(error, sqlalchemy.exc.OperationalError)
    )


@dataclass
class Verification:
    """The outcome of ``Store.verify``: every problem found, by ``seq``."""

    size: int
    problems: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        return min(p[0] for p in self.problems) if self.problems else None

    def add(self, seq: int, check: str, detail: str) -> None:
        self.problems.append((seq, check, detail))


def _request_hash(requests: Sequence[Request]) -> bytes:
    described: list[JsonValue] = [
        {"kind": r.kind, "body": dict(r.body), "actor": r.actor}
        if isinstance(r, Draft)
        else {"kind": "allocate.fifo", "disbursement_id": r.disbursement_id, "actor": r.actor}
        for r in requests
    ]
    return hashlib.sha256(canonical_bytes({"requests": described})).digest()


class Store:
    """The journal, its Merkle log and its projections in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, **engine_options: Any) -> Store:
        """Open the store at ``url``, migrating the schema to the latest revision."""
        engine = make_engine(url, **engine_options)
        if upgrade:
            migrate.upgrade(engine)
        return cls(engine)

    # -- appending --------------------------------------------------------------------

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
                self._append_prepared(connection, prepared, outcome)
                committing = True
                started = time.perf_counter()
            outcome.commit_s = time.perf_counter() - started
        except Exception as error:
            if committing or _connection_lost(error):
                # The commit's outcome is unknown (or the database is gone): nothing may
                # be appended again here; a caller with an idempotency key retries.
                for p in prepared:
                    outcome.results[p.index] = error
                return outcome
            if len(prepared) == 1:
                only = prepared[0]
                outcome.results[only.index] = self._explain_failure(only.requests, error)
                return outcome
            # Rolled back: one request made the database refuse the batch. Alone, it
            # fails alone.
            outcome.fell_back = True
            for p in prepared:
                single = self.append_batch([items[p.index]])
                outcome.results[p.index] = single.results[0]
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
        if isinstance(item, _CheckedRequest):
            return item
        prepared = self._prepare(0, item)
        return _CheckedRequest(
            prepared.requests,
            item.idempotency_key,
            prepared.request_hash,
            item.at,
            item.alongside,
            item.rows,
        )

    def _prepare(self, index: int, item: AppendRequest) -> _Prepared:
        if isinstance(item, _CheckedRequest):
            requests = list(item.requests)
            return _Prepared(index, requests, item.idempotency_key, item.request_hash, item)
        if not item.requests:
            raise EntryError("entries", "nothing to append")
        check_not_ahead(item.at)
        checked = [self._check(r, i) for i, r in enumerate(item.requests)]
        key, request_hash = item.idempotency_key, item.request_hash
        if key is not None:
            if not 0 < len(key) <= 200:
                raise EntryError("idempotency_key", "must be 1 to 200 characters")
            request_hash = request_hash or _request_hash(item.requests)
        return _Prepared(index, checked, key, request_hash, item)

    def _append_prepared(
        self, connection: Connection, prepared: Sequence[_Prepared], outcome: BatchOutcome
    ) -> None:
        """The batch's transaction: apply each request in order, write what was accepted."""
        started = time.perf_counter()
        self._lock(connection)
        outcome.lock_s = time.perf_counter() - started
        keys = [p.key for p in prepared if p.key is not None]
        earlier = self._idempotency_rows(connection, keys)
        size, last_at = self._tail(connection)
        outcome.size_before = size
        pairs = [(r.kind, r.body) for p in prepared for r in p.requests if isinstance(r, Draft)]
        fifo_ids = [
            r.disbursement_id for p in prepared for r in p.requests if isinstance(r, FifoAllocation)
        ]
        books = projections.load_books(connection, pairs, fifo_ids)
        now = datetime.now(UTC)
        entries: list[Entry] = []
        accepted: list[tuple[_Prepared, list[Entry]]] = []
        in_batch: dict[str, tuple[bytes | None, list[Entry]]] = {}
        replays: list[tuple[_Prepared, Any]] = []
        same_as: list[tuple[_Prepared, list[Entry]]] = []
        stamped: tuple[datetime | None, str] = (None, "")
        parsed: tuple[str, datetime | None] = ("", None)
        for p in prepared:
            if p.key is not None:
                row = earlier.get(p.key)
                seen = in_batch.get(p.key)
                if row is not None or seen is not None:
                    stored_hash = bytes(row.request_hash) if row is not None else seen[0]  # type: ignore[index]
                    if stored_hash != p.request_hash:
                        outcome.results[p.index] = IdempotencyConflictError(p.key)
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
            try:
                made = self._build(connection, books, p.requests, size + len(entries), stamp)
            except EntryError as error:  # AccountingError too
                outcome.results[p.index] = error
                continue
            if stamp != parsed[0]:
                parsed = (stamp, parse_at(stamp))
            last_at = parsed[1]
            entries += made
            accepted.append((p, made))
            if p.key is not None:
                in_batch[p.key] = (p.request_hash, made)
        outcome.build_s = time.perf_counter() - started - outcome.lock_s
        if entries:
            self._write(connection, entries, size)
            projections.write_books(connection, books)
            tables: dict[tuple[Table, tuple[str, ...]], list[Mapping[str, Any]]] = {}
            for p, _made in accepted:
                for table, row in p.item.rows:
                    tables.setdefault((table, tuple(row)), []).append(row)
            for (table, _columns), rows in tables.items():
                projections.bulk_insert(connection, table, rows)
            for p, made in accepted:
                if p.item.alongside is not None:
                    p.item.alongside(connection, made)
            created_at = datetime.now(UTC)
            projections.bulk_insert(
                connection,
                IDEMPOTENCY,
                [
                    {
                        "key": p.key,
                        "request_hash": p.request_hash,
                        "first_seq": made[0].seq,
                        "entry_count": len(made),
                        "created_at": created_at,
                    }
                    for p, made in accepted
                    if p.key is not None
                ],
            )
        replayed = self._read_ranges(
            connection, [(row.first_seq, row.first_seq + row.entry_count) for _, row in replays]
        )
        for p, row in replays:
            outcome.results[p.index] = AppendResult(
                entries=[
                    replayed[seq] for seq in range(row.first_seq, row.first_seq + row.entry_count)
                ],
                replayed=True,
            )
        for p, made in accepted:
            outcome.results[p.index] = AppendResult(entries=made)
        for p, made in same_as:
            outcome.results[p.index] = AppendResult(entries=made, replayed=True)
        outcome.entries = len(entries)
        outcome.write_s = time.perf_counter() - started - outcome.lock_s - outcome.build_s

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
        if isinstance(request, FifoAllocation):
            return request
        return Draft(kind=request.kind, body=validate_body(request.kind, request.body), actor=actor)

    def _lock(self, connection: Connection) -> None:
        if self.is_postgres:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
        # SQLite: the engine began this transaction with BEGIN IMMEDIATE.

    def _idempotency_rows(self, connection: Connection, keys: Sequence[str]) -> dict[str, Any]:
        """The stored rows of these idempotency keys: one query for a batch."""
        found: dict[str, Any] = {}
        wanted = sorted(set(keys))
        if not wanted:
            return found
        if self.is_postgres:
            # One array parameter: an IN list of a thousand parameters costs more to
            # build and parse than the lookup itself.
            rows = connection.execute(
                select(IDEMPOTENCY).where(IDEMPOTENCY.c.key == func.any(literal(wanted)))
            )
            return {row.key: row for row in rows}
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

    def _tail(self, connection: Connection) -> tuple[int, datetime | None]:
        row = connection.execute(
            select(ENTRY.c.seq, ENTRY.c.leaf).order_by(ENTRY.c.seq.desc()).limit(1)
        ).first()
        if row is None:
            return 0, None
        return row.seq + 1, parse_at(json.loads(row.leaf)["at"])

    def _build(
        self,
        connection: Connection,
        books: Books,
        requests: Sequence[Request],
        first_seq: int,
        stamp: str,
    ) -> list[Entry]:
        """One request's entries, applied to ``books``; on an error, ``books`` is as before.

        ``Books.apply`` changes nothing when an entry breaks a rule, so a request of one
        draft needs no undo; a longer one (a disbursement with its allocations, a void
        with its reversals) may fail on a later draft, and its earlier drafts are taken
        back off the books (``_BooksUndo``), so the next request of the batch sees the
        books exactly as a separate append would.
        """
        undo = (
            _BooksUndo(books)
            if len(requests) > 1 or isinstance(requests[0], FifoAllocation)
            else None
        )
        entries: list[Entry] = []
        try:
            for index, request in enumerate(requests):
                drafts = (
                    self._expand_fifo(connection, books, request, index)
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
        except EntryError:
            if undo is not None:
                undo.restore()
            raise
        return entries

    def _expand_fifo(
        self, connection: Connection, books: Books, request: FifoAllocation, index: int
    ) -> list[Draft]:
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
            candidates = projections.load_fifo_candidates(
                connection, books, disbursement, limit=FIFO_PAGE, offset=offset
            )
            offset += FIFO_PAGE
            plan = plan_fifo(disbursement, candidates)
            if not plan:
                break
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
        for donation, amount in reserved:
            donation.allocated -= amount
            disbursement.allocated -= amount
        return drafts

    def _write(self, connection: Connection, entries: Sequence[Entry], size: int) -> None:
        frontier = CompactRange(size, self._nodes(connection, root_plan(size)))
        nodes = [
            node
            for entry in entries
            for node in frontier.append(entry.leaf_hash)
            if node[0][0] and not node[0][0] & 1
        ]
        moments = {at: parse_at(at) for at in {entry.at for entry in entries}}
        # An entry that creates an id is found by its projection row's seq: only the
        # entries that refer to an existing id need a row here.
        refs = [
            (value, entry.seq)
            for entry in entries
            for key in REF_KEYS
            if key != projections.CREATES.get(entry.kind)
            and isinstance(value := entry.body.get(key), str)
        ]
        if self.is_postgres:
            # COPY text, written directly: the rows are few columns of known types.
            escape = projections.copy_escape
            stamps = {at: moment.isoformat() for at, moment in moments.items()}
            projections.copy_lines(
                connection,
                ENTRY,
                ("seq", "kind", "actor", "at", "leaf", "leaf_hash"),
                "".join(
                    f"{e.seq}\t{e.kind}\t{e.actor}\t{stamps[e.at]}\t"
                    f"{escape(e.leaf_bytes.decode())}\t\\\\x{e.leaf_hash.hex()}\n"
                    for e in entries
                ),
            )
            projections.copy_lines(
                connection,
                NODE,
                ("level", "idx", "hash"),
                "".join(f"{level}\t{idx}\t\\\\x{digest.hex()}\n" for (level, idx), digest in nodes),
            )
            projections.copy_lines(
                connection,
                ENTRY_REF,
                ("ref_id", "seq"),
                "".join(f"{ref_id}\t{seq}\n" for ref_id, seq in refs),
            )
            return
        if refs:
            connection.execute(
                ENTRY_REF.insert(), [{"ref_id": ref_id, "seq": seq} for ref_id, seq in refs]
            )
        connection.execute(
            ENTRY.insert(),
            [
                {
                    "seq": e.seq,
                    "kind": e.kind,
                    "actor": e.actor,
                    "at": moments[e.at],
                    "leaf": e.leaf_bytes.decode(),
                    "leaf_hash": e.leaf_hash,
                }
                for e in entries
            ],
        )
        if nodes:
            connection.execute(
                NODE.insert(),
                [{"level": level, "idx": idx, "hash": digest} for (level, idx), digest in nodes],
            )

    # -- reading ----------------------------------------------------------------------

    def size(self) -> int:
        """Number of entries in the journal (the Merkle tree's size)."""
        with self.engine.connect() as connection:
            value = connection.execute(select(func.max(ENTRY.c.seq))).scalar()
        return 0 if value is None else int(value) + 1

    def _nodes(self, connection: Connection, ids: Sequence[NodeId] | set[NodeId]) -> list[bytes]:
        """Hashes of the given complete subtrees, in the order given.

        Level 0 comes from ``entry.leaf_hash``, even levels from ``merkle_node``, and an
        odd level is hashed from its two children: at most two queries in all.
        """
        wanted = list(ids)
        stored: set[NodeId] = set()
        for level, idx in wanted:
            if level & 1:
                stored.update(((level - 1, 2 * idx), (level - 1, 2 * idx + 1)))
            else:
                stored.add((level, idx))
        found: dict[NodeId, bytes] = {}
        leaves = sorted(idx for level, idx in stored if level == 0)
        for start in range(0, len(leaves), 500):
            rows = connection.execute(
                select(ENTRY.c.seq, ENTRY.c.leaf_hash).where(
                    ENTRY.c.seq.in_(leaves[start : start + 500])
                )
            )
            found.update(((0, row.seq), bytes(row.leaf_hash)) for row in rows)
        interior = sorted(node for node in stored if node[0])
        for start in range(0, len(interior), 500):
            rows = connection.execute(
                select(NODE.c.level, NODE.c.idx, NODE.c.hash).where(
                    tuple_(NODE.c.level, NODE.c.idx).in_(interior[start : start + 500])
                )
            )
            found.update(((row.level, row.idx), bytes(row.hash)) for row in rows)
        missing = sorted(stored - found.keys())
        if missing:
            raise ProofSizeError(f"the store has no Merkle node {missing[0]}")
        for level, idx in wanted:
            if level & 1:
                found[(level, idx)] = node_hash(
                    found[(level - 1, 2 * idx)], found[(level - 1, 2 * idx + 1)]
                )
        return [found[node] for node in wanted]

    def _resolve(self, plan: list[list[NodeId]]) -> list[bytes]:
        ids = sorted(plan_nodes(plan))
        with self.engine.connect() as connection:
            nodes = dict(zip(ids, self._nodes(connection, ids), strict=True))
        return resolve(plan, nodes)

    def _check_size(self, size: int) -> None:
        current = self.size()
        if not 0 <= size <= current:
            raise ProofSizeError(f"the journal has {current} entries, not {size}")

    def root(self, size: int | None = None) -> bytes:
        """The Merkle root at ``size`` entries (default: all), from O(log n) stored nodes."""
        if size is None:
            size = self.size()
        self._check_size(size)
        return self._resolve([root_plan(size)])[0]

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        """The audit path of entry ``seq`` in the tree of ``size`` entries."""
        self._check_size(size)
        return self._resolve(inclusion_plan(seq, size))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """The proof that the tree at ``second`` extends the tree at ``first``."""
        self._check_size(second)
        if first == 0 or first == second:
            if not 0 <= first <= second:
                raise ProofSizeError(f"no consistency proof from {first} to {second}")
            return []
        return self._resolve(consistency_plan(first, second))

    def leaf_hash(self, seq: int) -> bytes:
        """The stored leaf hash of entry ``seq``."""
        with self.engine.connect() as connection:
            return self._nodes(connection, [(0, seq)])[0]

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
            return _verify(connection)


def _verify(connection: Connection) -> Verification:
    from ledger.merkle import leaf_hash

    stored_leaves = {
        row.seq: bytes(row.leaf_hash)
        for row in connection.execute(select(ENTRY.c.seq, ENTRY.c.leaf_hash))
    }
    report = Verification(size=0)
    books = Books()
    missing: list[int] = []  # named by the gap; the nodes above them are not blamed too
    expected = 0
    for row in connection.execute(select(ENTRY).order_by(ENTRY.c.seq)):
        while expected < row.seq:
            report.add(expected, "gapless", f"entry {expected} is missing")
            missing.append(expected)
            expected += 1
        expected = row.seq + 1
        leaf = row.leaf.encode("utf-8")
        if stored_leaves.get(row.seq) != leaf_hash(leaf):
            report.add(row.seq, "leaf_hash", "entry does not match its stored leaf hash")
        try:
            entry = parse_entry(json.loads(leaf))
        except (ValueError, EntryError) as error:
            report.add(row.seq, "entry", f"not a valid entry: {error}")
            continue
        if entry.leaf_bytes != leaf:
            report.add(row.seq, "canonical", "entry is not in RFC 8785 canonical form")
        if (entry.seq, entry.kind, entry.actor) != (row.seq, row.kind, row.actor):
            report.add(row.seq, "columns", "seq, kind or actor columns differ from the entry")
        try:
            books.apply(entry)
        except AccountingError as error:
            report.add(row.seq, "accounting", str(error))
    report.size = expected
    for idx in sorted(stored_leaves):
        if idx >= expected:
            report.add(idx, "leaf_hash", "a leaf hash is stored for an entry that does not exist")
    # Each stored node must hash up from the stored nodes one tile (two levels) below
    # it: a node that does not pins the change to its range, without blaming every
    # node above it. (A leaf that no longer matches its entry was named above.)
    below = [stored_leaves.get(i, b"") for i in range(expected)]
    height = 0
    while len(below) > 3:
        height += 2
        middle = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        count = len(middle) // 2
        level: list[bytes] = [b""] * count
        for row in connection.execute(
            select(NODE.c.idx, NODE.c.hash).where(NODE.c.level == height).order_by(NODE.c.idx)
        ):
            if row.idx >= count:
                report.add(row.idx << height, "merkle_node", f"node ({height}, {row.idx}) is extra")
                continue
            level[row.idx] = bytes(row.hash)
        for idx, stored in enumerate(level):
            first, last = idx << height, ((idx + 1) << height) - 1
            if stored != node_hash(middle[2 * idx], middle[2 * idx + 1]) and not any(
                first <= seq <= last for seq in missing
            ):
                report.add(
                    first,
                    "merkle_node",
                    f"stored node ({height}, {idx}) over entries {first}..{last} "
                    "is not the hash of the stored nodes below it",
                )
        below = level
    for row in connection.execute(
        select(NODE.c.level, NODE.c.idx).where((NODE.c.level > height) | (NODE.c.level % 2 == 1))
    ):
        report.add(row.idx << row.level, "merkle_node", f"node ({row.level}, {row.idx}) is extra")
    live = projections.read_books(connection)
    for difference in projections.diff_books(live, books):
        report.add(report.size, "projection", difference)
    report.problems.sort(key=lambda problem: problem[0])
    return report
