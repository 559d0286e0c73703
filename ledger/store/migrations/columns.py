"""The column shapes the migrations share: a journal id, an integer, a hash, a time.

A migration records what the schema became at its revision, so what these write must
never change once a migration uses them: a new shape is a new helper.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def journal_id(name: str, *, nullable: bool = False) -> sa.Column[str]:
    """An id of the journal's vocabulary (``ch_…``, ``dn_…``; 43 characters at most)."""
    return sa.Column(name, sa.String(length=43), nullable=nullable)


def integer(name: str, *, nullable: bool = False) -> sa.Column[int]:
    """A 64-bit integer: an amount in minor units, a seq, a size, milliseconds.

    Never a sequence of its own (a key such as ``entry.seq`` is given, not drawn).
    """
    return sa.Column(name, sa.BigInteger(), autoincrement=False, nullable=nullable)


def digest(name: str) -> sa.Column[bytes]:
    """A SHA-256 digest (32 bytes)."""
    return sa.Column(name, sa.LargeBinary(length=32), nullable=False)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    """A timezone-aware timestamp (``_at``)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def primary_key(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    """The primary key of ``table``, named ``pk_<table>`` as the naming convention does."""
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))
