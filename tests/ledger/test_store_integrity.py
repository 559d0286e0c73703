"""Append-only enforcement, and the store's own verification naming tampered rows."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.store.journal import Store
from tests import factories as f


def seeded(url: str, donations: int = 12) -> Store:
    store = Store.open(url)
    charity = f.charity()
    charity_id = charity.body["charity_id"]
    project = f.project(charity_id)
    store.append([charity, project])
    store.append(
        [
            f.donation(charity_id, project.body["project_id"], amount=100 + i)
            for i in range(donations)
        ]
    )
    return store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = seeded(database_url)
    yield opened
    opened.engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE entry SET kind = 'x' WHERE seq = 3",
        "DELETE FROM entry WHERE seq = 13",
        "UPDATE merkle_node SET hash = hash WHERE level = 2 AND idx = 1",
        "DELETE FROM merkle_node WHERE level = 2",
    ],
)
def test_the_journal_and_its_nodes_reject_update_and_delete(store: Store, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
        connection.execute(text(statement))
    assert store.verify().ok


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["entry", "merkle_node"])
def test_postgres_rejects_truncate_of_the_journal(pg_database: str, table: str) -> None:
    store = seeded(pg_database, donations=2)
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {table} CASCADE"))
    assert store.size() == 4


def test_an_honest_journal_verifies(store: Store) -> None:
    report = store.verify()
    assert report.ok, report.problems
    assert report.size == 14


def tamper(url: str, *statements: str) -> None:
    """Change rows as a superuser with the append-only triggers switched off."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("SET session_replication_role = replica")
        for statement in statements:
            connection.execute(statement)


AMOUNT_OF_SEQ_7 = (
    "UPDATE entry SET leaf = replace(leaf, '\"amount\":105', '\"amount\":999') WHERE seq = 7"
)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("statements", "first_bad_seq", "check"),
    [
        pytest.param([AMOUNT_OF_SEQ_7], 7, "leaf_hash", id="amount changed"),
        pytest.param(["DELETE FROM entry WHERE seq = 9"], 9, "gapless", id="row deleted"),
        pytest.param(
            ["UPDATE entry SET kind = 'project.opened' WHERE seq = 5"], 5, "columns", id="column"
        ),
        pytest.param(
            [
                "UPDATE entry SET leaf = replace(leaf, 'T', 't') WHERE seq = 6",
            ],
            6,
            "leaf_hash",
            id="timestamp changed",
        ),
        pytest.param(
            [
                "UPDATE entry SET leaf = (SELECT leaf FROM entry WHERE seq = 4) WHERE seq = 10",
            ],
            10,
            "leaf_hash",
            id="row copied over another",
        ),
        pytest.param(
            [
                AMOUNT_OF_SEQ_7,
                "UPDATE entry SET leaf_hash = sha256('\\x00'::bytea || convert_to(leaf, 'UTF8')) "
                "WHERE seq = 7",
            ],
            4,
            "merkle_node",
            id="amount and leaf hash changed",
        ),
    ],
)
def test_verification_names_the_first_tampered_seq(
    pg_database: str, statements: list[str], first_bad_seq: int, check: str
) -> None:
    store = seeded(pg_database)
    tamper(pg_database, *statements)
    report = store.verify()
    assert not report.ok
    assert report.first_bad_seq == first_bad_seq
    assert report.problems[0][1] == check


@pytest.mark.postgres
def test_a_changed_amount_also_breaks_the_projections(pg_database: str) -> None:
    # The projections were written at append time from the honest entry.
    store = seeded(pg_database)
    tamper(pg_database, AMOUNT_OF_SEQ_7)
    problems = store.verify().problems
    assert any(check == "projection" for _, check, _ in problems)
