"""Donors (personal data, operator only), API keys and evidence files

Created 2026-11-26.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations import columns

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "api_key",
        columns.digest("key_hash"),
        sa.Column("role", sa.String(length=16), nullable=False),
        columns.journal_id("charity_id", nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        columns.timestamp("created_at"),
        columns.timestamp("revoked_at", nullable=True),
        columns.primary_key("api_key", "key_hash"),
    )
    op.create_index(op.f("ix_api_key_charity_id"), "api_key", ["charity_id"], unique=False)
    op.create_table(
        "donor",
        columns.journal_id("donation_id"),
        sa.Column("receipt_secret", sa.LargeBinary(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        columns.timestamp("created_at"),
        columns.primary_key("donor", "donation_id"),
    )
    op.create_table(
        "evidence_file",
        columns.digest("sha256"),
        columns.journal_id("charity_id"),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        columns.integer("size"),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        columns.timestamp("uploaded_at"),
        columns.primary_key("evidence_file", "sha256", "charity_id"),
    )


def downgrade() -> None:
    op.drop_table("evidence_file")
    op.drop_table("donor")
    op.drop_index(op.f("ix_api_key_charity_id"), table_name="api_key")
    op.drop_table("api_key")
