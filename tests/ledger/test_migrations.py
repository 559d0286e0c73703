"""Migrations run up, down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from sqlalchemy import inspect

from ledger.store import (
    official_receipts,  # noqa: F401 - its tables are part of the schema
    outbox,  # noqa: F401 - its tables are part of the schema
    witnesses,  # noqa: F401 - its tables are part of the schema
)
from ledger.store.engine import make_engine
from ledger.store.journal import Store
from ledger.store.migrate import downgrade, upgrade
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
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

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


def test_the_registration_table_is_filled_from_the_charities_already_registered(
    empty_url: str,
) -> None:
    """Migration 0004: each registration number once, the first charity that used it."""
    from sqlalchemy import text

    engine = make_engine(empty_url)
    upgrade(engine, "0003")
    rows = [
        ("ch_a", "53530000MJ0005678Y", 0),
        ("ch_b", "5353-0000-mj00-0567-8y", 1),  # the same number, written otherwise
        ("ch_c", "ＡＢ１２", 2),
    ]
    with engine.begin() as connection:
        for charity_id, number, seq in rows:
            connection.execute(
                text(
                    "INSERT INTO charity (charity_id, name, registration_no, signer, seq) "
                    "VALUES (:id, 'n', :no, NULL, :seq)"
                ),
                {"id": charity_id, "no": number, "seq": seq},
            )
    upgrade(engine)
    with engine.connect() as connection:
        taken = dict(
            connection.execute(
                text("SELECT registration_key, charity_id FROM charity_registration")
            ).all()
        )
    engine.dispose()
    assert taken == {"53530000MJ0005678Y": "ch_a", "AB12": "ch_c"}
