"""Anchored checkpoints, mirrored from the chain by the anchor worker

Created 2026-11-26.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations import columns

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "checkpoint",
        columns.integer("checkpoint_index"),
        columns.integer("tree_size"),
        columns.digest("root_hash"),
        columns.integer("chain_id"),
        sa.Column("contract", sa.String(length=42), nullable=False),
        columns.digest("tx_hash"),
        columns.integer("block_number"),
        columns.digest("block_hash"),
        columns.timestamp("anchored_at"),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        columns.primary_key("checkpoint", "checkpoint_index"),
        sa.UniqueConstraint("tree_size", name=op.f("uq_checkpoint_tree_size")),
    )


def downgrade() -> None:
    op.drop_table("checkpoint")
