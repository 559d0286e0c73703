"""The schema of shanlian 0.1.0: the journal, its tree and projections, and what is kept beside it

The baseline that replaced revisions 0001 to 0011 before the first release (ADR 0050). It
is revision 0011 itself: a database those revisions brought to 0011 has this schema and
is at the head already; one at an earlier revision is refused by ``migrate`` with the
commit to bring it to 0011 first. The next change to the schema is revision 0012.

Created 2026-12-06.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations import columns, triggers

revision = "0011"
down_revision = None

APPEND_ONLY = ("entry", "merkle_node")
"""The journal and its Merkle nodes: no UPDATE, DELETE or TRUNCATE, on either database."""
STATEMENTS = ("signed_checkpoint", "witness_cosignature")
"""Statements made once (the log's signed checkpoints, witnesses' cosignatures): no UPDATE
or DELETE (PostgreSQL)."""

PG_REJECT_CHANGE = """
CREATE FUNCTION shanlian_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the % table is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    _journal()
    _projections()
    _service()
    _checkpoints()
    _webhooks()
    _matching()
    _append_only_triggers()


def downgrade() -> None:
    # Dropping a table drops its indexes and triggers; the trigger function goes last.
    for table in reversed(TABLES):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS shanlian_reject_change()")


TABLES = (
    "entry",
    "merkle_node",
    "idempotency",
    "entry_ref",
    "charity",
    "charity_registration",
    "project",
    "donation",
    "disbursement",
    "allocation",
    "api_key",
    "donor",
    "evidence_file",
    "official_receipt",
    "checkpoint",
    "signed_checkpoint",
    "witness_cosignature",
    "witness_state",
    "webhook_endpoint",
    "webhook_delivery",
    "matcher",
    "match_pool",
    "match",
)
"""Every table, in the order ``upgrade`` creates them."""


def _journal() -> None:
    """The entries, the Merkle tiles' nodes, idempotency keys and the entries' timelines."""
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
        "merkle_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        columns.integer("idx"),
        columns.digest("hash"),
        columns.primary_key("merkle_node", "level", "idx"),
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


def _projections() -> None:
    """What the journal says now: charities, projects, donations, disbursements, allocations."""
    op.create_table(
        "charity",
        columns.journal_id("charity_id"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registration_no", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=True),
        columns.integer("seq"),
        # Null while the signer is the one its charity.registered set.
        sa.Column("signer_seq", sa.BigInteger(), nullable=True),
        columns.primary_key("charity", "charity_id"),
    )
    op.create_table(
        "charity_registration",
        sa.Column("registration_key", sa.String(length=64), nullable=False),
        columns.journal_id("charity_id"),
        columns.primary_key("charity_registration", "registration_key"),
    )
    op.create_table(
        "project",
        columns.journal_id("project_id"),
        columns.journal_id("charity_id"),
        sa.Column("title", sa.String(length=200), nullable=False),
        columns.integer("goal_amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        columns.integer("seq"),
        sa.Column("closed", sa.Boolean(), nullable=False, server_default=sa.false()),
        columns.primary_key("project", "project_id"),
    )
    op.create_index(op.f("ix_project_charity_id"), "project", ["charity_id"], unique=False)
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


def _service() -> None:
    """Outside the journal: API keys, donors (personal data), evidence files, e-receipts."""
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


def _checkpoints() -> None:
    """Anchored checkpoints (mirrored from the chain), signed ones, witnesses' cosignatures."""
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
    op.create_table(
        "signed_checkpoint",
        columns.integer("tree_size"),
        columns.digest("root_hash"),
        sa.Column("note", sa.Text(), nullable=False),
        columns.timestamp("signed_at"),
        columns.primary_key("signed_checkpoint", "tree_size"),
    )
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


def _webhooks() -> None:
    """Charities' endpoints and the outbox of deliveries (ledger/store/outbox.py)."""
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


def _matching() -> None:
    """Matching funds (配捐, ADR 0040): matchers, their pools, the matches made."""
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


def _append_only_triggers() -> None:
    """Reject UPDATE, DELETE and TRUNCATE on the journal and its Merkle nodes, and UPDATE
    and DELETE on the statements (PostgreSQL); UPDATE and DELETE on the journal and its
    nodes (SQLite)."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_REJECT_CHANGE)
        for table in APPEND_ONLY:
            triggers.reject_row_changes(table)
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION shanlian_reject_change()"
            )
        for table in STATEMENTS:
            triggers.reject_row_changes(table)
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the {table} table is append-only: "
                    f"{operation} is not allowed'); END"
                )
