"""Shared fixtures: settings kept out of the environment, fresh PostgreSQL databases from a
migrated template, SQLite files, stores on both, the session's one anvil and chain clients
with fresh contracts on each chain.

Fixture map (what lives where):

- here: ``_no_environment_settings`` (autouse), ``pg_template``, ``pg_database``,
  ``empty_pg_database``, ``sqlite_url``, ``database_url``, ``store``, ``sqlite_store``,
  ``anvil`` (one per session), ``chain_client``; helpers ``pg_url``, ``new_pg_database``,
  ``CHAINS`` and ``deployed_client``;
- ``tests/serving.py``: ``serve``, an app on a free port in a thread (the browser,
  deployment and docs tests);
- each package's conftest: what only that package's tests use.

Anvil: the chain, API and audit tests share the session's node. Every test that needs a
chain deploys contracts of its own on it (``deployed_client``), so tests never see each
other's state; a test that rewinds the chain (``evm_snapshot``/``evm_revert``) rewinds
only blocks it made itself, the tests of one session running one after another. The tests
that stop or restart a node (a state file, a chain id of their own, the fault rig) start
their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from chain.client import ChainClient
from chain.devnet import Devnet, free_port, start_devnet
from chain.embedded import EmbeddedChain
from ledger.store.engine import make_engine
from ledger.store.journal import Store
from ledger.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
"""A superuser connection: the tests create databases and play the tamperer."""

SETTINGS_PREFIXES = ("CHAIN_", "API_", "ANCHOR_", "EXPLORER_")
"""The environment variables our settings read: a test never takes them from the shell."""


@pytest.fixture(autouse=True)
def _no_environment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test, never from the environment the tests run in."""
    for name in list(os.environ):
        if name.upper().startswith(SETTINGS_PREFIXES):
            monkeypatch.delenv(name)


# -- databases ---------------------------------------------------------------------------------


def pg_url(database: str) -> str:
    """The URL of ``database`` on the test server."""
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


@contextmanager
def new_pg_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database named ``prefix_<random>`` (a copy of ``template``, if given), dropped
    at the end; yields its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield name
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database to copy: creating from a template is much faster than migrating."""
    try:
        with new_pg_database("shanlian_tpl") as name:
            engine = make_engine(pg_url(name))
            upgrade(engine)
            engine.dispose()
            yield name
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({error}); run scripts/test")


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL database, dropped after the test."""
    with new_pg_database("shanlian_t", template=pg_template) as name:
        yield pg_url(name)


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database with no schema at all."""
    with new_pg_database("shanlian_e") as name:
        yield pg_url(name)


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


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """An empty journal on SQLite, and again on PostgreSQL; its engine disposed after."""
    opened = Store.open(database_url)
    yield opened
    opened.engine.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """An empty journal on SQLite; its engine disposed after."""
    opened = Store.open(sqlite_url)
    yield opened
    opened.engine.dispose()


# -- chains ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """The session's one anvil, without a state file, on a free port; stopped by its PID."""
    log = tmp_path_factory.mktemp("anvil") / "anvil.log"
    node = start_devnet(port=free_port(), state_file=None, log_file=log)
    try:
        yield node
    finally:
        node.stop()


CHAINS = ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)]
"""The two chains a chain test runs on: parametrize with these, then ``deployed_client``."""


def deployed_client(request: pytest.FixtureRequest) -> ChainClient:
    """A client with freshly deployed contracts on the chain ``request.param`` names: a new
    embedded chain, or the session's anvil."""
    if request.param == "embedded":
        client = ChainClient.embedded(chain=EmbeddedChain())
    else:
        node: Devnet = request.getfixturevalue("anvil")
        client = ChainClient.connect(node.rpc_url)
    client.deploy()
    return client


@pytest.fixture(params=CHAINS)
def chain_client(request: pytest.FixtureRequest) -> ChainClient:
    """A client with freshly deployed contracts on each chain."""
    return deployed_client(request)
