"""Proof benchmark: latency of an inclusion proof (and a root) from the store, by journal size.

A proof costs O(log n) stored hashes (DESIGN §4), so its latency should stay flat as the
journal grows from 10k to 1M entries; the figure beside it is the same proof computed
in memory from a full tree, in the same run (what a scan-free store is compared with).

    .venv/bin/python bench/bench_proof.py [--sizes 10000,100000,1000000] [--samples 500]
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
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def measure(store: Store, size: int, samples: int, rng: random.Random) -> dict[str, float]:
    proof_ms, root_ms = [], []
    for _ in range(samples):
        seq = rng.randrange(size)
        started = time.perf_counter()
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
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    name = f"shanlian_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    rng = random.Random(7)
    rows = []
    try:
        store = Store.open(ADMIN_URL.rpartition("/")[0] + "/" + name)
        charity = f.charity()
        project = f.project(charity.body["charity_id"])
        store.append([charity, project])
        for size in sizes:
            started = time.perf_counter()
            grow(store, charity.body["charity_id"], project.body["project_id"], size)
            print(
                f"journal grown to {size:,} in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
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


if __name__ == "__main__":
    main()
