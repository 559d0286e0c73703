"""Read-only by construction: the explorer's engine cannot write, and on PostgreSQL its
role can read only the public tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient
from sqlalchemy import text

from explorer.app import create_explorer
from explorer.roles import PRIVATE_TABLES, drop_read_only_role, grant_read_only_role
from explorer.views import PublicViews
from ledger.store.journal import Store
from tests.explorer.conftest import World, build_world


def _views(world: World) -> PublicViews:
    return PublicViews(store=world.store, public_url="http://testserver").read_only()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO charity (charity_id, name, registration_no, seq) "
        "VALUES ('ch_x', 'x', 'x', 99)",
        "UPDATE donation SET amount = 1",
        "DELETE FROM checkpoint",
        "CREATE TABLE intruder (id integer)",
    ],
)
def test_a_write_through_the_explorers_engine_fails(world: World, statement: str) -> None:
    views = _views(world)
    before = world.store.size()
    with pytest.raises(sqlalchemy.exc.DBAPIError) as caught, views.store.engine.begin() as c:
        c.execute(text(statement))
    message = str(caught.value).lower()
    assert "read-only" in message or "readonly" in message or "read only" in message
    assert world.store.size() == before
    views.store.engine.dispose()


def test_explorer_views_read_what_the_writer_appended(world: World) -> None:
    views = _views(world)
    assert views.store.size() == world.store.size()
    assert views.donation_view(world.earmarked).amount == 10_000
    views.store.engine.dispose()


def test_the_explorer_app_has_no_route_that_writes(sqlite_client: TestClient) -> None:
    for route in sqlite_client.app.routes:  # type: ignore[attr-defined]
        methods = getattr(route, "methods", None)
        if methods is not None:
            assert methods <= {"GET", "HEAD"}, route


@pytest.fixture
def explorer_role(pg_database: str) -> Iterator[tuple[str, str]]:
    """A migrated database with the world in it, and the explorer's role granted on it."""
    role = f"shanlian_explorer_{uuid.uuid4().hex[:8]}"
    store = Store.open(pg_database)
    build_world(store)
    store.engine.dispose()
    grant = grant_read_only_role(pg_database, role=role, password="explorer-test-password")
    assert grant.created
    assert set(grant.withheld) == PRIVATE_TABLES
    assert {"entry", "merkle_node", "checkpoint", "donation"} <= set(grant.tables)
    base, _, database = pg_database.rpartition("/")
    scheme, _, host = base.partition("://")
    host = host.rpartition("@")[2]
    yield pg_database, f"{scheme}://{role}:explorer-test-password@{host}/{database}"
    drop_read_only_role(pg_database, role=role)


@pytest.mark.postgres
def test_explorer_role_reads_public_tables_and_pages_render(
    explorer_role: tuple[str, str],
) -> None:
    owner_url, role_url = explorer_role
    owner = Store.open(owner_url, upgrade=False)
    views = PublicViews(store=owner, public_url="http://testserver").read_only(role_url)
    assert views.store.engine.url.username.startswith("shanlian_explorer_")  # type: ignore[union-attr]
    assert views.store.size() == owner.size()
    assert views.home_page().totals.donations == 4
    with TestClient(create_explorer(views)) as client:
        assert client.get("/").status_code == 200
        assert client.get("/checkpoints.json").json()["count"] == 2
    views.store.engine.dispose()
    owner.engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("table", sorted(PRIVATE_TABLES))
def test_explorer_role_cannot_read_personal_data(
    explorer_role: tuple[str, str], table: str
) -> None:
    _owner_url, role_url = explorer_role
    with (
        psycopg.connect(role_url.replace("+psycopg", "")) as connection,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        connection.execute(f"SELECT * FROM {table}")


@pytest.mark.postgres
def test_explorer_role_cannot_write_even_outside_a_read_only_transaction(
    explorer_role: tuple[str, str],
) -> None:
    _owner_url, role_url = explorer_role
    with psycopg.connect(role_url, autocommit=True) as connection:
        assert connection.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        connection.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("UPDATE donation SET amount = 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("INSERT INTO checkpoint (checkpoint_index) VALUES (99)")


@pytest.mark.postgres
def test_granting_again_is_idempotent(explorer_role: tuple[str, str]) -> None:
    owner_url, role_url = explorer_role
    role = role_url.split("://", 1)[1].split(":", 1)[0]
    again = grant_read_only_role(owner_url, role=role)
    assert not again.created
    with psycopg.connect(role_url) as connection:
        assert connection.execute("SELECT count(*) FROM entry").fetchone() is not None
