"""Each registration number once: charity_registration, filled from the charities so far

Created 2026-12-05.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.entries import registration_key
from ledger.store.migrations import columns

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    table = op.create_table(
        "charity_registration",
        sa.Column("registration_key", sa.String(length=64), nullable=False),
        columns.journal_id("charity_id"),
        columns.primary_key("charity_registration", "registration_key"),
    )
    # The charities registered so far, the first of each number (a journal written before
    # this table may hold a number twice: it stays there, and the number stays taken).
    rows = op.get_bind().execute(
        sa.text("SELECT charity_id, registration_no FROM charity ORDER BY seq")
    )
    taken: dict[str, str] = {}
    for charity_id, registration_no in rows:
        taken.setdefault(registration_key(registration_no)[:64], charity_id)
    if taken:
        op.bulk_insert(table, [{"registration_key": k, "charity_id": v} for k, v in taken.items()])


def downgrade() -> None:
    op.drop_table("charity_registration")
