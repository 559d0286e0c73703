"""Explorer benchmark: the donation page, req/s and latency at 32 concurrent clients.

Baseline, in the same run and the same server: a static file of the explorer
(``/static/explorer.css``, served by Starlette's StaticFiles), so the ratio shows what
rendering a page from the journal costs beyond serving bytes. ``shanlian serve`` runs
as a subprocess on a free port of 127.0.0.1 with the demo data set (2,000 donations) in a
temporary SQLite file and the embedded chain, anchored before measuring. Rounds alternate
page and baseline, each bounded in time (and, with httpx, in requests); the table
reports medians.

Load comes from ``wrk`` when it is installed (``apt-get install wrk``: a C client that
leaves the two cores to the server) and otherwise from httpx's async client in this
process, which saturates first on a small machine: compare ratios, not absolute rates.

    .venv/bin/python bench/bench_explorer.py [--clients 32] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

TOKEN = "bench-explorer-platform-token-0123456789abcdef"
BIN = Path(sys.executable).parent


@dataclass
class Round:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def load(base: str, path: str, clients: int, total: int, limit_s: float) -> Round:
    """``clients`` concurrent keep-alive clients GET ``path`` until ``total`` or ``limit_s``."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + limit_s
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal issued, errors
            while issued < total and time.perf_counter() < deadline:
                issued += 1
                started = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return Round(requests=len(latencies), seconds=elapsed, latencies=latencies, errors=errors)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_wrk(base: str, path: str, clients: int, limit_s: float) -> Round:
    """The same load from ``wrk`` (two threads, ``clients`` connections, ``limit_s``)."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    seconds = max(1, round(limit_s))
    output = subprocess.run(
        [wrk, "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s", base + path],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    elapsed = float(re.search(r"requests in ([\d.]+)s", output).group(1))  # type: ignore[union-attr]
    percentiles = {
        int(p): _ms(v, u) for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)", output)
    }
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    # Keep the shape of an httpx round: latencies at the two percentiles reported.
    latencies = [percentiles[50] / 1000] * 98 + [percentiles[99] / 1000] * 2
    return Round(
        requests=requests,
        seconds=elapsed,
        latencies=latencies,
        errors=(int(errors.group(1)) if errors else 0) + (1 if socket_errors else 0),
    )


def wait_for(base: str, path: str, ready: object, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            response = httpx.get(base + path, timeout=5)
            if ready is None and response.status_code == 200:
                return
            if callable(ready) and response.status_code == 200 and ready(response.json()):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base}{path} was not ready within {limit_s} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000, help="per round (bounded)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per round, at most")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--donations", type=int, default=2000)
    parser.add_argument("--driver", choices=["auto", "wrk", "httpx"], default="auto")
    args = parser.parse_args()
    driver = args.driver
    if driver == "auto":
        driver = "wrk" if shutil.which("wrk") else "httpx"

    folder = Path(tempfile.mkdtemp(prefix="bench-explorer-"))
    database = folder / "journal.db"
    url = f"sqlite:///{database}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("API_", "CHAIN_", "ANCHOR_"))},
        "SHANLIAN_ADMIN_TOKEN": TOKEN,
        "API_EVIDENCE_DIR": str(folder / "evidence"),
        "ANCHOR_INTERVAL_S": "0",
        "ANCHOR_POLL_S": "0.2",
    }
    shanlian = str(BIN / "shanlian")
    subprocess.run(
        [shanlian, "--database", url, "demo", "--donations", str(args.donations)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT donation_id FROM donation WHERE allocated > 0 ORDER BY seq LIMIT 1"
        ).fetchone()
    donation_id = row[0]
    page = f"/donations/{donation_id}"
    static = "/static/explorer.css"
    server = subprocess.Popen(
        [shanlian, "--database", url, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(base, "/healthz", None)
        wait_for(
            base, page + ".json", lambda twin: twin["donation"]["status"]["state"] != "recorded"
        )
        size = len(httpx.get(base + page).content), len(httpx.get(base + static).content)
        asyncio.run(load(base, static, args.clients, 200, 10))  # warm up both
        asyncio.run(load(base, page, args.clients, 200, 10))
        results: dict[str, list[Round]] = {page: [], static: []}
        for _ in range(args.rounds):
            for path in (static, page):
                if driver == "wrk":
                    measured = load_wrk(base, path, args.clients, args.seconds)
                else:
                    measured = asyncio.run(
                        load(base, path, args.clients, args.requests, args.seconds)
                    )
                results[path].append(measured)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        shutil.rmtree(folder, ignore_errors=True)

    def row(name: str, path: str) -> tuple[str, float, float, float, int]:
        rounds = results[path]
        return (
            name,
            statistics.median(r.rate for r in rounds),
            statistics.median(r.percentile(0.50) for r in rounds),
            statistics.median(r.percentile(0.99) for r in rounds),
            sum(r.errors for r in rounds),
        )

    donation_row = row(f"donation page ({size[0]:,} B)", page)
    static_row = row(f"static file ({size[1]:,} B)", static)
    print(
        f"\nexplorer, {args.clients} concurrent clients ({driver}), {args.donations} donations "
        f"(SQLite), medians of {args.rounds} rounds of at most {args.seconds:g} s"
    )
    print(f"{'':<28} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for name, rate, p50, p99, errors in (donation_row, static_row):
        print(f"{name:<28} {rate:>9.0f} {p50:>9.1f} {p99:>9.1f} {errors:>7}")
    print(
        f"{'page / static':<28} {donation_row[1] / static_row[1]:>9.2f} "
        f"{donation_row[2] / static_row[2]:>9.2f} {donation_row[3] / static_row[3]:>9.2f}"
    )
    print(
        "SUMMARY "
        + json.dumps(
            {
                "benchmark": f"explorer donation page, {args.clients} clients ({driver})",
                "project": f"{donation_row[1]:,.0f} req/s, p99 {donation_row[3]:.0f} ms",
                "baseline": f"static file {static_row[1]:,.0f} req/s, "
                f"p99 {static_row[3]:.0f} ms, same server",
                "ratio": round(donation_row[1] / static_row[1], 2),
            },
            ensure_ascii=False,
        )
    )
    return 1 if donation_row[4] or static_row[4] else 0


if __name__ == "__main__":
    sys.exit(main())
