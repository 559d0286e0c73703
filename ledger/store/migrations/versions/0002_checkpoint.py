"""Anchored checkpoints, mirrored from the chain by the anchor worker

Created 2026-11-26.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations.columns import hash_column, integer_column, primary_key, time_column

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "checkpoint",
        integer_column("checkpoint_index"),
        integer_column("tree_size"),
        hash_column("root_hash"),
        integer_column("chain_id"),
        sa.Column("contract", sa.String(length=42), nullable=False),
        hash_column("tx_hash"),
        integer_column("block_number"),
        hash_column("block_hash"),
        time_column("anchored_at"),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        primary_key("checkpoint", "checkpoint_index"),
        sa.UniqueConstraint("tree_size", name=op.f("uq_checkpoint_tree_size")),
    )


def downgrade() -> None:
    op.drop_table("checkpoint")
