"""HTTP ingest benchmark: ``POST /api/v1/donations`` against a minimal service, under wrk.

The project: ``shanlian serve --workers N`` (uvicorn) on a PostgreSQL database created
for the run, with its anchor worker on an anvil node (fresh contracts for each worker
count, deployed by ``shanlian deploy``; anchoring at its defaults). The baseline, in the
same run and database: ``bench/minimal_service.py``, a minimal FastAPI + psycopg service
that checks the token, validates the same donation body, inserts one row and commits,
served by uvicorn with the same settings (worker count, loop, HTTP implementation, log
level). The load: ``wrk`` (C, two threads) with ``bench/wrk_load.lua``: every request
with the bearer token, its own ``Idempotency-Key`` and its own ``payment_ref``, for a
fixed time per point; the two services alternate point by point.

    .venv/bin/python bench/bench_http.py [--seconds 10] [--clients 1,16,64,256]
                                         [--workers 1,2] [--runs 1]
    .venv/bin/python bench/bench_http.py --quick        # 5 s per point, 1 and 64 clients

Prints one table (medians over the runs), whether the targets of issue 13 are met, how
much CPU wrk itself used (so that the client is not the bottleneck), and a
``SUMMARY {json}`` line for run_all.py.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import (
    ROOT,
    Server,
    WrkResult,
    anvil,
    clean_environment,
    cpu_seconds,
    cpu_used,
    deploy,
    free_port,
    fresh_database,
    run_wrk,
    shanlian_server,
    uvicorn_implementation,
    wrk_path,
    wrk_version,
)

TOKEN = "bench-http-platform-token-" + secrets.token_hex(16)
TARGET_RATIO = 0.7  # at 64 clients, of the minimal service's req/s (issue 13)
TARGET_P99_MS = 150.0  # at 64 clients
TARGET_P50_MS = 10.0  # at 1 client


@dataclass
class Point:
    """One service at one load: wrk's measure and the server's CPU use."""

    wrk: WrkResult
    server_cpu_s: float

    @property
    def server_cpu_share(self) -> float:
        return self.server_cpu_s / self.wrk.seconds if self.wrk.seconds else 0.0


def minimal_server(database_url: str, workers: int, workdir: Path) -> Server:
    port = free_port()
    env = clean_environment(MINIMAL_DATABASE_URL=database_url, MINIMAL_TOKEN=TOKEN)
    command = [
        sys.executable,
        str(ROOT / "bench" / "minimal_service.py"),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return Server("minimal service", command, env, port, workdir / f"minimal-{workers}.log")


def measure(server: Server, options: dict[str, str], clients: int, seconds: float) -> Point:
    pids, workers = server.pids(), server.workers()
    before = cpu_seconds(pids)
    result = run_wrk(
        server.base,
        connections=clients,
        seconds=seconds,
        options=options | {"run": uuid.uuid4().hex[:12]},
    )
    if workers - server.workers():
        print(f"  note: a worker process of {server.name} was replaced", file=sys.stderr)
    return Point(result, cpu_used(before, cpu_seconds(pids)))


def setup_journal(base: str) -> dict[str, str]:
    """A charity and two projects to donate to; wrk's options for them."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    charity = httpx.post(
        f"{base}/api/v1/charities",
        json={"name": "基准测试基金会", "registration_no": "53100000500021676Q"},
        headers=auth,
        timeout=30,
    )
    charity.raise_for_status()
    charity_id = charity.json()["id"]
    projects = []
    for title in ("bench A", "bench B"):
        project = httpx.post(
            f"{base}/api/v1/charities/{charity_id}/projects",
            json={"title": title, "goal_amount": 10**12, "currency": "CNY"},
            headers=auth,
            timeout=30,
        )
        project.raise_for_status()
        projects.append(project.json()["id"])
    return {
        "mode": "donate",
        "token": TOKEN,
        "charity": charity_id,
        "projects": ",".join(projects),
    }


def run_workers(
    rpc_url: str, workers: int, levels: list[int], seconds: float, runs: int, workdir: Path
) -> dict[int, list[tuple[Point, Point]]]:
    """Both services at ``workers`` processes: for each level, (shanlian, minimal) per run."""
    results: dict[int, list[tuple[Point, Point]]] = {c: [] for c in levels}
    with fresh_database("shanlian_bench_http") as url:
        chain = deploy(rpc_url, workdir)
        ours = shanlian_server(url, chain, workers, TOKEN, workdir)
        minimal = minimal_server(url, workers, workdir)
        try:
            ours.start()
            minimal.start()
            options = setup_journal(ours.base)
            for server in (ours, minimal):  # warm up: connections, caches, the first pages
                measure(server, options, 16, 2)
            for _ in range(runs):
                for clients in levels:
                    project = measure(ours, options, clients, seconds)
                    baseline = measure(minimal, options, clients, seconds)
                    results[clients].append((project, baseline))
                    print(
                        f"  {workers} worker(s), {clients:>3} clients: shanlian "
                        f"{project.wrk.ok_rate:,.0f} req/s p99 {project.wrk.p99_ms:.0f} ms, "
                        f"minimal {baseline.wrk.ok_rate:,.0f} req/s p99 "
                        f"{baseline.wrk.p99_ms:.0f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            ours.stop()
            minimal.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per point (10)")
    parser.add_argument("--clients", default="1,16,64,256", help="wrk connections per point")
    parser.add_argument("--workers", default="1,2", help="uvicorn processes of both services")
    parser.add_argument("--runs", type=int, default=1, help="passes over every point (medians)")
    parser.add_argument("--quick", action="store_true", help="5 s per point, 1 and 64 clients")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.clients = 5.0, "1,64"
    levels = [int(c) for c in args.clients.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    wrk_path()

    load_before = os.getloadavg()[0]
    results: dict[int, dict[int, list[tuple[Point, Point]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-http-") as folder:
        workdir = Path(folder)
        with anvil(workdir) as rpc_url:
            for workers in worker_counts:
                results[workers] = run_workers(
                    rpc_url, workers, levels, args.seconds, args.runs, workdir
                )

    def median(workers: int, clients: int, side: int, figure: str) -> float:
        values = []
        for pair in results[workers][clients]:
            point = pair[side]
            values.append(
                {
                    "rate": point.wrk.ok_rate,
                    "p50": point.wrk.p50_ms,
                    "p99": point.wrk.p99_ms,
                    "bad": float(point.wrk.not_ok + point.wrk.socket_errors),
                    "wrk": point.wrk.cpu_share * 100,
                    "server": point.server_cpu_share * 100,
                }[figure]
            )
        return statistics.median(values)

    print(
        f"\nHTTP ingest: POST /api/v1/donations, {args.seconds:g} s per point"
        + (f", median of {args.runs} runs" if args.runs > 1 else "")
        + f" ({os.cpu_count()} cores, load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after)"
    )
    print(
        f"load generator: {wrk_version()} (C; 2 threads, bench/wrk_load.lua: the bearer "
        "token, a fresh Idempotency-Key and payment_ref per request)"
    )
    print(
        f"servers: {uvicorn_implementation()}; shanlian serve on PostgreSQL with its anchor "
        "worker on anvil; baseline bench/minimal_service.py (FastAPI + psycopg, one INSERT "
        "and COMMIT) with the same uvicorn settings and database"
    )
    print(
        f"{'workers':>7} {'clients':>7}  {'shanlian req/s':>14} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'non-2xx':>7}   {'minimal req/s':>13} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7}   "
        f"{'ratio':>5}  {'wrk CPU':>7} {'server CPU':>10}"
    )
    for workers in worker_counts:
        for c in levels:
            rate, base_rate = median(workers, c, 0, "rate"), median(workers, c, 1, "rate")
            print(
                f"{workers:>7} {c:>7}  {rate:>14,.0f} {median(workers, c, 0, 'p50'):>7.1f} "
                f"{median(workers, c, 0, 'p99'):>7.1f} {median(workers, c, 0, 'bad'):>7.0f}   "
                f"{base_rate:>13,.0f} {median(workers, c, 1, 'p50'):>7.1f} "
                f"{median(workers, c, 1, 'p99'):>7.1f} {median(workers, c, 1, 'bad'):>7.0f}   "
                f"{rate / base_rate if base_rate else 0:>5.2f}  "
                f"{median(workers, c, 0, 'wrk'):>6.0f}% {median(workers, c, 0, 'server'):>9.0f}%"
            )
    print(
        "(CPU: share of one core over the point, while driving shanlian; the machine has "
        f"{os.cpu_count()} cores)"
    )

    wrk_top = 100 * max(
        point.wrk.cpu_share
        for by_level in results.values()
        for pairs in by_level.values()
        for pair in pairs
        for point in pair
    )
    print(
        f"wrk used at most {wrk_top:.0f}% of one core at any point (of "
        f"{100 * (os.cpu_count() or 1)}% on this machine): "
        + (
            "it is not the bottleneck."
            if wrk_top < 50
            else "it takes a large share of the machine: compare ratios, not rates."
        )
    )
    verdicts = []
    for workers in worker_counts:
        parts = []
        if 64 in levels:
            rate, base_rate = median(workers, 64, 0, "rate"), median(workers, 64, 1, "rate")
            ratio = rate / base_rate if base_rate else 0.0
            p99 = median(workers, 64, 0, "p99")
            parts.append(
                f"64 clients ratio {ratio:.2f} (target ≥ {TARGET_RATIO}: "
                f"{'met' if ratio >= TARGET_RATIO else 'not met'}), p99 {p99:.0f} ms (target "
                f"≤ {TARGET_P99_MS:.0f}: {'met' if p99 <= TARGET_P99_MS else 'not met'})"
            )
        if 1 in levels:
            p50 = median(workers, 1, 0, "p50")
            parts.append(
                f"1 client p50 {p50:.1f} ms (target ≤ {TARGET_P50_MS:.0f}: "
                f"{'met' if p50 <= TARGET_P50_MS else 'not met'})"
            )
        if parts:
            verdicts.append(f"{workers} worker(s): " + "; ".join(parts))
    for verdict in verdicts:
        print(verdict)
    top = 64 if 64 in levels else max(levels)
    if len(worker_counts) > 1:
        best = max(worker_counts, key=lambda w: median(w, top, 0, "rate"))
        fewest = min(worker_counts)
        if median(best, top, 0, "rate") < 1.1 * median(fewest, top, 0, "rate"):
            best = fewest  # within 10%: the difference is noise, fewer processes are simpler
            advice = f"level within 10%: use {best}, the fewer processes"
        else:
            advice = f"use {best}"
        print(
            f"at {top} clients: "
            + ", ".join(
                f"{w} worker(s) {median(w, top, 0, 'rate'):,.0f} req/s" for w in worker_counts
            )
            + f": {advice}"
        )
    else:
        best = worker_counts[0]
    rate, base_rate = median(best, top, 0, "rate"), median(best, top, 1, "rate")
    print(
        "SUMMARY "
        + json.dumps(
            {
                "benchmark": "ingest, HTTP POST /donations (PostgreSQL, wrk, "
                + "/".join(str(c) for c in levels)
                + " clients, "
                + "/".join(str(w) for w in worker_counts)
                + " workers)",
                "project": "; ".join(
                    f"{w} worker(s): "
                    + ", ".join(
                        f"{median(w, c, 0, 'rate'):,.0f} req/s p99 "
                        f"{median(w, c, 0, 'p99'):.0f} ms @{c}"
                        for c in levels
                    )
                    for w in worker_counts
                ),
                "baseline": "minimal FastAPI + psycopg service, same uvicorn settings: "
                + "; ".join(
                    f"{w} worker(s): "
                    + ", ".join(f"{median(w, c, 1, 'rate'):,.0f}/s @{c}" for c in levels)
                    for w in worker_counts
                ),
                "ratio": round(rate / base_rate, 2) if base_rate else 0,
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
