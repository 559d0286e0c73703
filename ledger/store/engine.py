"""Database engines for the store: PostgreSQL in production, a SQLite file embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine

from ledger.store.files import create_private_file

SQLITE_BUSY_TIMEOUT_MS = 60_000


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` set up the way the store needs it.

    SQLite runs in WAL mode with foreign keys on; every transaction starts with
    ``BEGIN IMMEDIATE`` so writers queue on the database lock instead of failing
    halfway. ``read_only`` opens SQLite read-only and makes PostgreSQL sessions
    read-only by default (the explorer's engine). PostgreSQL sessions keep UTC.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, read_only=read_only, **kwargs)
    # Sessions keep UTC, whatever the server's TimeZone: in Asia/Shanghai a stored
    # 9999-12-31T23:59Z would be read as year 10000, which no datetime holds.
    options = "-c TimeZone=UTC"
    if read_only:
        options += " -c default_transaction_read_only=on"
    connect_args: dict[str, Any] = {"options": options}
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, connect_args=connect_args, **kwargs)


def _sqlite_file(url: str) -> Path | None:
    """The database file a SQLite URL names, or None (in memory, or a ``file:`` URI)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


READ_POOL_SIZE = 40
"""Connections a read-only SQLite twin keeps open: one per thread of the API's default
pool for reads (Starlette's 40). Opened as needed and kept: an overflow connection is
closed when given back, and reopening one per request costs more than the read."""


def read_only_twin(engine: Engine) -> Engine | None:
    """For a SQLite file, an engine that reads the same file read-only; else None.

    The writable engine begins every transaction with ``BEGIN IMMEDIATE``, which is the
    database's one write lock: its reads queue behind each other and behind every append.
    The twin's transactions are plain ``BEGIN`` in WAL mode: they read the latest commit
    and wait for no one. PostgreSQL needs no twin (its readers never wait for writers).
    """
    if engine.dialect.name != "sqlite" or _sqlite_file(str(engine.url)) is None:
        return None
    url = engine.url.render_as_string(hide_password=False)
    return make_engine(url, read_only=True, pool_size=READ_POOL_SIZE, max_overflow=10)


def _sqlite_engine(url: str, *, read_only: bool, **kwargs: Any) -> Engine:
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": 60}
    database_file = _sqlite_file(url)
    if not read_only and database_file is not None and database_file.parent.is_dir():
        # Donors' personal data and receipt secrets: readable by the owner only. SQLite
        # gives its -wal and -shm files the mode of the database file.
        create_private_file(database_file)
    if read_only and not (make_url(url).database or "").startswith("file:"):  # a twin's is
        path = url.split(":///", 1)[1]
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
