"""Charity signatures (ADR 0037): charity.signer_seq, the entry that set the signer

Created 2026-12-05.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    # Null for every charity so far: its signer is the one its charity.registered set.
    with op.batch_alter_table("charity") as batch:
        batch.add_column(sa.Column("signer_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("charity") as batch:
        batch.drop_column("signer_seq")
