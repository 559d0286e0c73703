"""Explorer benchmark: the donation page and a tile against a static file of the same server.

``shanlian serve`` runs as a subprocess on a free port of 127.0.0.1 with the demo data set
(2,000 donations) in a temporary SQLite file and the embedded chain, anchored before
measuring. The load is ``wrk`` (C, Debian's package; ``bench/wrk_load.lua``), 2 threads
and 32 connections, each connection sending its next request as soon as its answer came.
In each round, one after another, for ``--seconds`` each:

- **the baseline**: a static file of the explorer (``/static/explorer.css``, Starlette's
  StaticFiles), served by the same process;
- the donation page of one donation (``/donations/ID``, HTML, rendered from the journal);
- donation pages of the 2,000 donations drawn at random (none is asked twice in a row);
- a full tile (``/tlog/tile/0/000``, 8 KiB read from the stored hashes).

Each figure's ratio is to the static file of the same round; the table gives the median
of the rounds, and the CPU that wrk and the server used (share of one core), so that a
load generator at its limit would show. The server is started once per page cache
setting of ``--page-cache``, each measuring one way of serving the page:

- ``exact``: the default, the exact page cache (``API_PAGE_CACHE_EXACT=true``,
  ``API_PAGE_CACHE_S=0``, ADR 0046): a page is served again while the version of what it
  is drawn from, read in one query, is unchanged;
- ``0``: every page rendered from the journal (``API_PAGE_CACHE_EXACT=false``);
- a number of seconds: the time-based cache alone (``API_PAGE_CACHE_S``, ADR 0036), each
  rendered page kept that long, stale meanwhile.

    .venv/bin/python bench/bench_explorer.py [--rounds 3] [--seconds 10] [--page-cache exact,0,5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import (
    ROOT,
    Server,
    clean_environment,
    cpu_seconds,
    cpu_used,
    free_port,
    run_wrk,
    wrk_version,
)

TOKEN = "bench-explorer-platform-token-0123456789abcdef"
BIN = Path(sys.executable).parent
STATIC = "/static/explorer.css"
TILE = "/tlog/tile/0/000"


@dataclass
class Measure:
    rate: float
    p50_ms: float
    p99_ms: float
    wrk_cpu: float
    server_cpu: float
    errors: int


@dataclass
class Target:
    name: str
    options: dict[str, object]


def measure(server: Server, target: Target, connections: int, seconds: float) -> Measure:
    pids = server.pids()
    before = cpu_seconds(pids)
    result = run_wrk(server.base, connections=connections, seconds=seconds, options=target.options)
    server_cpu = cpu_used(before, cpu_seconds(pids))
    return Measure(
        rate=result.rate,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        wrk_cpu=result.cpu_share,
        server_cpu=server_cpu / result.seconds if result.seconds else 0.0,
        errors=result.not_ok + result.socket_errors,
    )


def wait_anchored(base: str, page: str, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        twin = httpx.get(base + page + ".json", timeout=10)
        if twin.status_code == 200 and twin.json()["donation"]["status"]["state"] != "recorded":
            return
        time.sleep(0.5)
    raise SystemExit(f"{page} was not anchored within {limit_s} s")


EXACT = "exact"
"""The ``--page-cache`` setting of the exact cache (ADR 0046), the default."""


def setting_label(setting: str) -> str:
    """How the table and the summary name a ``--page-cache`` setting."""
    return "exact" if setting == EXACT else f"{setting} s"


def setting_environment(setting: str) -> dict[str, str]:
    """The server's environment for a ``--page-cache`` setting: one cache at a time."""
    if setting == EXACT:
        return {"API_PAGE_CACHE_EXACT": "true", "API_PAGE_CACHE_S": "0"}
    return {"API_PAGE_CACHE_EXACT": "false", "API_PAGE_CACHE_S": setting}


def run_setting(
    folder: Path, url: str, ids: list[str], setting: str, args: argparse.Namespace
) -> dict[str, list[Measure]]:
    """Start the server with the page cache ``setting``, measure every target."""
    page = f"/donations/{ids[0]}"
    ids_file = folder / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    targets = [
        Target("static file", {"mode": "get", "path": STATIC}),
        Target("donation page", {"mode": "get", "path": page}),
        Target(f"donation pages, {len(ids):,} at random", {"mode": "read", "ids": ids_file}),
        Target("tile (8 KiB)", {"mode": "get", "path": TILE}),
    ]
    port = free_port()
    env = clean_environment(
        SHANLIAN_ADMIN_TOKEN=TOKEN,
        API_EVIDENCE_DIR=str(folder / "evidence"),
        ANCHOR_INTERVAL_S="0",
        ANCHOR_POLL_S="0.2",
        **setting_environment(setting),
    )
    command = [str(BIN / "shanlian"), "--database", url, "serve", "--host", "127.0.0.1"]
    server = Server(
        f"shanlian serve (page cache {setting_label(setting)})",
        [*command, "--port", str(port)],
        env,
        port,
        folder / f"serve-{setting}.log",
    )
    results: dict[str, list[Measure]] = {t.name: [] for t in targets}
    server.start()
    try:
        wait_anchored(server.base, page)
        for target in targets:  # warm up every path once
            measure(server, target, args.clients, 1)
        for _ in range(args.rounds):
            for target in targets:
                results[target.name].append(measure(server, target, args.clients, args.seconds))
    finally:
        server.stop()
    return results


def summary_line(settings: dict[str, dict[str, list[Measure]]]) -> dict[str, object]:
    """The line ``shanlian bench`` puts in docs/performance.md's summary table."""

    def median_rate(rounds: list[Measure]) -> float:
        return statistics.median(m.rate for m in rounds)

    def ratio(results: dict[str, list[Measure]], name: str) -> float:
        pairs = zip(results[name], results["static file"], strict=True)
        return statistics.median(m.rate / s.rate for m, s in pairs)

    first = next(iter(settings.values()))
    pages = ", ".join(
        f"page cache {setting_label(setting)}: {median_rate(r['donation page']):,.0f} req/s "
        f"({ratio(r, 'donation page'):.2f})"
        for setting, r in settings.items()
    )
    return {
        "benchmark": "explorer donation page and a tile, 32 connections (wrk)",
        "project": f"donation page {pages}; tile {median_rate(first['tile (8 KiB)']):,.0f} req/s",
        "baseline": f"static file {median_rate(first['static file']):,.0f} req/s, same server",
        "ratio": " / ".join(f"{ratio(r, 'donation page'):.2f}" for r in settings.values())
        + f"; tile {ratio(first, 'tile (8 KiB)'):.2f}",
    }


def load_average() -> float:
    return os.getloadavg()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32, help="wrk's connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--donations", type=int, default=2000)
    parser.add_argument(
        "--page-cache",
        default=f"{EXACT},0",
        help=(
            "page cache settings to measure, comma-separated: 'exact' (the default, ADR 0046), "
            "0 (every page rendered), N (API_PAGE_CACHE_S=N alone, ADR 0036)"
        ),
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-explorer-"))
    database = folder / "journal.db"
    url = f"sqlite:///{database}"
    env = clean_environment(SHANLIAN_ADMIN_TOKEN=TOKEN, API_EVIDENCE_DIR=str(folder / "evidence"))
    subprocess.run(
        [str(BIN / "shanlian"), "--database", url, "demo", "--donations", str(args.donations)],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    with sqlite3.connect(database) as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "SELECT donation_id FROM donation ORDER BY allocated > 0 DESC, seq"
            )
        ]
    load_before = load_average()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    settings = {
        setting: run_setting(folder, url, ids, setting, args)
        for setting in (s.strip() for s in args.page_cache.split(","))
    }
    load_after = load_average()
    shutil.rmtree(folder, ignore_errors=True)

    print(
        f"\nexplorer, {args.clients} connections, wrk ({wrk_version()}), {args.donations:,} "
        f"donations (SQLite), medians of {args.rounds} rounds of {args.seconds:g} s per target; "
        f"{os.cpu_count()} cores, load average {load_before:.1f} before, {load_after:.1f} after; "
        f"{started}"
    )
    header = (
        f"{'page cache':>10}  {'target':<34} {'req/s':>7} {'ratio':>6} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'wrk CPU':>7} {'server CPU':>10} {'errors':>6}"
    )
    print(header)
    failed = False
    for setting, results in settings.items():
        static = results["static file"]
        for name, rounds in results.items():
            ratios = [m.rate / s.rate for m, s in zip(rounds, static, strict=True)]
            ratio = statistics.median(ratios)
            errors = sum(m.errors for m in rounds)
            failed = failed or errors > 0
            print(
                f"{setting_label(setting):>10}  {name:<34} "
                f"{statistics.median(m.rate for m in rounds):>7.0f} {ratio:>6.2f} "
                f"{statistics.median(m.p50_ms for m in rounds):>7.1f} "
                f"{statistics.median(m.p99_ms for m in rounds):>7.1f} "
                f"{100 * statistics.median(m.wrk_cpu for m in rounds):>6.0f}% "
                f"{100 * statistics.median(m.server_cpu for m in rounds):>9.0f}% {errors:>6}"
            )
    print(
        "(ratio: to the static file of the same round, median of the rounds; CPU: share of "
        "one core, median of the rounds)"
    )
    print("SUMMARY " + json.dumps(summary_line(settings), ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
