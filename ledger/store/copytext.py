"""COPY text for PostgreSQL: escaping, and inserting many rows at once.

The store writes its batches with COPY and builds the text itself: psycopg's
``write_row`` cost more than the rest of an append put together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

COPY_CHUNK = 200
"""Rows of a COPY sent at once (tens of KB): formatting the next overlaps the insert."""


def array_literal(values: Sequence[str]) -> str:
    """A PostgreSQL array literal of ``values``, each quoted (for ``CAST(... AS text[])``)."""
    if not values:
        return "{}"
    joined = "".join(values)
    if "\\" in joined or '"' in joined:  # keys rarely hold either: one scan of them all
        values = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return '{"' + '","'.join(values) + '"}'


def copy_escape(value: str) -> str:
    """Escape a string for COPY's text format (backslash, tab, newline, carriage return).

    Four ``str.replace`` calls: each scans in C and returns the string itself when there
    is nothing to replace, several times faster than ``str.translate`` here.
    """
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def copy_escape_all(values: Sequence[str]) -> Sequence[str]:
    """``copy_escape`` of each value (the values themselves when none needs it).

    Ids, names, phone numbers and keys rarely hold anything to escape: one scan of them
    all in C instead of four ``replace`` calls a value.
    """
    joined = "".join(values)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return list(map(copy_escape, values))
    return values


_COPY_TEXT: Mapping[type, Any] = {
    str: copy_escape,
    int: str,
    bool: lambda value: "t" if value else "f",
    type(None): lambda value: "\\N",
    bytes: lambda value: "\\\\x" + value.hex(),
    datetime: lambda value: value.isoformat(),
}
_BOOL_TEXT = {False: "f", True: "t"}


def copy_statement(table: Table, columns: Sequence[str]) -> str:
    """``COPY table (columns) FROM STDIN``, in COPY's text format."""
    return f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"


def copy_lines(
    connection: Connection, table: Table, columns: Sequence[str], text: str | Iterable[str]
) -> None:
    """COPY rows already in COPY's text format into ``table`` (PostgreSQL only).

    ``text`` is the rows, or chunks of them: each chunk is sent as soon as it is made, so
    PostgreSQL inserts one chunk while the next is formatted (on another core).
    Nothing to copy costs nothing: a single donation completes no Merkle tile and names
    no earlier entry, and each COPY is a round trip.
    """
    if not text:
        return
    chunks = iter((text,) if isinstance(text, str) else text)
    first = next(chunks, "")
    if not first:
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    statement = copy_statement(table, columns)
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(first.encode("utf-8"))
        for chunk in chunks:
            copy.write(chunk.encode("utf-8"))


def bulk_insert(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL (several times faster), executemany elsewhere.

    The COPY text is built here rather than row by row through psycopg's ``write_row``,
    which costs more than the rest of an append put together. It is built a column at a
    time: a column's values mostly share one type, so its conversion is chosen once and
    run over all of them (``copy_column``).
    """
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    chunks = (  # sent chunk by chunk: PostgreSQL inserts one while the next is formatted
        _rows_text(rows[start : start + COPY_CHUNK]) for start in range(0, len(rows), COPY_CHUNK)
    )
    copy_lines(connection, table, columns, chunks)


def _rows_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows (their values in the first row's column order) as COPY text lines."""
    columns = [copy_column(values) for values in zip(*[row.values() for row in rows], strict=True)]
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def copy_column(values: Sequence[Any]) -> Sequence[str]:
    """One column's values as COPY text, each exactly as ``_COPY_TEXT`` writes it.

    A column's values mostly share one type: its conversion is chosen once for all of them.

    Raises:
        KeyError: a value of a type COPY text is not written for here.
    """
    kinds = set(map(type, values))
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind is str:
        return copy_escape_all(values)
    if kind is bytes:
        return ["\\\\x" + digits for digits in map(bytes.hex, values)]
    if kind is datetime:
        return list(map(datetime.isoformat, values))
    if kind is bool:
        return list(map(_BOOL_TEXT.__getitem__, values))
    if kind is type(None):
        return ["\\N"] * len(values)
    if kind is int:
        return list(map(str, values))
    return [_COPY_TEXT[type(value)](value) for value in values]  # mixed, e.g. str and None
