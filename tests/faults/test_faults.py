"""Faults under load (DESIGN.md §8): afterwards nothing lost, nothing doubled, the audit passes.

Every test runs real API processes (``tests.faults.server``) on a journal in our own
PostgreSQL and a chain in our own anvil, has donors post donations through HTTP (each
with its own Idempotency-Key, retried with the same key on errors), injects one kind
of fault while they do, lets the system recover on its own, and then checks the same
things (``_assert_recovered``):

- every acknowledged donation is in the journal exactly once, with the id and seq of its
  201, and nothing that was sent is in it twice, however often it was retried;
- the journal is gapless and verifies against itself (``Store.verify``);
- the workers anchored the whole journal without help; each checkpoint on chain is the
  journal's root at its size, sizes grow strictly, one log each, no anchor transaction
  failed, and the ``checkpoint`` table mirrors the chain;
- ``shanlian audit`` of the journal, read from the API, against the chain, exits 0.
"""

from __future__ import annotations

import itertools
import shutil
import time

import pytest

from ledger.entries import to_hex
from ledger.store.checkpoints import CheckpointLog
from tests.faults import checks
from tests.faults.conftest import Rig
from tests.faults.donors import Outcome
from tests.faults.postgres import PgCluster
from tests.faults.server import HOLD_BEFORE_COMMIT_ENV, HOLD_ENV
from tests.faults.servers import ApiServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.anvil]

LOAD = 10
"""Donations acknowledged between one fault and the next."""


def _assert_recovered(rig: Rig, outcome: Outcome, reader: ApiServer) -> None:
    assert outcome.acknowledged, "the donors got nothing through"
    for server in rig.servers:
        died = [line for line in server.lines if line.startswith("worker-died")]
        assert died == [], f"{server.name}: {died}"
    checks.wait_until_anchored(rig.store, rig.client)
    checks.assert_nothing_lost_nothing_doubled(rig.store, outcome)
    checks.assert_journal_gapless(rig.store)
    checks.assert_each_checkpoint_anchored_once(rig.store, rig.client)
    checks.assert_audit_passes(f"{reader.url}/api/v1/entries", rig.client, workdir=rig.workdir)


def _sent_sizes(server: ApiServer) -> list[int]:
    return [int(line.split()[1]) for line in server.lines if line.startswith("anchor-sent")]


def test_a_worker_killed_right_after_sending_an_anchor_anchors_nothing_twice(rig: Rig) -> None:
    """Fault: SIGKILL of the worker's process between sending an anchor and recording it,
    twice in a row (the second time right after its restart), while donors post to it and
    to two ``--no-worker`` processes.

    Proves: the restarted worker finds the anchor on chain and records it (reconcile)
    instead of sending it again; donations in flight to the killed process are retried
    elsewhere with their key and land once."""
    hold = {HOLD_ENV: "60"}  # the worker waits right after each send: the kill lands there
    worker = rig.server("worker", worker=True, **hold)
    others = [rig.server(f"api-{i}", worker=False) for i in range(2)]
    with rig.donors(*others, worker) as donors:
        started = 0
        for kill in range(2):
            donors.wait_for(LOAD)
            line = worker.wait_for_line("anchor-sent", since=started)
            size = int(line.split()[1])
            worker.kill()
            _wait_until_mined(rig, line)
            anchored = rig.client.latest_checkpoint()
            assert anchored is not None
            assert anchored.tree_size == size  # sent and mined…
            recorded = CheckpointLog(rig.store.engine).latest()
            assert recorded is None or recorded.tree_size < size  # …but never recorded
            started = len(worker.lines)
            worker.start({HOLD_ENV: "60" if kill < 1 else "0"})
        donors.wait_for(LOAD)
        outcome = donors.stop()
    _assert_recovered(rig, outcome, others[0])


def test_postgresql_restarted_under_load_loses_and_doubles_nothing(
    rig: Rig, pg_cluster: PgCluster
) -> None:
    """Fault: our PostgreSQL stopped and started under load, once ``fast`` (every session
    rolled back and cut) and once ``immediate`` (a crash: recovery from the WAL).

    Proves: appends cut mid-transaction are all-or-nothing, a retry after an answer lost
    with the connection replays the first result instead of appending again, acknowledged
    commits survive a crash, and the API and the worker reconnect on their own."""
    worker = rig.server("worker", worker=True)
    other = rig.server("api", worker=False)
    with rig.donors(worker, other) as donors:
        donors.wait_for(LOAD)
        pg_cluster.restart("fast")
        donors.wait_for(LOAD)
        pg_cluster.restart("immediate")
        donors.wait_for(LOAD)
        outcome = donors.stop()
    assert outcome.retried > 0, "the restarts did not hit any request"
    _assert_recovered(rig, outcome, other)


def test_an_api_process_killed_mid_batch_loses_and_doubles_nothing(rig: Rig) -> None:
    """Fault: SIGKILL of an API process in the middle of a batch of several donations —
    its rows written, the append lock held, the commit not yet sent — twice, while donors
    post to it and to a second process.

    Proves: a batch is all-or-nothing (none of its donations was answered, none is in the
    journal until the donors' retries append each once), the lock dies with the killed
    session so the other process goes on appending, and the restarted process batches
    again (ADR 0017)."""
    worker = rig.server("worker", worker=True)
    victim = rig.server("api", worker=False, **{HOLD_BEFORE_COMMIT_ENV: "30"})
    with rig.donors(victim, worker, count=12) as donors:
        since = 0
        for kill in range(2):
            # The held batch keeps the append lock: every writer waits until the kill.
            line = victim.wait_for_line("batch-written", since=since)
            assert int(line.split()[1]) > 1
            victim.kill()
            since = len(victim.lines)
            victim.start({HOLD_BEFORE_COMMIT_ENV: "30" if kill < 1 else ""})
        donors.wait_for(2 * LOAD)
        outcome = donors.stop()
    assert outcome.retried > 0, "the kills did not hit any request"
    _assert_recovered(rig, outcome, worker)


def test_the_chain_node_down_and_back_with_an_older_state_gets_the_journal_anchored(
    rig: Rig,
) -> None:
    """Fault: the anvil node stopped for a while under load and started again from its
    state file; later stopped and started from the older state of the first stop, as a
    node restored from a backup (or crashed with a stale state file) would be: it has
    forgotten every anchor since, all of them recorded and confirmed by the service.

    Proves: donations are taken while the node is down (writes never wait for the
    chain), the worker backs off and anchors the backlog when the node is back, and
    checkpoints the chain forgot are anchored again."""
    worker = rig.server("worker", worker=True)
    other = rig.server("api", worker=False)
    older = rig.node.workdir / "older-state.json"
    with rig.donors(worker, other) as donors:
        donors.wait_for(LOAD)
        rig.node.stop()
        shutil.copy(rig.node.state_file, older)
        down_at = rig.store.size()
        donors.wait_for(LOAD)
        assert rig.store.size() > down_at
        rig.node.start()
        worker.wait_for_line("anchor-sent", since=len(worker.lines))
        donors.wait_for(LOAD)
        worker.wait_for_line("anchor-sent", since=len(worker.lines))
        anchored = rig.client.checkpoint_count()
        rig.node.stop()
        shutil.copy(older, rig.node.state_file)
        rig.node.start()
        assert rig.client.checkpoint_count() < anchored  # anchors since the first stop: gone
        donors.wait_for(LOAD)
        outcome = donors.stop()
    _assert_recovered(rig, outcome, other)


def test_reorgs_that_drop_or_move_anchors_get_them_sent_again(rig: Rig) -> None:
    """Fault: ``anvil_reorg`` under load, right after the worker sent an anchor: three
    reorgs that replace the last two blocks (two anchors) with empty ones, and one that
    moves the last two anchors into new blocks (the same transactions, other block
    hashes). Three confirmations, so no reorg reaches a confirmed checkpoint.

    Proves: dropped anchors are anchored again (with the journal as it has grown since),
    and moved ones are re-read: the ``checkpoint`` table ends up naming the blocks that
    hold the anchors on the chain as it is."""
    # The worker pauses a second after each send: the head block is its anchor while
    # the test reorganizes the chain under it.
    settings = {"CHAIN_CONFIRMATIONS": "3", "CHAIN_RECEIPT_TIMEOUT_S": "2", HOLD_ENV: "1"}
    worker = rig.server("worker", worker=True, **settings)
    other = rig.server("api", worker=False, **settings)
    with rig.donors(worker, other) as donors:
        for _ in range(3):
            donors.wait_for(LOAD)
            _wait_until_mined(rig, worker.wait_for_line("anchor-sent", since=len(worker.lines)))
            before = rig.client.checkpoint_count()
            rig.node.request("anvil_reorg", [2, []])
            assert rig.client.checkpoint_count() < before
        donors.wait_for(LOAD)
        _wait_until_mined(rig, worker.wait_for_line("anchor-sent", since=len(worker.lines)))
        head = rig.client.block_number()
        moving = [
            tx["hash"]
            for number in (head - 1, head)
            for tx in rig.client.w3.eth.get_block(number, full_transactions=True)["transactions"]
        ]
        raw = [rig.node.request("eth_getRawTransactionByHash", [to_hex(tx)]) for tx in moving]
        before = [_block_hash(rig, tx) for tx in moving]
        rig.node.request("anvil_reorg", [2, [[tx, offset] for offset, tx in enumerate(raw)]])
        after = [_block_hash(rig, tx) for tx in moving]
        assert all(a != b for a, b in zip(before, after, strict=True))
        donors.wait_for(LOAD)
        outcome = donors.stop()
    _assert_recovered(rig, outcome, other)


def _wait_until_mined(rig: Rig, line: str, timeout_s: float = 10.0) -> None:
    """Block until the anchor an ``anchor-sent`` line names is in a block (the node mines
    it right after the send returns, not before)."""
    tx_hash = line.split()[2]
    deadline = time.monotonic() + timeout_s
    while rig.node.request("eth_getTransactionReceipt", [tx_hash]) is None:
        assert time.monotonic() < deadline, f"{tx_hash} was not mined"
        time.sleep(0.02)


def _block_hash(rig: Rig, tx_hash: bytes) -> bytes:
    return bytes(rig.client.w3.eth.get_transaction_receipt(tx_hash)["blockHash"])  # type: ignore[arg-type]


def _leader(*servers: ApiServer, timeout_s: float = 30.0) -> ApiServer:
    """The one server that has sent anchors (waiting for the first anchor)."""
    deadline = time.monotonic() + timeout_s
    while True:
        leading = [s for s in servers if _sent_sizes(s)]
        if leading:
            assert len(leading) == 1, "two workers anchored"
            return leading[0]
        assert time.monotonic() < deadline, "no worker anchored"
        time.sleep(0.05)


def test_two_workers_anchor_one_at_a_time_through_a_kill_and_a_database_restart(
    rig: Rig, pg_cluster: PgCluster
) -> None:
    """Fault: two API processes, each with an anchor worker, under load; the leader is
    killed (SIGKILL) and restarted; then PostgreSQL is restarted, which ends the session
    that holds the leader lock while the leader is between two cycles.

    Proves: the advisory leader lock lets one worker anchor at a time (every anchor
    before the kill comes from one process, every anchor after it from the other, none
    fails on chain), the standby takes over when the leader dies, the restarted process
    stands by instead of anchoring beside the new leader, and a leader whose lock went
    with its database session stops leading (sorted by tree size, the anchors change
    hands once per fault at most, instead of alternating between two leaders)."""
    first = rig.server("worker-1", worker=True)
    second = rig.server("worker-2", worker=True)
    with rig.donors(first, second) as donors:
        donors.wait_for(LOAD)
        leader = _leader(first, second)
        standby = second if leader is first else first
        donors.wait_for(LOAD)
        assert _sent_sizes(standby) == [], "both workers anchored while both were up"
        led = _sent_sizes(leader)
        leader.kill()
        standby.wait_for_line("anchor-sent")
        leader.start()
        donors.wait_for(LOAD)
        assert _sent_sizes(leader) == led, "the restarted worker anchored beside the new leader"
        taken_over = _sent_sizes(standby)
        assert max(led) < min(taken_over)
        pg_cluster.restart("fast")
        donors.wait_for(2 * LOAD)
        outcome = donors.stop()
    _assert_recovered(rig, outcome, standby)
    senders = [
        name
        for _, name in sorted(
            (size, server.name) for server in (first, second) for size in _sent_sizes(server)
        )
    ]
    changes = sum(a != b for a, b in itertools.pairwise(senders))
    assert changes <= 2, f"the anchors alternated between the workers: {senders}"
