"""Witnesses' cosignatures and standing (C2SP tlog-witness, ADR 0035)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations import triggers

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "witness_cosignature",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness_key", sa.String(length=400), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", "witness_key", name=op.f("pk_witness_cosignature")),
    )
    op.create_table(
        "witness_state",
        sa.Column("witness_key", sa.String(length=400), nullable=False),
        sa.Column("known_size", sa.BigInteger(), nullable=False),
        sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("witness_key", name=op.f("pk_witness_state")),
    )
    # A cosignature is a witness's statement, kept as received: never changed.
    triggers.reject_row_changes("witness_cosignature")


def downgrade() -> None:
    triggers.drop_reject_row_changes("witness_cosignature")
    op.drop_table("witness_state")
    op.drop_table("witness_cosignature")
