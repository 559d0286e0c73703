"""Ingest benchmark: entries/s through the store, batches of 1000, on PostgreSQL.

Two store paths: one append of 1000 donations, and the sequencer's batch
(``Store.append_batch``) of 1000 requests of one donation each, every one with its own
idempotency key and donor row, as 1000 HTTP clients' donations are appended (ADR 0017).

Baseline, in the same run and database: a raw psycopg insert of the same journal rows
(``executemany`` of one INSERT per row, one transaction per batch — what a hand-written
writer does) into a bare table of the same shape. A COPY of the same rows is printed
too, as the floor of what PostgreSQL can take. The process's cyclic garbage collector
is tuned as ``shanlian serve`` tunes it (``api.app.tune_garbage_collector``): the store
is measured as it runs in production, the baseline beside it in the same process.

Ten batches by default: psycopg prepares a statement at its fifth run on a connection, and
a plan that degrades as the journal grows (session 9's idempotency lookup) shows only after.

    .venv/bin/python bench/bench_ingest.py [--runs 5] [--batches 10] [--batch-size 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import GC_THRESHOLD, tune_garbage_collector
from ledger.store.journal import Store
from ledger.store.requests import AppendRequest, AppendResult, Draft
from ledger.store.tables import DONOR
from tests import factories as f

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

BARE_TABLE = """
CREATE TABLE bare_entry (
    seq BIGINT PRIMARY KEY,
    kind VARCHAR(40) NOT NULL,
    actor VARCHAR(60) NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    leaf TEXT NOT NULL
)
"""


def database_url(name: str) -> str:
    return ADMIN_URL.rpartition("/")[0] + "/" + name


def make_batches(charity_id: str, project_id: str, batches: int, size: int) -> list[list[Draft]]:
    return [
        [f.donation(charity_id, project_id, amount=1_000 + i) for i in range(size)]
        for _ in range(batches)
    ]


def make_requests(
    charity_id: str, project_id: str, batches: int, size: int
) -> list[list[AppendRequest]]:
    """Batches of one-donation requests, each with its key and donor row (as the API's)."""
    batches_of_requests = []
    for _ in range(batches):
        batch = []
        for i in range(size):
            draft = f.donation(charity_id, project_id, amount=1_000 + i)
            donor = {
                "donation_id": draft.body["donation_id"],
                "receipt_secret": os.urandom(16),
                "name": "王小明",
                "phone": "+86-138-0000-0000",
                "email": None,
                "anonymous": False,
                "created_at": datetime.now(UTC),
            }
            batch.append(
                AppendRequest(
                    [draft],
                    idempotency_key=f"POST /donations|platform|{uuid.uuid4().hex}",
                    request_hash=os.urandom(32),
                    rows=[(DONOR, donor)],
                )
            )
        batches_of_requests.append(batch)
    return batches_of_requests


def run_once(url: str, batches: int, size: int) -> tuple[float, float, float, float, float]:
    """One run on a fresh journal, in entries/s: the store (one append of ``size``
    donations, then batches of ``size`` one-donation requests), then raw executemany and
    raw COPY of the first path's journal rows, then raw executemany of every row it wrote."""
    store = Store.open(url)
    charity = f.charity()
    project = f.project(charity.body["charity_id"])
    store.append([charity, project])
    work = make_batches(charity.body["charity_id"], project.body["project_id"], batches, size)

    started = time.perf_counter()
    appended = [store.append(batch).entries for batch in work]
    store_rate = batches * size / (time.perf_counter() - started)
    requests = make_requests(charity.body["charity_id"], project.body["project_id"], batches, size)
    started = time.perf_counter()
    for batch in requests:
        outcome = store.append_batch(batch)
        assert all(isinstance(r, AppendResult) for r in outcome.results), outcome.results[:1]
    batch_rate = batches * size / (time.perf_counter() - started)
    store.engine.dispose()

    rows = [
        [(e.seq, e.kind, e.actor, e.at, e.leaf_bytes.decode()) for e in entries]
        for entries in appended
    ]
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        connection.execute(BARE_TABLE)
        connection.commit()
        started = time.perf_counter()
        for batch in rows:
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO bare_entry (seq, kind, actor, at, leaf) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    batch,
                )
            connection.commit()
        raw_rate = batches * size / (time.perf_counter() - started)
        connection.execute("TRUNCATE bare_entry")
        connection.commit()
        started = time.perf_counter()
        for batch in rows:
            with (
                connection.cursor() as cursor,
                cursor.copy("COPY bare_entry (seq, kind, actor, at, leaf) FROM STDIN") as copy,
            ):
                for row in batch:
                    copy.write_row(row)
            connection.commit()
        copy_rate = batches * size / (time.perf_counter() - started)
        all_rate = _raw_all_rows(connection, [(e[0].seq, e[-1].seq) for e in appended])
    return store_rate, batch_rate, raw_rate, copy_rate, all_rate


# Every row an append writes, per batch: the entries, the Merkle nodes they complete, the
# timeline rows, and the projection rows (donations, here).
WRITTEN = {
    "entry": "seq BETWEEN %(first)s AND %(last)s",
    "merkle_node": "((idx + 1) << level) - 1 BETWEEN %(first)s AND %(last)s",
    "entry_ref": "seq BETWEEN %(first)s AND %(last)s",
    "donation": "seq BETWEEN %(first)s AND %(last)s",
}


def _raw_all_rows(connection: psycopg.Connection, ranges: list[tuple[int, int]]) -> float:
    """Entries/s when every row the store wrote is inserted raw (executemany, same tables
    with their keys and indexes, no triggers), one transaction per batch."""
    batches = []
    for first, last in ranges:
        batch = {}
        for table, where in WRITTEN.items():
            cursor = connection.execute(
                f"SELECT * FROM {table} WHERE {where}",
                {"first": first, "last": last},
            )
            columns = [c.name for c in cursor.description or []]
            batch[table] = (columns, cursor.fetchall())
        batches.append(batch)
    for table in WRITTEN:
        connection.execute(f"CREATE TABLE every_{table} (LIKE {table} INCLUDING ALL)")
    connection.commit()
    started = time.perf_counter()
    for batch in batches:
        with connection.cursor() as cursor:
            for table, (columns, rows) in batch.items():
                if rows:
                    cursor.executemany(
                        f"INSERT INTO every_{table} ({', '.join(columns)}) "
                        f"VALUES ({', '.join(['%s'] * len(columns))})",
                        rows,
                    )
        connection.commit()
    entries = sum(last - first + 1 for first, last in ranges)
    return entries / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()

    # The store runs in `shanlian serve`, whose collector is tuned at start (create_app).
    tune_garbage_collector()
    results = []
    for run in range(args.runs):
        name = f"shanlian_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            results.append(run_once(database_url(name), args.batches, args.batch_size))
        finally:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"run {run + 1}: " + ", ".join(f"{r:,.0f}/s" for r in results[-1]), file=sys.stderr)

    store_rate, batch_rate, raw_rate, copy_rate, all_rate = (
        statistics.median(column) for column in zip(*results, strict=True)
    )
    print(
        f"ingest, batches of {args.batch_size}, median of {args.runs} runs "
        f"x {args.batches} batches on PostgreSQL (the cyclic collector as in shanlian serve: "
        f"start-up objects frozen, threshold {GC_THRESHOLD:,})"
    )
    print(f"{'path':<64} {'entries/s':>10} {'/raw':>6}")
    for label, rate in (
        ("store: one append of the batch's donations", store_rate),
        ("store: append_batch of one-donation requests (keys, donor rows)", batch_rate),
        ("raw psycopg executemany INSERT of the journal rows", raw_rate),
        ("raw psycopg COPY of the journal rows", copy_rate),
        ("raw psycopg executemany INSERT of every row the store wrote", all_rate),
    ):
        print(f"{label:<64} {rate:>10,.0f} {rate / raw_rate:>6.2f}")
    print(
        "SUMMARY "
        + json.dumps(
            {
                "benchmark": f"ingest, store, batches of {args.batch_size} (PostgreSQL)",
                "project": f"{store_rate:,.0f} entries/s one append; "
                f"{batch_rate:,.0f} append_batch of one-donation requests",
                "baseline": f"{raw_rate:,.0f} entries/s raw executemany of the journal rows; "
                f"{all_rate:,.0f} of every row written",
                "ratio": f"{store_rate / raw_rate:.2f} and {batch_rate / raw_rate:.2f} of the "
                f"journal rows; {store_rate / all_rate:.2f} of every row",
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
