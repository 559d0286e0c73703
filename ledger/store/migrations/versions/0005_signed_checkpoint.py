"""Checkpoints signed by the log key (C2SP signed notes, ADR 0031): signed_checkpoint

Created 2026-12-05.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations import columns

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "signed_checkpoint",
        columns.integer("tree_size"),
        columns.digest("root_hash"),
        sa.Column("note", sa.Text(), nullable=False),
        columns.timestamp("signed_at"),
        columns.primary_key("signed_checkpoint", "tree_size"),
    )
    # A signed checkpoint is a statement made once: like the journal, never changed.
    # (shanlian_reject_change comes from revision 0001.)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER signed_checkpoint_append_only BEFORE UPDATE OR DELETE ON "
            "signed_checkpoint FOR EACH ROW EXECUTE FUNCTION shanlian_reject_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS signed_checkpoint_append_only ON signed_checkpoint")
    op.drop_table("signed_checkpoint")
