"""Matching funds (ADR 0040): matcher, match_pool and match projections

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "matcher",
        sa.Column("matcher_id", sa.String(length=43), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registration_no", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("matcher_id", name=op.f("pk_matcher")),
    )
    op.create_table(
        "match_pool",
        sa.Column("pool_id", sa.String(length=43), nullable=False),
        sa.Column("matcher_id", sa.String(length=43), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("ratio_percent", sa.Integer(), nullable=False),
        sa.Column("cap_per_donation", sa.BigInteger(), nullable=False),
        sa.Column("cap_per_payer_per_day", sa.BigInteger(), nullable=False),
        sa.Column("min_interval_s", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.String(length=24), nullable=False),
        sa.Column("ends_at", sa.String(length=24), nullable=False),
        sa.Column("day_offset_minutes", sa.Integer(), nullable=False),
        sa.Column("project_ids", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.Column("matches", sa.BigInteger(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("pool_id", name=op.f("pk_match_pool")),
    )
    op.create_index(op.f("ix_match_pool_matcher_id"), "match_pool", ["matcher_id"])
    op.create_table(
        "match",
        sa.Column("match_id", sa.String(length=43), nullable=False),
        sa.Column("pool_id", sa.String(length=43), nullable=False),
        sa.Column("donation_id", sa.String(length=43), nullable=False),
        sa.Column("payer_hash", sa.String(length=66), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("match_id", name=op.f("pk_match")),
    )
    op.create_index(op.f("ix_match_donation_id"), "match", ["donation_id"])
    op.create_index("ix_match_pool_id_payer_hash", "match", ["pool_id", "payer_hash"])


def downgrade() -> None:
    op.drop_table("match")
    op.drop_table("match_pool")
    op.drop_table("matcher")
