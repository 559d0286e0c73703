"""Migrations run up, down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ledger.errors import StoreError
from ledger.store import (
    official_receipts,  # noqa: F401 - its tables are part of the schema
    outbox,  # noqa: F401 - its tables are part of the schema
    witnesses,  # noqa: F401 - its tables are part of the schema
)
from ledger.store.engine import make_engine
from ledger.store.journal import Store
from ledger.store.migrate import LAST_WITH_RETIRED, downgrade, upgrade
from ledger.store.tables import metadata
from tests import factories as f


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("empty_pg_database"))


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_run_up_down_and_up_again(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)
    assert tables(empty_url) == set(metadata.tables) | {"alembic_version"}
    downgrade(engine)
    assert tables(empty_url) <= {"alembic_version"}
    upgrade(engine)
    engine.dispose()
    store = Store.open(empty_url)
    charity = f.charity()
    store.append([charity, f.project(charity.body["charity_id"])])
    assert store.verify().ok
    store.engine.dispose()


def test_the_migrated_schema_matches_the_models(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []


def _migrate_when_told(url: str, go: Any) -> None:
    """In a process of its own: wait for the signal, then migrate ``url``."""
    engine = make_engine(url)
    go.wait()
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_processes_starting_together_migrate_a_fresh_database_once(
    empty_pg_database: str,
) -> None:
    # API processes and workers started at once on a new database each run the
    # migrations at start: one migrates, the others wait for it and find nothing to do.
    context = multiprocessing.get_context("fork")
    go = context.Event()
    processes = [
        context.Process(target=_migrate_when_told, args=(empty_pg_database, go), daemon=True)
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    go.set()
    for process in processes:
        process.join(60)
    alive = [p.pid for p in processes if p.is_alive()]
    for process in processes:
        process.kill()
    assert not alive, f"processes {alive} were still migrating after a minute"
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    store = Store.open(empty_pg_database, upgrade=False)
    try:
        assert store.size() == 0
        with store.engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert len(versions.all()) == 1
    finally:
        store.engine.dispose()


SCHEMAS = Path(__file__).with_name("schemas")


def _make_schema_as_before_the_baseline(url: str, version: str) -> None:
    """Give the empty database at ``url`` the schema revisions 0001 to 0011 made (ADR 0050),
    its ``alembic_version`` saying ``version``."""
    if url.startswith("sqlite"):
        script = (SCHEMAS / "before-baseline-sqlite.sql").read_text()
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            connection.executescript(script)
            connection.execute("INSERT INTO alembic_version VALUES (?)", (version,))
        return
    script = (SCHEMAS / "before-baseline-postgresql.sql").read_text()
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        connection.execute(script.encode())  # type: ignore[call-overload]
        connection.execute("INSERT INTO public.alembic_version VALUES (%s)", (version,))


def test_a_database_the_old_revisions_brought_to_0011_is_at_the_baseline(
    empty_url: str,
) -> None:
    """The baseline is revision 0011: such a database is migrated no further and works."""
    _make_schema_as_before_the_baseline(empty_url, "0011")
    store = Store.open(empty_url)
    try:
        charity = f.charity()
        project = f.project(charity.body["charity_id"])
        store.append([charity, project])
        store.append([f.donation(charity.body["charity_id"], project.body["project_id"])])
        assert store.verify().ok
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
                ("0011",)
            ]
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("version", ["0001", "0007", "0010"])
def test_a_database_at_a_revision_the_baseline_replaced_is_refused_with_what_to_do(
    empty_url: str, version: str
) -> None:
    _make_schema_as_before_the_baseline(empty_url, version)
    before = tables(empty_url)
    engine = make_engine(empty_url)
    try:
        with pytest.raises(StoreError) as refused:
            upgrade(engine)
        with pytest.raises(StoreError):
            downgrade(engine)
    finally:
        engine.dispose()
    message = str(refused.value)
    assert f"revision {version}" in message
    assert "ADR 0050" in message
    assert f"commit {LAST_WITH_RETIRED}" in message
    assert "shanlian journal show" in message
    assert tables(empty_url) == before
    with pytest.raises(StoreError, match=f"revision {version}"):
        Store.open(empty_url)
