"""The append-only trigger the migrations install on a table whose rows are never changed.

Revision 0001 creates ``shanlian_reject_change()`` and guards the journal and its Merkle
nodes with it; later revisions guard their own statements (signed checkpoints,
cosignatures) the same way. Like ``columns``, what these write must never change once a
migration uses them.
"""

from __future__ import annotations

from alembic import op


def reject_row_changes(table: str) -> None:
    """On PostgreSQL, refuse UPDATE and DELETE of ``table``'s rows (a plpgsql trigger).

    Elsewhere nothing: SQLite's triggers for the journal are revision 0001's own.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION shanlian_reject_change()"
        )


def drop_reject_row_changes(table: str) -> None:
    """Drop what ``reject_row_changes`` created."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
