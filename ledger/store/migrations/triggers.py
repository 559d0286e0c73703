"""The append-only trigger the migrations install on a table whose rows are never changed.

The baseline (revision 0011) creates ``shanlian_reject_change()`` and guards the journal,
its Merkle nodes and the statements made once (signed checkpoints, cosignatures) with it;
a later revision guards a table of its own the same way. Like ``columns``, what these
write must never change once a migration uses them.
"""

from __future__ import annotations

from alembic import op


def reject_row_changes(table: str) -> None:
    """On PostgreSQL, refuse UPDATE and DELETE of ``table``'s rows (a plpgsql trigger).

    Elsewhere nothing: SQLite's triggers for the journal are the baseline's own.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION shanlian_reject_change()"
        )
