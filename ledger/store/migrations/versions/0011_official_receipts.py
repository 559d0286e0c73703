"""Official e-receipts charities attach to donations (ledger/store/official_receipts.py)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "official_receipt",
        sa.Column("donation_id", sa.String(length=43), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("charity_id", sa.String(length=43), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("number", sa.String(length=10), nullable=False),
        sa.Column("check_code", sa.String(length=6), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("attached_by", sa.String(length=60), nullable=False),
        sa.Column("attached_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("donation_id", "version", name=op.f("pk_official_receipt")),
    )
    op.create_index(
        op.f("ix_official_receipt_charity_id"), "official_receipt", ["charity_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("official_receipt")
