"""The explorer's PostgreSQL role: it may SELECT the public tables, and nothing else.

Read-only is enforced at the connection (STYLE.md, the Datasette habit), twice over: the
explorer's engine opens read-only transactions (``make_engine(..., read_only=True)``),
and on PostgreSQL it logs in as ``shanlian_explorer``, a role that holds SELECT on the
journal, its Merkle nodes, the checkpoints and the projections, and no privilege on the
tables that hold personal data or secrets (``donor``, ``api_key``, ``idempotency``,
``official_receipt``).

Operators run, as the database owner, after each migration (it is idempotent)::

    python -m explorer grant-read-only --database-url postgresql://owner@host/shanlian

and give the explorer ``API_READ_ONLY_DATABASE_URL=postgresql://shanlian_explorer:…@host/shanlian``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ledger.store.engine import normalize_url

ROLE = "shanlian_explorer"
PRIVATE_TABLES = frozenset(
    {"donor", "api_key", "idempotency", "official_receipt", "webhook_endpoint", "webhook_delivery"}
)
"""Tables the explorer must never read: personal data, key hashes, request fingerprints,
official e-receipts (their numbers name the payer on the government's platform, ADR 0041),
charities' webhook endpoints (their signing secrets) and delivery logs (ADR 0034)."""


@dataclass(frozen=True)
class Grant:
    """What ``grant_read_only_role`` did.

    Attributes:
        role: the role's name.
        created: the role did not exist before.
        tables: the tables it may now SELECT.
        withheld: the tables of the schema it may not read.
    """

    role: str
    created: bool
    tables: tuple[str, ...]
    withheld: tuple[str, ...]


def _psycopg_url(url: str) -> str:
    return normalize_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


def grant_read_only_role(
    database_url: str,
    *,
    role: str = ROLE,
    password: str | None = None,
    schema: str = "public",
) -> Grant:
    """Create (or bring up to date) a login role that may only SELECT the public tables.

    Run it as the tables' owner (or a superuser), after migrating. It grants CONNECT on
    the database, USAGE on the schema and SELECT on every table of the schema except
    ``PRIVATE_TABLES``; it revokes everything else the role may have been given on them,
    and makes its sessions read-only by default.

    Args:
        database_url: the database, as its owner.
        role: the role to create or update.
        password: its login password (None: keep it, or no password for a new role,
            as with ``trust``/peer authentication).
        schema: the schema of the store's tables.

    Returns:
        What was granted.
    """
    with psycopg.connect(_psycopg_url(database_url), autocommit=True) as connection:
        name = sql.Identifier(role)
        exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        with connection.transaction():
            if not exists:
                connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(name))
            if password is not None:
                connection.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(password))
                )
            database = connection.execute("SELECT current_database()").fetchone()
            assert database is not None
            connection.execute(
                sql.SQL(
                    "ALTER ROLE {} IN DATABASE {} SET default_transaction_read_only = on"
                ).format(name, sql.Identifier(database[0]))
            )
            connection.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(database[0]), name
                )
            )
            connection.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), name)
            )
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
                    [schema],
                )
            ]
            granted, withheld = [], []
            for table in tables:
                qualified = sql.Identifier(schema, table)
                connection.execute(
                    sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(qualified, name)
                )
                if table in PRIVATE_TABLES:
                    withheld.append(table)
                    continue
                connection.execute(
                    sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(qualified, name)
                )
                granted.append(table)
    return Grant(role=role, created=not exists, tables=tuple(granted), withheld=tuple(withheld))


def drop_read_only_role(database_url: str, *, role: str = ROLE) -> None:
    """Take back what ``grant_read_only_role`` gave in this database, and drop the role
    if nothing else holds it (run it in each database the role was granted on)."""
    with psycopg.connect(_psycopg_url(database_url), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
            return
        name = sql.Identifier(role)
        connection.execute(sql.SQL("DROP OWNED BY {}").format(name))
        database = connection.execute("SELECT current_database()").fetchone()
        assert database is not None
        connection.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(sql.Identifier(database[0]), name)
        )
        connection.execute(
            sql.SQL("ALTER ROLE {} IN DATABASE {} RESET ALL").format(
                name, sql.Identifier(database[0])
            )
        )
        with contextlib.suppress(psycopg.errors.DependentObjectsStillExist):
            # still granted in another database: it stays until dropped there too
            connection.execute(sql.SQL("DROP ROLE {}").format(name))
