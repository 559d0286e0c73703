"""The anchoring leader lock across a PostgreSQL restart (our own server, see conftest)."""

from __future__ import annotations

import pytest

from ledger.store.checkpoints import leader_lock
from ledger.store.engine import make_engine
from tests.faults.postgres import PgCluster

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_a_leader_knows_its_lock_went_with_a_database_restart(
    journal_url: str, pg_cluster: PgCluster
) -> None:
    """Fault: PostgreSQL restarted while a worker holds the leader lock and is idle.

    Proves: the restart ends the session and its advisory lock without telling the
    holder; ``held()`` finds out (and stays false even after the pool reconnects), so
    the worker stops leading before another process takes the lock it can now get."""
    leader_engine, other_engine = make_engine(journal_url), make_engine(journal_url)
    try:
        with leader_lock(leader_engine) as lock:
            assert lock
            assert lock.held()
            with leader_lock(other_engine) as other:
                assert not other
            pg_cluster.restart("fast")
            assert not lock.held()
            assert not lock.held()
            with leader_lock(other_engine) as other:
                assert other  # free for the taking: the old leader must not act
        with leader_lock(leader_engine) as again:
            assert again
    finally:
        leader_engine.dispose()
        other_engine.dispose()
