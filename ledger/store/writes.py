"""The rows an append batch writes besides the books: entries, Merkle tiles, refs, keys.

On PostgreSQL each table is one COPY whose text is written here, a row an f-string
(psycopg's ``write_row`` and the generic ``copytext.bulk_insert`` cost more per row
than the rest of an append); elsewhere an ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from ledger.accounting import DonationState, State
from ledger.entries import KINDS, Entry, parse_at
from ledger.merkle import CompactRange, root_plan
from ledger.store.copytext import bulk_insert, copy_escape_all, copy_lines, copy_statement
from ledger.store.projections import CREATES, DONATION_COLUMNS, donation_lines
from ledger.store.tables import DONATION, ENTRY, ENTRY_REF, IDEMPOTENCY, NODE
from ledger.store.tiles import read_nodes

ENTRY_CHUNK = 100
"""Entries a COPY chunk (~60 KB), sent while the next is encoded, hashed and formatted."""
REF_KEYS = ("donation_id", "disbursement_id", "allocation_id", "match_id")
"""Body fields whose ids get a timeline in ``entry_ref`` (charities and projects have
their own rows; their timelines would be every donation)."""
_REFERRING: Mapping[str, tuple[str, ...]] = {
    kind: tuple(key for key in REF_KEYS if key != CREATES.get(kind)) for kind in KINDS
}
"""``REF_KEYS`` by kind, less the id the kind creates: an entry that creates an id is found
by its projection row's seq, so only the entries that refer to an existing id get a row."""


_COPY_STATEMENTS = {
    "entry": copy_statement(ENTRY, ("seq", "kind", "actor", "at", "leaf", "leaf_hash")),
    "donation": copy_statement(DONATION, DONATION_COLUMNS),
}


def _leaf_text(entry: Entry) -> str:
    """The leaf for COPY text: canonical JSON escapes every control character itself
    (``\\t``, ``\\n``, ``\\u0000``…), so only its backslashes need COPY's escape."""
    return entry.leaf_bytes.decode().replace("\\", "\\\\")


def _bytea(value: bytes | None) -> str:
    """A bytea for COPY text (None: NULL, which the column refuses, as an insert would)."""
    return "\\N" if value is None else "\\\\x" + value.hex()


class EntryWriter:
    """Writes a batch's rows while the batch is still being built: new donations, then entries.

    On PostgreSQL each table is a COPY, and one COPY at a time can be open on the
    connection. While the appender builds the batch (validating, applying each request
    to the books), the donation rows of the requests accepted so far go out in chunks
    (``add``): PostgreSQL inserts them and maintains their two indexes on its own core
    (the costliest rows a giving day writes). When the batch is built (``close``), the
    entries are hashed a chunk at a time and each chunk is sent as the next is hashed,
    then the Merkle tiles the new leaves complete and the refs follow. A donation row
    is written as it stood when it was sent; ``written`` tells ``write_books`` which
    rows to leave out of its inserts; those the rules marked changed (a refund in the
    same batch) it updates. A read the build needs (a FIFO allocation's page of
    donations) first finishes the open COPY (``reads``); the next chunk starts another.
    The tree's right edge is the committed batch's (``frontier``) or read with the
    first entry. Elsewhere everything is one ``executemany`` a table at the close.

    Use it as a context manager: leaving it by an exception aborts an open COPY (the
    transaction is then rolled back), leaving it normally writes the rest.
    """

    def __init__(
        self, connection: Connection, size: int, frontier: CompactRange | None = None
    ) -> None:
        """Start writing after the journal's first ``size`` entries.

        Args:
            connection: the append's connection, in its transaction.
            size: the journal's size under the append lock.
            frontier: the tree's right edge at ``size``, if the caller has it; else it
                is read with the first entry.
        """
        if frontier is not None and frontier.size != size:
            raise ValueError(f"a frontier of {frontier.size} leaves cannot start at {size}")
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self._size = size
        self._frontier = frontier
        self._entries: list[Entry] = []
        self._donations: list[DonationState] = []
        self.written: set[int] = set()
        """The ``id`` of each state whose donation row was sent."""
        self._nodes: list[tuple[tuple[int, int], bytes]] = []
        self._refs: list[tuple[str, int]] = []
        self._stamps: dict[str, str] = {}
        self._copy: ExitStack | None = None
        self._copying = ""
        self._write: Callable[[bytes], None] | None = None

    def __enter__(self) -> EntryWriter:
        return self

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        if error is not None:
            if self._copy is not None:
                self._copy.__exit__(type(error), error, error.__traceback__)
            return
        self.close()

    def add(self, entries: Sequence[Entry], created: Sequence[State] = ()) -> None:
        """Entries one accepted request made, in seq order after those added before, and
        the states it created."""
        if self._frontier is None:  # before any COPY is open: the connection is free
            size = self._size
            self._frontier = CompactRange(size, read_nodes(self.connection, root_plan(size)))
        self._entries += entries
        if not self.postgres:
            return
        self._donations += [state for state in created if type(state) is DonationState]
        if len(self._donations) >= ENTRY_CHUNK:
            self._send_donations()

    @property
    def frontier(self) -> CompactRange | None:
        """The tree's right edge: after ``close``, after the batch (``None``: never read)."""
        return self._frontier

    def reads(self) -> Connection:
        """The connection, free for a query: an open COPY is finished first."""
        self._finish_copy()
        return self.connection

    def close(self) -> None:
        """Write what is left: the last donation rows, the entries, their tiles and refs."""
        if not self._entries:
            self._finish_copy()
            return
        if not self.postgres:
            self._hash(self._entries)
            self._write_rows()
            return
        self._send_donations()
        for start in range(0, len(self._entries), ENTRY_CHUNK):
            chunk = self._entries[start : start + ENTRY_CHUNK]
            self._hash(chunk)
            self._send_entries(chunk)
        self._finish_copy()
        copy_lines(
            self.connection,
            NODE,
            ("level", "idx", "hash"),
            "".join(
                f"{level}\t{idx}\t\\\\x{digest.hex()}\n" for (level, idx), digest in self._nodes
            ),
        )
        copy_lines(
            self.connection,
            ENTRY_REF,
            ("ref_id", "seq"),
            "".join(f"{ref_id}\t{seq}\n" for ref_id, seq in self._refs),
        )

    def _hash(self, entries: Sequence[Entry]) -> None:
        """Extend the tree by ``entries``' leaves; keep the tiles and refs they make."""
        frontier, nodes, refs = self._frontier, self._nodes, self._refs
        assert frontier is not None  # read with the first entry (add)
        for entry in entries:
            # A leaf completes itself, then its parents a level up each: the even levels
            # from 2 up (the ones stored) are every other node from the third.
            nodes.extend(frontier.append(entry.leaf_hash)[2::2])
            body = entry.body
            for key in _REFERRING.get(entry.kind, REF_KEYS):
                value = body.get(key)
                if isinstance(value, str):
                    refs.append((value, entry.seq))

    def _send_donations(self) -> None:
        """COPY the new donation rows not sent yet, as their states stand now."""
        pending, self._donations = self._donations, []
        if not pending:
            return
        self.written.update(map(id, pending))
        self._copy_text("donation", donation_lines(pending))

    def _send_entries(self, entries: Sequence[Entry]) -> None:
        stamps = self._stamps
        for at in {entry.at for entry in entries} - stamps.keys():
            stamps[at] = parse_at(at).isoformat()  # a batch's entries share a few
        self._copy_text(
            "entry",
            "".join(
                f"{e.seq}\t{e.kind}\t{e.actor}\t{stamps[e.at]}\t"
                f"{_leaf_text(e)}\t\\\\x{e.leaf_hash.hex()}\n"
                for e in entries
            ),
        )

    def _copy_text(self, table: str, text: str) -> None:
        """Send rows of ``table`` (``entry`` or ``donation``) on its COPY, opening it
        (and finishing another table's) if it is not the one open."""
        if self._copying != table:
            self._finish_copy()
            driver = self.connection.connection.driver_connection
            assert driver is not None
            self._copy = ExitStack()
            cursor = self._copy.enter_context(driver.cursor())
            copy = self._copy.enter_context(cursor.copy(_COPY_STATEMENTS[table]))
            self._write, self._copying = copy.write, table
        assert self._write is not None
        self._write(text.encode("utf-8"))

    def _finish_copy(self) -> None:
        if self._copy is not None:
            copy, self._copy, self._write, self._copying = self._copy, None, None, ""
            copy.close()

    def _write_rows(self) -> None:
        """SQLite: every row of the batch, one executemany a table."""
        if self._entries:
            moments = {at: parse_at(at) for at in {entry.at for entry in self._entries}}
            self.connection.execute(
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
                    for e in self._entries
                ],
            )
        if self._nodes:
            self.connection.execute(
                NODE.insert(),
                [
                    {"level": level, "idx": idx, "hash": digest}
                    for (level, idx), digest in self._nodes
                ],
            )
        if self._refs:
            self.connection.execute(
                ENTRY_REF.insert(), [{"ref_id": ref_id, "seq": seq} for ref_id, seq in self._refs]
            )


def write_keys(
    connection: Connection, keys: Sequence[tuple[str, bytes | None, Sequence[Entry]]]
) -> None:
    """Record idempotency keys: ``(key, request_hash, entries its request appended)``."""
    if not keys:
        return
    created_at = datetime.now(UTC)
    if connection.dialect.name != "postgresql":
        rows = [
            {
                "key": key,
                "request_hash": hashed,
                "first_seq": made[0].seq,
                "entry_count": len(made),
                "created_at": created_at,
            }
            for key, hashed, made in keys
        ]
        bulk_insert(connection, IDEMPOTENCY, rows)
        return
    stamp = created_at.isoformat()
    copy_lines(
        connection,
        IDEMPOTENCY,
        ("key", "request_hash", "first_seq", "entry_count", "created_at"),
        "".join(
            f"{name}\t{_bytea(hashed)}\t{made[0].seq}\t{len(made)}\t{stamp}\n"
            for name, (_, hashed, made) in zip(
                copy_escape_all([key for key, _, _ in keys]), keys, strict=True
            )
        ),
    )
