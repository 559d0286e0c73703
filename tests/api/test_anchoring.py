"""The anchor worker against the embedded chain and a real anvil node."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import text

from api.anchoring import (
    AnchorBusyError,
    AnchorError,
    AnchorSettings,
    AnchorWorker,
    JournalDivergedError,
)
from chain.client import ChainClient
from chain.devnet import free_port, start_devnet
from chain.errors import CharityRegistryUnknownCharityError
from ledger import merkle
from ledger.store.checkpoints import leader_lock
from ledger.store.journal import Store
from tests.api.conftest import Journal, mine, revert, snapshot

NOW = AnchorSettings(interval_s=0, poll_s=0.05, backoff_max_s=0.2)


def test_worker_anchors_the_journal_and_every_entry_verifies_on_chain(
    journal: Journal, chain_client: ChainClient
) -> None:
    journal.donate(7)
    worker = AnchorWorker(journal.store, chain_client, NOW)
    checkpoint = worker.anchor_now()
    assert checkpoint is not None
    size = journal.store.size()
    assert (checkpoint.checkpoint_index, checkpoint.tree_size) == (0, size)
    assert checkpoint.root_hash == journal.store.root(size)
    assert chain_client.checkpoint_at(0).root_hash == checkpoint.root_hash
    assert chain_client.checkpoint_of(checkpoint.root_hash).tree_size == size
    for seq in range(size):
        leaf = journal.store.leaf_hash(seq)
        proof = journal.store.inclusion_proof(seq, size)
        assert chain_client.verify_inclusion(size, seq, leaf, proof)
    tampered = merkle.leaf_hash(b"not an entry")
    assert not chain_client.verify_inclusion(
        size, 3, tampered, journal.store.inclusion_proof(3, size)
    )


def test_worker_anchors_growth_with_a_consistency_proof(
    sqlite_journal: Journal, chain_client: ChainClient
) -> None:
    worker = AnchorWorker(sqlite_journal.store, chain_client, NOW)
    sizes = []
    for batch in (3, 1, 13, 5):
        sqlite_journal.donate(batch)
        checkpoint = worker.run_once()
        assert checkpoint is not None
        sizes.append(checkpoint.tree_size)
    assert chain_client.checkpoint_count() == 4
    assert [c.tree_size for c in worker.checkpoints.all()] == sizes == [5, 6, 19, 24]
    assert [c.checkpoint_index for c in worker.checkpoints.all()] == [0, 1, 2, 3]


def test_worker_sends_nothing_when_the_journal_has_not_grown(
    sqlite_journal: Journal, chain_client: ChainClient
) -> None:
    worker = AnchorWorker(sqlite_journal.store, chain_client, NOW)
    first = worker.anchor_now()
    worker.sync_registry()
    block = chain_client.block_number()
    assert worker.anchor_now() == first
    assert worker.run_once() == first
    assert chain_client.block_number() == block
    assert chain_client.checkpoint_count() == 1


def test_anchoring_is_due_by_interval_or_by_pending_entries(
    sqlite_journal: Journal, chain_client: ChainClient
) -> None:
    now = [0.0]
    settings = AnchorSettings(interval_s=60, max_pending=10)
    worker = AnchorWorker(sqlite_journal.store, chain_client, settings, clock=lambda: now[0])
    first = worker.run_once()  # a fresh worker anchors what is pending at once
    assert first is not None
    assert first.tree_size == 2
    sqlite_journal.donate(3)
    assert worker.run_once() == first  # 3 waiting, no time passed
    now[0] = 61.0
    latest = worker.run_once()
    assert latest is not None
    assert latest.tree_size == 5
    sqlite_journal.donate(9)
    assert worker.run_once() == latest  # 9 waiting, one minute not yet passed
    sqlite_journal.donate(1)
    grown = worker.run_once()
    assert grown is not None
    assert grown.tree_size == 15


def test_a_worker_killed_between_send_and_record_leaves_no_duplicate_and_no_gap(
    sqlite_journal: Journal, chain_client: ChainClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_journal.donate(4)
    crashing = AnchorWorker(sqlite_journal.store, chain_client, NOW)

    class Killed(BaseException):
        pass

    def killed(*_args: object, **_kwargs: object) -> None:
        raise Killed

    monkeypatch.setattr(chain_client, "anchor_outcome", killed)
    with pytest.raises(Killed):
        crashing.anchor_now()
    monkeypatch.undo()
    assert chain_client.checkpoint_count() == 1  # it was sent…
    assert crashing.checkpoints.all() == []  # …and never recorded

    restarted = AnchorWorker(sqlite_journal.store, chain_client, NOW)
    state = restarted.reconcile()
    assert state.recorded == 1
    assert state.latest is not None
    assert state.latest.tree_size == 6
    assert restarted.anchor_now() == state.latest  # nothing new: no second anchor
    assert chain_client.checkpoint_count() == 1
    sqlite_journal.donate(2)
    grown = restarted.anchor_now()
    assert grown is not None
    assert (grown.checkpoint_index, grown.tree_size) == (1, 8)


def test_a_reorg_that_drops_an_anchor_gets_it_sent_again(
    sqlite_journal: Journal, chain_client: ChainClient
) -> None:
    worker = AnchorWorker(sqlite_journal.store, chain_client, NOW)
    sqlite_journal.donate(3)
    first = worker.anchor_now()
    before_second = snapshot(chain_client)
    sqlite_journal.donate(3)
    second = worker.anchor_now()
    assert second is not None
    assert second.checkpoint_index == 1
    revert(chain_client, before_second)
    mine(chain_client, 2)
    assert chain_client.checkpoint_count() == 1

    state = worker.reconcile()
    assert state.forgotten == 1
    assert state.latest == first
    again = worker.run_once()
    assert again is not None
    assert (again.checkpoint_index, again.tree_size, again.root_hash) == (
        1,
        second.tree_size,
        second.root_hash,
    )
    assert again.block_number != second.block_number
    assert chain_client.checkpoint_count() == 2


def test_checkpoints_are_confirmed_after_enough_blocks(
    sqlite_journal: Journal, chain_client: ChainClient
) -> None:
    chain_client.confirmations = 3
    worker = AnchorWorker(sqlite_journal.store, chain_client, NOW)
    anchored = worker.anchor_now()
    assert anchored is not None
    assert not anchored.confirmed
    mine(chain_client, 1)
    state = worker.reconcile()
    assert state.latest is not None
    assert not state.latest.confirmed
    mine(chain_client, 1)
    state = worker.reconcile()
    assert state.latest is not None
    assert state.latest.confirmed


def test_worker_refuses_to_anchor_a_journal_that_no_longer_matches_the_chain(
    sqlite_journal: Journal, chain_client: ChainClient
) -> None:
    sqlite_journal.donate(3)
    AnchorWorker(sqlite_journal.store, chain_client, NOW).anchor_now()
    with sqlite_journal.store.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER entry_no_update"))
        connection.execute(text("UPDATE entry SET leaf_hash = zeroblob(32) WHERE seq = 4"))
    sqlite_journal.donate(1)
    fresh = AnchorWorker(sqlite_journal.store, chain_client, NOW)
    with pytest.raises(JournalDivergedError, match="checkpoint 0"):
        fresh.anchor_now()
    assert chain_client.checkpoint_count() == 1


def test_a_new_chain_gets_the_whole_journal_anchored_again(
    sqlite_journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shanlian.anchor")
    first_chain = ChainClient.embedded()
    first_chain.deploy()
    AnchorWorker(sqlite_journal.store, first_chain, NOW).anchor_now()
    # The embedded chain starts empty at every run: the service redeploys.
    second_chain = ChainClient.embedded()
    second_chain.deploy()
    worker = AnchorWorker(sqlite_journal.store, second_chain, NOW)
    checkpoint = worker.anchor_now()
    assert checkpoint is not None
    assert checkpoint.checkpoint_index == 0
    assert [c.chain_id for c in worker.checkpoints.all()] == [second_chain.chain_id]
    # Expected of the embedded chain (serve says so once, plainly): no warning about it.
    gone = [r for r in caplog.records if "recorded ones are gone" in r.getMessage()]
    assert [r.levelno for r in gone] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.postgres
def test_only_one_process_anchors_at_a_time(pg_database: str, chain_client: ChainClient) -> None:
    first_store, second_store = Store.open(pg_database), Store.open(pg_database, upgrade=False)
    journal = Journal(first_store)
    journal.donate(2)
    leader = AnchorWorker(first_store, chain_client, NOW)
    other = AnchorWorker(second_store, chain_client, NOW)
    stop = threading.Event()
    thread = threading.Thread(target=leader.run, args=(stop,))
    thread.start()
    try:
        for _ in range(200):
            if leader.checkpoints.latest() is not None:
                break
            stop.wait(0.05)
        with pytest.raises(AnchorBusyError):
            other.anchor_now()
        with leader_lock(second_store.engine) as acquired:
            assert not acquired
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    with leader_lock(second_store.engine) as acquired:
        assert acquired
    assert chain_client.checkpoint_count() == 1
    first_store.engine.dispose()
    second_store.engine.dispose()


@pytest.mark.anvil
def test_worker_backs_off_while_the_node_is_down_and_anchors_when_it_returns(
    sqlite_journal: Journal, tmp_path: pytest.TempPathFactory
) -> None:
    port = free_port()
    state = tmp_path / "state.json"  # type: ignore[operator]
    node = start_devnet(port=port, state_file=state)
    client = ChainClient.connect(node.rpc_url, receipt_timeout_s=10, request_timeout_s=2)
    client.deploy()
    worker = AnchorWorker(sqlite_journal.store, client, NOW)
    first = worker.anchor_now()
    node.stop()
    sqlite_journal.donate(5)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        stop.wait(1.0)  # several failed cycles while the node is down
        assert thread.is_alive()
        node = start_devnet(port=port, state_file=state)
        for _ in range(200):
            latest = worker.checkpoints.latest()
            if latest is not None and latest != first:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(10)
        node.stop()
    latest = worker.checkpoints.latest()
    assert latest is not None
    assert (latest.checkpoint_index, latest.tree_size) == (1, 7)


def test_worker_registers_the_journals_charities_on_chain(
    sqlite_journal: Journal, chain_client: ChainClient
) -> None:
    worker = AnchorWorker(sqlite_journal.store, chain_client, NOW)
    assert worker.sync_registry() == 1
    on_chain = chain_client.charity(sqlite_journal.charity_id)
    entry = next(e for e in sqlite_journal.store.entries() if e.kind == "charity.registered")
    assert on_chain.metadata_hash == entry.leaf_hash
    assert on_chain.active
    assert worker.sync_registry() == 0
    assert AnchorWorker(sqlite_journal.store, chain_client, NOW).sync_registry() == 0


@pytest.mark.parametrize("blocks_since", [0, 4])
def test_a_registration_the_chain_forgot_is_made_again(
    sqlite_journal: Journal, chain_client: ChainClient, blocks_since: int
) -> None:
    # A node restored from a state older than the registration (with, or without, new
    # blocks since): the worker saw the charity registered and must not trust that.
    worker = AnchorWorker(sqlite_journal.store, chain_client, NOW)
    before = snapshot(chain_client)
    assert worker.sync_registry() == 1
    revert(chain_client, before)
    mine(chain_client, blocks_since)
    with pytest.raises(CharityRegistryUnknownCharityError):
        chain_client.charity(sqlite_journal.charity_id)
    assert worker.sync_registry() == 1
    assert chain_client.charity(sqlite_journal.charity_id).active
    assert worker.sync_registry() == 0


@pytest.mark.parametrize(
    "error",
    [
        AnchorError("checkpoint 0 is on chain but no CheckpointAnchored log was found"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=["anchor error", "raw connection reset"],
)
def test_a_transient_error_does_not_stop_the_worker(
    sqlite_journal: Journal, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    client = ChainClient.embedded()
    client.deploy()
    worker = AnchorWorker(sqlite_journal.store, client, NOW)
    real_run_once = worker.run_once
    failures = []

    def flaky_run_once() -> object:
        if not failures:
            failures.append(1)
            raise error
        return real_run_once()

    monkeypatch.setattr(worker, "run_once", flaky_run_once)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        for _ in range(200):
            if worker.checkpoints.latest() is not None:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(10)
    assert failures == [1]
    assert worker.checkpoints.latest() is not None
