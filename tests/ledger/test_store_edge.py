"""The Merkle edge a committed batch leaves for the next one (``Appender._take_edge``).

A store keeps the tree's right edge after each commit and starts its next batch from it,
instead of reading the edge's nodes again, only when the journal still ends where that
batch left it. Every test holds the stored tree to the one the leaves alone make.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy.engine import Connection

from ledger import merkle
from ledger.errors import AccountingError
from ledger.merkle import NodeId
from ledger.store import writes
from ledger.store.journal import Store
from ledger.store.requests import AppendRequest, AppendResult
from ledger.store.tiles import read_nodes
from tests import factories as f
from tests.ledger.test_merkle import naive_mth


@pytest.fixture
def edge_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The journal size of every read of the tree's edge from the stored nodes."""
    reads: list[int] = []

    def counted(connection: Connection, ids: Sequence[NodeId]) -> list[bytes]:
        reads.append(len(ids))
        return read_nodes(connection, ids)

    monkeypatch.setattr(writes, "read_nodes", counted)
    return reads


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[Store, Store, str, str]]:
    """Two stores on one journal (two processes, as ``serve --workers 2``), with a
    charity and a project appended."""
    first = Store.open(database_url)
    second = Store.open(database_url, upgrade=False)
    charity = f.charity()
    project = f.project(charity.body["charity_id"])
    first.append([charity, project])
    try:
        yield first, second, charity.body["charity_id"], project.body["project_id"]
    finally:
        first.engine.dispose()
        second.engine.dispose()


def assert_tree_is_the_leaves(store: Store) -> None:
    """The stored nodes verify, and the root is the one the leaves alone give."""
    leaves = list(store.leaves())
    assert len(leaves) == store.size()
    # Every stored node is checked too: the root reads only the O(log n) on the edge.
    assert store.root() == naive_mth(leaves)
    verification = store.verify()
    assert verification.ok, verification.problems


def test_a_batch_starts_from_the_edge_the_last_one_left(
    stores: tuple[Store, Store, str, str], edge_reads: list[int]
) -> None:
    first, _second, charity_id, project_id = stores
    edge_reads.clear()
    for amount in (100, 200, 300):
        first.append([f.donation(charity_id, project_id, amount=amount) for _ in range(5)])
    assert edge_reads == []
    assert first.size() == 17
    assert_tree_is_the_leaves(first)


def test_a_journal_another_store_wrote_to_is_read_again(
    stores: tuple[Store, Store, str, str], edge_reads: list[int]
) -> None:
    first, second, charity_id, project_id = stores
    edge_reads.clear()
    second.append([f.donation(charity_id, project_id, amount=7) for _ in range(3)])
    first.append([f.donation(charity_id, project_id, amount=8) for _ in range(6)])
    second.append([f.donation(charity_id, project_id, amount=9)])
    # Each store's edge was stale when its turn came: 2 entries, then 5, then 11.
    assert edge_reads == [
        len(merkle.root_plan(2)),
        len(merkle.root_plan(5)),
        len(merkle.root_plan(11)),
    ]
    first.append([f.donation(charity_id, project_id, amount=10)])
    assert len(edge_reads) == 4
    second.append([f.donation(charity_id, project_id, amount=11)])
    assert len(edge_reads) == 5
    second.append([f.donation(charity_id, project_id, amount=12)])
    assert len(edge_reads) == 5
    assert_tree_is_the_leaves(first)


def test_a_batch_the_database_refused_leaves_no_edge_behind(
    stores: tuple[Store, Store, str, str], edge_reads: list[int]
) -> None:
    first, _second, charity_id, project_id = stores
    taken = f.donation(charity_id, project_id, amount=5)
    first.append([taken])
    edge_reads.clear()
    # The batch builds on the kept edge, extends it, then the primary key refuses the
    # repeated donation id: the transaction rolls back, each request goes again alone.
    outcome = first.append_batch(
        [
            AppendRequest([f.donation(charity_id, project_id, amount=6) for _ in range(4)]),
            AppendRequest([taken]),
            AppendRequest([f.donation(charity_id, project_id, amount=7)]),
        ]
    )
    assert outcome.fell_back
    assert isinstance(outcome.results[0], AppendResult)
    assert isinstance(outcome.results[1], AccountingError)
    assert isinstance(outcome.results[2], AppendResult)
    assert edge_reads, "the refused batch's edge was kept"
    first.append([f.donation(charity_id, project_id, amount=8)])
    assert first.size() == 3 + 4 + 1 + 1
    assert_tree_is_the_leaves(first)


def test_a_refused_request_alone_keeps_the_edge_where_it_was(
    stores: tuple[Store, Store, str, str], edge_reads: list[int]
) -> None:
    first, _second, charity_id, project_id = stores
    edge_reads.clear()
    refused = first.append_batch(
        [AppendRequest([f.donation(charity_id, "pr_nosuchproject", amount=1)])]
    )
    assert isinstance(refused.results[0], AccountingError)
    first.append([f.donation(charity_id, project_id, amount=2) for _ in range(3)])
    assert edge_reads == []
    assert_tree_is_the_leaves(first)
