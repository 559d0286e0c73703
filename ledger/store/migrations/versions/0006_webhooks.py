"""Webhooks: charities' endpoints and the outbox of deliveries (ledger/store/outbox.py)

Created 2026-12-05.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations import columns

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint",
        columns.journal_id("endpoint_id"),
        columns.journal_id("charity_id"),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=80), nullable=False),
        columns.integer("created_ms"),
        columns.integer("disabled_ms", nullable=True),
        columns.integer("next_seq"),
        columns.primary_key("webhook_endpoint", "endpoint_id"),
    )
    op.create_index(
        op.f("ix_webhook_endpoint_charity_id"), "webhook_endpoint", ["charity_id"], unique=False
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("delivery_id", sa.String(length=44), nullable=False),
        columns.journal_id("endpoint_id"),
        columns.integer("seq"),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        columns.integer("next_ms"),
        columns.integer("created_ms"),
        columns.integer("last_ms", nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        columns.primary_key("webhook_delivery", "delivery_id"),
        sa.UniqueConstraint("endpoint_id", "seq", name=op.f("uq_webhook_delivery_endpoint_id_seq")),
    )
    op.create_index(
        "ix_webhook_delivery_state_next_ms", "webhook_delivery", ["state", "next_ms"], unique=False
    )
    op.create_index(
        "ix_webhook_delivery_endpoint_id_created_ms",
        "webhook_delivery",
        ["endpoint_id", "created_ms"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_endpoint")
