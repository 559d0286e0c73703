"""HTTP ingest benchmark: ``POST /api/v1/donations`` over real HTTP, at 1, 16 and 64 clients.

The API runs under uvicorn in a child process on a free 127.0.0.1 port, on a PostgreSQL
database created fresh for each run, without a chain (``build_services(...,
with_chain=False)``: ingest does not wait for anchoring). Clients are httpx async
connections, each request with a fresh ``Idempotency-Key`` and payment reference.

Baseline, in the same run and database: pgbench-style single-row commits of the same
data — each request's fields (and its donor) inserted by psycopg, one INSERT and one
COMMIT per row, with as many threads (each with its own connection) as there were
clients. It is what any service on this database pays per donation, before validation,
accounting rules, the Merkle log, idempotency and HTTP.

    .venv/bin/python bench/bench_http.py [--runs 5] [--requests 600] [--clients 1,16,64]
    .venv/bin/python bench/bench_http.py --quick

Prints one table (medians over the runs) and a ``SUMMARY {json}`` line for run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "bench-platform-token-" + secrets.token_hex(16)

BASELINE_TABLE = """
CREATE TABLE bench_donation (
    id BIGSERIAL PRIMARY KEY,
    charity_id VARCHAR(43) NOT NULL,
    project_id VARCHAR(43),
    amount BIGINT NOT NULL,
    currency CHAR(3) NOT NULL,
    channel VARCHAR(32) NOT NULL,
    paid_at TIMESTAMPTZ NOT NULL,
    payment_ref VARCHAR(200) NOT NULL,
    donor_name VARCHAR(200),
    donor_phone VARCHAR(40),
    donor_email VARCHAR(254),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
BASELINE_INSERT = (
    "INSERT INTO bench_donation (charity_id, project_id, amount, currency, channel, paid_at, "
    "payment_ref, donor_name, donor_phone, donor_email) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


# -- the server ----------------------------------------------------------------------------------


def serve(port: int) -> None:
    """Run the API (no chain, no anchor worker) under uvicorn: the child process."""
    import uvicorn

    from api.app import build_services, create_app
    from api.settings import ApiSettings

    runtime = build_services(ApiSettings(), with_chain=False)
    uvicorn.run(
        create_app(runtime.services),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(database_url: str, evidence_dir: Path) -> Iterator[str]:
    """The API in a child process; its base URL while it runs."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "CHAIN_"))}
    env |= {
        "API_DATABASE_URL": database_url,
        "SHANLIAN_ADMIN_TOKEN": TOKEN,
        "API_EVIDENCE_DIR": str(evidence_dir),
        "API_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"shanlian_bench_http_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rpartition("/")[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the load ------------------------------------------------------------------------------------


def donation(charity_id: str, project_id: str, n: int) -> dict[str, Any]:
    return {
        "charity_id": charity_id,
        "project_id": project_id,
        "amount": 1_000 + n % 9_000,
        "currency": "CNY",
        "channel": "card",
        "paid_at": datetime.now(UTC).isoformat(),  # after the charity registered
        "payment_ref": f"PAY-{uuid.uuid4().hex}",
        "donor": {"name": "王小明", "phone": "+86-138-0000-0000", "email": "wang@example.cn"},
    }


@dataclass
class Level:
    """What one concurrency level measured."""

    clients: int
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def http_level(
    base: str, charity_id: str, project_id: str, clients: int, total: int, max_s: float
) -> Level:
    """``total`` donations by ``clients`` concurrent connections (or as many as fit in max_s)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    counter = iter(range(total))
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        started = time.perf_counter()
        stop_at = started + max_s

        async def worker() -> None:
            for n in counter:
                if time.perf_counter() > stop_at:
                    return
                begun = time.perf_counter()
                response = await client.post(
                    "/api/v1/donations",
                    json=donation(charity_id, project_id, n),
                    headers=headers | {"Idempotency-Key": uuid.uuid4().hex},
                )
                latencies.append(time.perf_counter() - begun)
                if response.status_code != 201:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return Level(clients, len(latencies), seconds, latencies)


def baseline_level(
    database_url: str, charity_id: str, project_id: str, clients: int, total: int, max_s: float
) -> Level:
    """The same rows, one INSERT and COMMIT each, from ``clients`` threads and connections."""
    connections = [psycopg.connect(database_url) for _ in range(clients)]
    counter = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []

    def worker(connection: psycopg.Connection) -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None or time.perf_counter() > stop_at:
                return
            body = donation(charity_id, project_id, n)
            donor = body["donor"]
            begun = time.perf_counter()
            connection.execute(
                BASELINE_INSERT,
                (
                    body["charity_id"],
                    body["project_id"],
                    body["amount"],
                    body["currency"],
                    body["channel"],
                    body["paid_at"],
                    body["payment_ref"],
                    donor["name"],
                    donor["phone"],
                    donor["email"],
                ),
            )
            connection.commit()
            elapsed = time.perf_counter() - begun
            with lock:
                latencies.append(elapsed)

    try:
        threads = [threading.Thread(target=worker, args=(c,)) for c in connections]
        started = time.perf_counter()
        stop_at = started + max_s
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
    return Level(clients, len(latencies), seconds, latencies)


def run_once(levels: list[int], total: int, max_s: float) -> dict[int, tuple[Level, Level]]:
    """One run on a fresh database: for each level, (HTTP, baseline)."""
    results: dict[int, tuple[Level, Level]] = {}
    with fresh_database() as url, tempfile.TemporaryDirectory() as evidence:
        with server(url, Path(evidence)) as base:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            charity = httpx.post(
                f"{base}/api/v1/charities",
                json={"name": "基准测试基金会", "registration_no": "53100000500021676Q"},
                headers=auth,
                timeout=30,
            ).json()
            project = httpx.post(
                f"{base}/api/v1/charities/{charity['id']}/projects",
                json={"title": "bench", "goal_amount": 10**12, "currency": "CNY"},
                headers=auth,
                timeout=30,
            ).json()
            asyncio.run(http_level(base, charity["id"], project["id"], 4, 40, max_s))  # warm-up
            https = {
                c: asyncio.run(http_level(base, charity["id"], project["id"], c, total, max_s))
                for c in levels
            }
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(BASELINE_TABLE)
        baseline_level(url, charity["id"], project["id"], 4, 40, max_s)  # warm-up
        for c in levels:
            results[c] = (
                https[c],
                baseline_level(url, charity["id"], project["id"], c, total, max_s),
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=600, help="per level and run")
    parser.add_argument("--clients", default="1,16,64", help="concurrency levels")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="per level and run")
    parser.add_argument("--quick", action="store_true", help="2 runs of 150 requests")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if args.quick:
        args.runs, args.requests = 2, 150
    levels = [int(c) for c in args.clients.split(",")]

    load_before = os.getloadavg()[0]
    runs = []
    for run in range(args.runs):
        runs.append(run_once(levels, args.requests, args.max_seconds))
        print(
            f"run {run + 1}: "
            + ", ".join(
                f"{c} clients {h.rate:,.0f} req/s (baseline {b.rate:,.0f}/s)"
                for c, (h, b) in runs[-1].items()
            ),
            file=sys.stderr,
            flush=True,
        )

    def median(c: int, side: int, figure: str) -> float:
        values = []
        for result in runs:
            level = result[c][side]
            values.append(
                level.rate
                if figure == "rate"
                else level.quantile(0.5 if figure == "p50" else 0.99) * 1000
            )
        return statistics.median(values)

    print(
        f"HTTP ingest: POST /api/v1/donations, uvicorn (1 process) on PostgreSQL, "
        f"median of {args.runs} runs x {args.requests} requests per level "
        f"({os.cpu_count()} cores, load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after)"
    )
    print(
        f"{'clients':>7}  {'HTTP req/s':>10} {'p50 ms':>7} {'p99 ms':>7}   "
        f"{'baseline rows/s':>15} {'p50 ms':>7} {'p99 ms':>7}   {'ratio':>5}"
    )
    for c in levels:
        rate, base_rate = median(c, 0, "rate"), median(c, 1, "rate")
        print(
            f"{c:>7}  {rate:>10,.0f} {median(c, 0, 'p50'):>7.1f} {median(c, 0, 'p99'):>7.1f}   "
            f"{base_rate:>15,.0f} {median(c, 1, 'p50'):>7.1f} {median(c, 1, 'p99'):>7.1f}   "
            f"{rate / base_rate:>5.2f}"
        )
    top = max(levels, key=lambda c: median(c, 0, "rate"))
    print(
        "SUMMARY "
        + json.dumps(
            {
                "benchmark": "ingest, HTTP POST /donations (PostgreSQL, "
                + "/".join(str(c) for c in levels)
                + " clients)",
                "project": ", ".join(
                    f"{median(c, 0, 'rate'):,.0f} req/s p99 {median(c, 0, 'p99'):.0f} ms @{c}"
                    for c in levels
                ),
                "baseline": ", ".join(f"{median(c, 1, 'rate'):,.0f}/s @{c}" for c in levels)
                + " single-row commits",
                "ratio": round(median(top, 0, "rate") / median(top, 1, "rate"), 2),
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
