"""Checkpoints signed by the log key (C2SP signed notes, ADR 0031): signed_checkpoint

Created 2026-12-05.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations import columns, triggers

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
    triggers.reject_row_changes("signed_checkpoint")


def downgrade() -> None:
    triggers.drop_reject_row_changes("signed_checkpoint")
    op.drop_table("signed_checkpoint")
