"""The rows an append batch writes besides the books: entries, Merkle tiles, refs, keys.

On PostgreSQL each table is one COPY whose text is written here, a row an f-string
(psycopg's ``write_row`` and the generic ``copytext.bulk_insert`` cost more per row
than the rest of an append); elsewhere an ``executemany``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from ledger.entries import Entry, parse_at
from ledger.merkle import CompactRange, root_plan
from ledger.store.copytext import bulk_insert, copy_escape, copy_lines
from ledger.store.projections import CREATES
from ledger.store.tables import ENTRY, ENTRY_REF, IDEMPOTENCY, NODE
from ledger.store.tiles import read_nodes

ENTRY_CHUNK = 100
"""Entries a COPY chunk (~60 KB), sent while the next is encoded, hashed and formatted."""
REF_KEYS = ("donation_id", "disbursement_id", "allocation_id", "match_id")
"""Body fields whose ids get a timeline in ``entry_ref`` (charities and projects have
their own rows; their timelines would be every donation)."""


def _leaf_text(entry: Entry) -> str:
    """The leaf for COPY text: canonical JSON escapes every control character itself
    (``\\t``, ``\\n``, ``\\u0000``…), so only its backslashes need COPY's escape."""
    return entry.leaf_bytes.decode().replace("\\", "\\\\")


def _bytea(value: bytes | None) -> str:
    """A bytea for COPY text (None: NULL, which the column refuses, as an insert would)."""
    return "\\N" if value is None else "\\\\x" + value.hex()


def write_entries(connection: Connection, entries: Sequence[Entry], size: int) -> None:
    """Write ``entries`` (appended at ``size``), the Merkle tiles they complete and their refs.

    The tiles are computed in memory from the stored right edge of the tree (its
    ``root_plan`` nodes): only the even-level nodes the new leaves complete are written.
    """
    frontier = CompactRange(size, read_nodes(connection, root_plan(size)))
    moments = {at: parse_at(at) for at in {entry.at for entry in entries}}
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        # The entries go first, in chunks: PostgreSQL inserts one chunk while the leaves
        # of the next are encoded and hashed.
        stamps = {at: moment.isoformat() for at, moment in moments.items()}
        copy_lines(
            connection,
            ENTRY,
            ("seq", "kind", "actor", "at", "leaf", "leaf_hash"),
            (
                "".join(
                    f"{e.seq}\t{e.kind}\t{e.actor}\t{stamps[e.at]}\t"
                    f"{_leaf_text(e)}\t\\\\x{e.leaf_hash.hex()}\n"
                    for e in entries[start : start + ENTRY_CHUNK]
                )
                for start in range(0, len(entries), ENTRY_CHUNK)
            ),
        )
    else:
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
    nodes = [
        node
        for entry in entries
        for node in frontier.append(entry.leaf_hash)
        if node[0][0] and not node[0][0] & 1
    ]
    # An entry that creates an id is found by its projection row's seq: only the
    # entries that refer to an existing id need a row here.
    refs = [
        (value, entry.seq)
        for entry in entries
        for key in REF_KEYS
        if key != CREATES.get(entry.kind) and isinstance(value := entry.body.get(key), str)
    ]
    if postgres:
        copy_lines(
            connection,
            NODE,
            ("level", "idx", "hash"),
            "".join(f"{level}\t{idx}\t\\\\x{digest.hex()}\n" for (level, idx), digest in nodes),
        )
        copy_lines(
            connection,
            ENTRY_REF,
            ("ref_id", "seq"),
            "".join(f"{ref_id}\t{seq}\n" for ref_id, seq in refs),
        )
        return
    if nodes:
        connection.execute(
            NODE.insert(),
            [{"level": level, "idx": idx, "hash": digest} for (level, idx), digest in nodes],
        )
    if refs:
        connection.execute(
            ENTRY_REF.insert(), [{"ref_id": ref_id, "seq": seq} for ref_id, seq in refs]
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
            f"{copy_escape(key)}\t{_bytea(hashed)}\t{made[0].seq}\t{len(made)}\t{stamp}\n"
            for key, hashed, made in keys
        ),
    )
