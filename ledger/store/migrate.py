"""Schema migrations of the store (Alembic), run from code or from the CLI.

Every process that opens the store migrates it first, so several starting at once (API
processes and workers on a new database, or after an upgrade) would run the same
migration side by side, and all but one would fail on the objects the first created.
On PostgreSQL a migration therefore holds a transaction-level advisory lock: the others
wait for it, then find the schema at the revision asked for and do nothing. (SQLite
serializes writers to its file itself.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine

from ledger.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")

MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"shanlian.store.migrate").digest()[:8], "big", signed=True
)
"""pg_advisory_xact_lock key of migrations: the first 8 bytes of SHA-256 of its name."""


RETIRED = frozenset(f"{number:04d}" for number in range(1, 11))
"""Revisions 0001 to 0010: replaced, with 0011, by the 0.1.0 baseline (ADR 0050)."""
LAST_WITH_RETIRED = "5fa3543"
"""The last commit whose migrations bring a database at a retired revision to 0011."""


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration bound to ``engine``'s URL and our migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def _one_at_a_time(connection: Connection) -> None:
    """Wait for any other process's migration to end (PostgreSQL; until this one commits)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (waiting for one already under way)."""
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Migrate the database down to ``revision`` (waiting for one already under way)."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    """Run Alembic's ``step`` to ``revision`` on one connection, holding the migration lock."""
    with engine.begin() as connection:
        _one_at_a_time(connection)
        _refuse_retired(connection)
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        step(config, revision)


def _refuse_retired(connection: Connection) -> None:
    """A database at a revision the baseline replaced cannot be migrated by this code.

    Raises:
        StoreError: it names the revision and how to bring the database to 0011.
    """
    if not inspect(connection).has_table("alembic_version"):
        return
    stored = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    retired = sorted(set(stored) & RETIRED)
    if retired:
        raise StoreError(
            f"the database's schema is at revision {retired[0]}, from before the 0.1.0 "
            "baseline (ADR 0050), and this version cannot migrate it: run `shanlian "
            f"journal show` on it once with shanlian at commit {LAST_WITH_RETIRED} (that "
            "brings it to revision 0011), then open it with this version"
        )
