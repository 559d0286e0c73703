"""Many writers at once: threads and processes appending to one journal."""

from __future__ import annotations

import multiprocessing
import random
import threading

import pytest

from ledger import merkle
from ledger.store.journal import Store
from tests import factories as f

THREADS = 8
PROCESSES = 2
ENTRIES_EACH = 1000


def append_entries(url: str, charity_id: str, project_id: str, count: int, seed: int) -> int:
    """Append ``count`` donations in batches of 1 to 25; return how many were appended."""
    rng = random.Random(seed)
    store = Store.open(url, upgrade=False)
    done = 0
    try:
        while done < count:
            batch = min(rng.randint(1, 25), count - done)
            project = project_id if rng.random() < 0.8 else None
            result = store.append(
                [
                    f.donation(charity_id, project, amount=rng.randint(1, 10**6))
                    for _ in range(batch)
                ],
                idempotency_key=f"writer-{seed}-{done}",
            )
            assert len(result.entries) == batch
            done += batch
    finally:
        store.engine.dispose()
    return done


@pytest.mark.slow
def test_concurrent_threads_and_processes_leave_a_gapless_journal(database_url: str) -> None:
    store = Store.open(database_url)
    charity = f.charity()
    charity_id = charity.body["charity_id"]
    project = f.project(charity_id)
    store.append([charity, project])
    project_id = project.body["project_id"]

    errors: list[BaseException] = []

    def thread_main(seed: int) -> None:
        try:
            append_entries(database_url, charity_id, project_id, ENTRIES_EACH, seed)
        except BaseException as error:  # reported to the test below
            errors.append(error)

    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        pending = [
            pool.apply_async(
                append_entries, (database_url, charity_id, project_id, ENTRIES_EACH, 100 + i)
            )
            for i in range(PROCESSES)
        ]
        threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        appended_by_processes = [p.get(timeout=600) for p in pending]

    assert errors == []
    assert appended_by_processes == [ENTRIES_EACH] * PROCESSES
    expected = 2 + (THREADS + PROCESSES) * ENTRIES_EACH
    seqs = [entry.seq for entry in store.entries()]
    assert seqs == list(range(expected))
    tree = merkle.MemoryTree.from_leaf_hashes(merkle.leaf_hash(leaf) for leaf in store.leaves())
    assert store.root() == tree.root()
    report = store.verify()
    assert report.ok, report.problems[:5]
    store.engine.dispose()
