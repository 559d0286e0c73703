"""The journal, its Merkle nodes, idempotency keys and the projections

Created 2026-11-26.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations.columns import (
    hash_column,
    id_column,
    integer_column,
    primary_key,
    time_column,
)

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
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION shanlian_reject_change()"
            )
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
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS shanlian_reject_change()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")


def upgrade() -> None:
    op.create_table(
        "allocation",
        id_column("allocation_id"),
        id_column("donation_id"),
        id_column("disbursement_id"),
        integer_column("amount"),
        integer_column("seq"),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        primary_key("allocation", "allocation_id"),
    )
    op.create_index(
        op.f("ix_allocation_disbursement_id"), "allocation", ["disbursement_id"], unique=False
    )
    op.create_index(op.f("ix_allocation_donation_id"), "allocation", ["donation_id"], unique=False)
    op.create_table(
        "charity",
        id_column("charity_id"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registration_no", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=True),
        integer_column("seq"),
        primary_key("charity", "charity_id"),
    )
    op.create_table(
        "disbursement",
        id_column("disbursement_id"),
        id_column("charity_id"),
        id_column("project_id", nullable=True),
        integer_column("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payee", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        integer_column("seq"),
        integer_column("allocated"),
        sa.Column("voided", sa.Boolean(), nullable=False),
        primary_key("disbursement", "disbursement_id"),
    )
    op.create_index(
        op.f("ix_disbursement_charity_id"), "disbursement", ["charity_id"], unique=False
    )
    op.create_index(
        op.f("ix_disbursement_project_id"), "disbursement", ["project_id"], unique=False
    )
    op.create_table(
        "donation",
        id_column("donation_id"),
        id_column("charity_id"),
        id_column("project_id", nullable=True),
        integer_column("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("paid_at", sa.String(length=24), nullable=False),
        integer_column("seq"),
        integer_column("refunded"),
        integer_column("allocated"),
        primary_key("donation", "donation_id"),
    )
    op.create_index(
        "ix_donation_charity_id_project_id_seq",
        "donation",
        ["charity_id", "project_id", "seq"],
        unique=False,
    )
    op.create_table(
        "entry",
        integer_column("seq"),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        time_column("at"),
        sa.Column("leaf", sa.Text(), nullable=False),
        hash_column("leaf_hash"),
        primary_key("entry", "seq"),
    )
    op.create_table(
        "idempotency",
        sa.Column("key", sa.String(length=200), nullable=False),
        hash_column("request_hash"),
        integer_column("first_seq"),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        time_column("created_at"),
        primary_key("idempotency", "key"),
    )
    op.create_table(
        "entry_ref",
        id_column("ref_id"),
        integer_column("seq"),
        primary_key("entry_ref", "ref_id", "seq"),
    )
    op.create_table(
        "merkle_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        integer_column("idx"),
        hash_column("hash"),
        primary_key("merkle_node", "level", "idx"),
    )
    op.create_table(
        "project",
        id_column("project_id"),
        id_column("charity_id"),
        sa.Column("title", sa.String(length=200), nullable=False),
        integer_column("goal_amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        integer_column("seq"),
        primary_key("project", "project_id"),
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
