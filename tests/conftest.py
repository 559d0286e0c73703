"""Shared fixtures: fresh PostgreSQL databases from a migrated template, SQLite files."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from ledger.store.engine import make_engine
from ledger.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
"""A superuser connection: the tests create databases and play the tamperer."""


def pg_url(database: str) -> str:
    """The URL of ``database`` on the test server."""
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database to copy: creating from a template is much faster than migrating."""
    name = f"shanlian_tpl_{uuid.uuid4().hex[:8]}"
    try:
        with _admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({error}); run scripts/test")
    engine = make_engine(pg_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL database, dropped after the test."""
    name = f"shanlian_t_{uuid.uuid4().hex[:10]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield pg_url(name)
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database with no schema at all."""
    name = f"shanlian_e_{uuid.uuid4().hex[:10]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    """The URL of a SQLite file in the test's own folder."""
    return f"sqlite:///{os.fspath(tmp_path)}/journal.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_database"))
