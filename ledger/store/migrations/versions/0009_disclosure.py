"""Disclosure (ADR 0039): a project may be closed (project.closed), for its final report

Created 2026-12-05.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    # No journal before this revision holds a project.closed entry: every project is open.
    with op.batch_alter_table("project") as batch:
        batch.add_column(
            sa.Column("closed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("project") as batch:
        batch.drop_column("closed")
