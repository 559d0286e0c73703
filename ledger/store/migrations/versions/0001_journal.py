"""The journal, its Merkle nodes, idempotency keys and the projections

Created 2026-11-26.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations import columns, triggers

revision = "0001"
down_revision = None


APPEND_ONLY = ("entry", "merkle_node")

PG_REJECT_CHANGE = """
CREATE FUNCTION shanlian_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the % table is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def _append_only_triggers() -> None:
    """Reject UPDATE, DELETE and TRUNCATE on the journal and its Merkle nodes."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_REJECT_CHANGE)
        for table in APPEND_ONLY:
            triggers.reject_row_changes(table)
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION shanlian_reject_change()"
            )
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the {table} table is append-only: "
                    f"{operation} is not allowed'); END"
                )


def _drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY:
            triggers.drop_reject_row_changes(table)
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS shanlian_reject_change()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")


def upgrade() -> None:
    op.create_table(
        "allocation",
        columns.journal_id("allocation_id"),
        columns.journal_id("donation_id"),
        columns.journal_id("disbursement_id"),
        columns.integer("amount"),
        columns.integer("seq"),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        columns.primary_key("allocation", "allocation_id"),
    )
    op.create_index(
        op.f("ix_allocation_disbursement_id"), "allocation", ["disbursement_id"], unique=False
    )
    op.create_index(op.f("ix_allocation_donation_id"), "allocation", ["donation_id"], unique=False)
    op.create_table(
        "charity",
        columns.journal_id("charity_id"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registration_no", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=True),
        columns.integer("seq"),
        columns.primary_key("charity", "charity_id"),
    )
    op.create_table(
        "disbursement",
        columns.journal_id("disbursement_id"),
        columns.journal_id("charity_id"),
        columns.journal_id("project_id", nullable=True),
        columns.integer("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payee", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        columns.integer("seq"),
        columns.integer("allocated"),
        sa.Column("voided", sa.Boolean(), nullable=False),
        columns.primary_key("disbursement", "disbursement_id"),
    )
    op.create_index(
        op.f("ix_disbursement_charity_id"), "disbursement", ["charity_id"], unique=False
    )
    op.create_index(
        op.f("ix_disbursement_project_id"), "disbursement", ["project_id"], unique=False
    )
    op.create_table(
        "donation",
        columns.journal_id("donation_id"),
        columns.journal_id("charity_id"),
        columns.journal_id("project_id", nullable=True),
        columns.integer("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("paid_at", sa.String(length=24), nullable=False),
        columns.integer("seq"),
        columns.integer("refunded"),
        columns.integer("allocated"),
        columns.primary_key("donation", "donation_id"),
    )
    op.create_index(
        "ix_donation_charity_id_project_id_seq",
        "donation",
        ["charity_id", "project_id", "seq"],
        unique=False,
    )
    op.create_table(
        "entry",
        columns.integer("seq"),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        columns.timestamp("at"),
        sa.Column("leaf", sa.Text(), nullable=False),
        columns.digest("leaf_hash"),
        columns.primary_key("entry", "seq"),
    )
    op.create_table(
        "idempotency",
        sa.Column("key", sa.String(length=200), nullable=False),
        columns.digest("request_hash"),
        columns.integer("first_seq"),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        columns.timestamp("created_at"),
        columns.primary_key("idempotency", "key"),
    )
    op.create_table(
        "entry_ref",
        columns.journal_id("ref_id"),
        columns.integer("seq"),
        columns.primary_key("entry_ref", "ref_id", "seq"),
    )
    op.create_table(
        "merkle_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        columns.integer("idx"),
        columns.digest("hash"),
        columns.primary_key("merkle_node", "level", "idx"),
    )
    op.create_table(
        "project",
        columns.journal_id("project_id"),
        columns.journal_id("charity_id"),
        sa.Column("title", sa.String(length=200), nullable=False),
        columns.integer("goal_amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        columns.integer("seq"),
        columns.primary_key("project", "project_id"),
    )
    op.create_index(op.f("ix_project_charity_id"), "project", ["charity_id"], unique=False)
    _append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_index(op.f("ix_project_charity_id"), table_name="project")
    op.drop_table("project")
    op.drop_table("merkle_node")
    op.drop_table("entry_ref")
    op.drop_table("idempotency")
    op.drop_table("entry")
    op.drop_index("ix_donation_charity_id_project_id_seq", table_name="donation")
    op.drop_table("donation")
    op.drop_index(op.f("ix_disbursement_project_id"), table_name="disbursement")
    op.drop_index(op.f("ix_disbursement_charity_id"), table_name="disbursement")
    op.drop_table("disbursement")
    op.drop_table("charity")
    op.drop_index(op.f("ix_allocation_donation_id"), table_name="allocation")
    op.drop_index(op.f("ix_allocation_disbursement_id"), table_name="allocation")
    op.drop_table("allocation")
