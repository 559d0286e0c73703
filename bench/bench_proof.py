"""Proof benchmark: latency of an inclusion proof (and a root) from the store, by journal size.

A proof costs O(log n) stored hashes (DESIGN §4), so its latency should stay flat as the
journal grows from 10k to 1M entries; the figure beside it is the same proof computed
in memory from a full tree, in the same run (what a scan-free store is compared with).

With ``--replica`` the journal is written to a primary made for the run and read from
its streaming hot standby (``tests/replica/cluster.py``: ``initdb`` and
``pg_basebackup``, as the ``postgres`` user when run as root), as the API reads proofs
(``api.replica.Reader``: the standby's size is asked first, then the proof is read
there); each sample is also read from the primary in the same run, beside it.

    .venv/bin/python bench/bench_proof.py [--sizes 10000,100000,1000000] [--samples 500]
    .venv/bin/python bench/bench_proof.py --replica
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.replica import Reader
from ledger import merkle
from ledger.store.journal import Store
from tests import factories as f

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def grow(store: Store, charity_id: str, project_id: str, target: int) -> None:
    while (size := store.size()) < target:
        batch = min(5000, target - size)
        store.append([f.donation(charity_id, project_id) for _ in range(batch)])


def grown(
    store: Store, sizes: list[int], settle: Callable[[], None] = lambda: None
) -> Iterator[int]:
    """Grow the journal to each size in turn (then ``settle``), saying how long it took."""
    charity = f.charity()
    project = f.project(charity.body["charity_id"])
    store.append([charity, project])
    for size in sizes:
        started = time.perf_counter()
        grow(store, charity.body["charity_id"], project.body["project_id"], size)
        settle()
        print(
            f"journal grown to {size:,} in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
        yield size


def measure(
    store: Store,
    size: int,
    samples: int,
    rng: random.Random,
    reader: Reader | None = None,
) -> dict[str, float]:
    """Proof and root latency at ``size``; with ``reader``, read where the API would."""
    proof_ms, root_ms = [], []
    for _ in range(samples):
        seq = rng.randrange(size)
        started = time.perf_counter()
        if reader is not None:
            store = reader.store_for(size)
        proof = store.inclusion_proof(seq, size)
        leaf = store.leaf_hash(seq)
        proof_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        root = store.root(size)
        root_ms.append((time.perf_counter() - started) * 1000)
        merkle.verify_inclusion(seq, size, leaf, proof, root)
    return {
        "proof_p50": statistics.median(proof_ms),
        "proof_p99": percentile(proof_ms, 0.99),
        "root_p50": statistics.median(root_ms),
        "root_p99": percentile(root_ms, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument(
        "--replica", action="store_true", help="read from a hot standby made for the run"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.replica:
        replica_main(sizes, args.samples)
        return
    name = f"shanlian_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    rng = random.Random(7)
    rows = []
    try:
        store = Store.open(ADMIN_URL.rpartition("/")[0] + "/" + name)
        for size in grown(store, sizes):
            figures = measure(store, size, args.samples, rng)
            leaves = [merkle.leaf_hash(leaf) for leaf in store.leaves(0, size)]
            started = time.perf_counter()
            tree = merkle.MemoryTree.from_leaf_hashes(leaves)
            tree.inclusion_proof(size // 2, size)
            figures["memory_ms"] = (time.perf_counter() - started) * 1000
            rows.append((size, figures))
        store.engine.dispose()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"proof latency from the store on PostgreSQL, {args.samples} random leaves per size")
    print(
        f"{'entries':>10} {'proof p50 ms':>13} {'proof p99 ms':>13} {'root p50 ms':>12} "
        f"{'root p99 ms':>12} {'in-memory tree ms':>18}"
    )
    for size, fig in rows:
        print(
            f"{size:>10,} {fig['proof_p50']:>13.2f} {fig['proof_p99']:>13.2f} "
            f"{fig['root_p50']:>12.2f} {fig['root_p99']:>12.2f} {fig['memory_ms']:>18.1f}"
        )
    (first, low), (last, high) = rows[0], rows[-1]
    print(
        "SUMMARY "
        + json.dumps(
            {
                "benchmark": f"proof from the store, {first:,} → {last:,} entries (PostgreSQL)",
                "project": f"p50 {low['proof_p50']:.2f} → {high['proof_p50']:.2f} ms, "
                f"p99 {low['proof_p99']:.2f} → {high['proof_p99']:.2f} ms",
                "baseline": f"in-memory tree {high['memory_ms']:,.0f} ms at {last:,}",
                "ratio": round(high["proof_p50"] / low["proof_p50"], 2),
            },
            ensure_ascii=False,
        )
    )


def replica_main(sizes: list[int], samples: int) -> None:
    """The proofs read from a streaming replica, and from its primary beside it."""
    from ledger.store.engine import make_engine
    from tests.replica.cluster import replicated

    rng = random.Random(7)
    rows = []
    with replicated() as pair:
        primary_url, standby_url = pair.database("shanlian_bench")
        store = Store.open(primary_url)
        replica = Store(make_engine(standby_url, read_only=True))
        reader = Reader(store, replica)
        # Replayed by the standby before it is measured.
        for size in grown(store, sizes, lambda: pair.caught_up(timeout_s=600)):
            # Warm both alike (a first read of a new size loads its pages into the cache).
            measure(store, size, 50, random.Random(1))
            measure(store, size, 50, random.Random(1), reader)
            from_replica = measure(store, size, samples, random.Random(rng.random()), reader)
            from_primary = measure(store, size, samples, random.Random(rng.random()))
            assert reader.store_for(size) is replica, "the standby was not read"
            rows.append((size, from_replica, from_primary))
        replica.engine.dispose()
        store.engine.dispose()
    print(
        f"proof latency read from a streaming replica (hot standby) on PostgreSQL, {samples} "
        "random leaves per size; the primary of the same run beside it"
    )
    print(
        f"{'entries':>10} {'replica p50 ms':>15} {'replica p99 ms':>15} "
        f"{'primary p50 ms':>15} {'primary p99 ms':>15}"
    )
    for size, replica_fig, primary_fig in rows:
        print(
            f"{size:>10,} {replica_fig['proof_p50']:>15.2f} {replica_fig['proof_p99']:>15.2f} "
            f"{primary_fig['proof_p50']:>15.2f} {primary_fig['proof_p99']:>15.2f}"
        )
    (first, low, _), (last, high, high_primary) = rows[0], rows[-1]
    print(
        "SUMMARY "
        + json.dumps(
            {
                "benchmark": f"proof from a streaming replica, {first:,} → {last:,} entries",
                "project": f"p50 {low['proof_p50']:.2f} → {high['proof_p50']:.2f} ms, "
                f"p99 {low['proof_p99']:.2f} → {high['proof_p99']:.2f} ms",
                "baseline": f"the primary, same run: p99 {high_primary['proof_p99']:.2f} ms "
                f"at {last:,}",
                "ratio": round(high["proof_p99"] / low["proof_p99"], 2),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
