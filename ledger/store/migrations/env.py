"""Alembic environment: runs the store's migrations on the connection it is handed."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from ledger.store import (
    official_receipts,  # noqa: F401 - its tables are part of the schema
    outbox,  # noqa: F401 - its tables are part of the schema
    witnesses,  # noqa: F401 - its tables are part of the schema
)
from ledger.store.tables import metadata

config = context.config
target_metadata = metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; give a database URL")
run_migrations()
