"""Donors (personal data, operator only), API keys and evidence files

Created 2026-11-26.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("charity_id", sa.String(length=43), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_api_key")),
    )
    op.create_index(op.f("ix_api_key_charity_id"), "api_key", ["charity_id"], unique=False)
    op.create_table(
        "donor",
        sa.Column("donation_id", sa.String(length=43), nullable=False),
        sa.Column("receipt_secret", sa.LargeBinary(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("donation_id", name=op.f("pk_donor")),
    )
    op.create_table(
        "evidence_file",
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("charity_id", sa.String(length=43), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "charity_id", name=op.f("pk_evidence_file")),
    )


def downgrade() -> None:
    op.drop_table("evidence_file")
    op.drop_table("donor")
    op.drop_index(op.f("ix_api_key_charity_id"), table_name="api_key")
    op.drop_table("api_key")
