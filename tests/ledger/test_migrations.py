"""Migrations run up, down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

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
