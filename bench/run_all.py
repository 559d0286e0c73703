"""Run every benchmark of DESIGN §9 and print one table: the project, its baseline, the ratio.

Each benchmark is its own script in ``bench/`` that measures a baseline in the same run
and ends with a ``SUMMARY {json}`` line; this runs them one after another (never in
parallel: they would measure each other), collects those lines, prints the table, and
with ``--write`` puts it with the machine's description into docs/performance.md.

    .venv/bin/python bench/run_all.py [--quick] [--write]     (also: shanlian bench)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERFORMANCE = ROOT / "docs" / "performance.md"
MARKER_START = "<!-- bench:summary:start -->"
MARKER_END = "<!-- bench:summary:end -->"


@dataclass(frozen=True)
class Bench:
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


BENCHES = (
    Bench("bench_ingest.py", ("--runs", "5"), ("--runs", "3", "--batches", "3")),
    Bench("bench_http.py", (), ("--quick",)),
    Bench("bench_proof.py", (), ("--sizes", "10000,100000", "--samples", "300")),
    Bench("bench_anchor_gas.py", (), ("--max-size", "100000")),
    Bench("bench_audit.py", (), ("--entries", "100000")),
    Bench("bench_explorer.py", (), ("--rounds", "1", "--seconds", "5")),
    Bench("bench_giving_day.py", (), ("--quick",)),
)


def machine() -> str:
    """What the figures were measured on."""
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read_text())
        if match:
            memory = f", {int(match.group(1)) / 1024 / 1024:.0f} GiB RAM"
    cpu = platform.processor() or platform.machine()
    model = Path("/proc/cpuinfo")
    if model.exists():
        match = re.search(r"model name\s*:\s*(.+)", model.read_text())
        if match:
            cpu = match.group(1).strip()
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}"


def run(bench: Bench, quick: bool) -> tuple[dict[str, object] | None, str]:
    """Run one benchmark script; its summary (or None) and its command line."""
    args = bench.quick if quick else bench.full
    command = [sys.executable, str(ROOT / "bench" / bench.script), *args]
    shown = " ".join([".venv/bin/python", f"bench/{bench.script}", *args])
    if not (ROOT / "bench" / bench.script).exists():
        return None, shown
    print(f"== {shown}", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    sys.stderr.write(result.stdout)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        print(f"   failed with exit status {result.returncode}", file=sys.stderr)
        return None, shown
    print(f"   {time.monotonic() - started:.0f} s", file=sys.stderr)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("SUMMARY "):
            summary: dict[str, object] = json.loads(line.removeprefix("SUMMARY "))
            return summary, shown
    return None, shown


def table(rows: list[tuple[dict[str, object] | None, str]]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| benchmark | the project | baseline in the same run | ratio | command |",
        "|---|---|---|---|---|",
    ]
    for summary, command in rows:
        if summary is None:
            lines.append(f"| `{command.split()[1]}` | did not run | | | `{command}` |")
            continue
        lines.append(
            f"| {summary['benchmark']} | {summary['project']} | {summary['baseline']} | "
            f"{summary['ratio']} | `{command}` |"
        )
    return "\n".join(lines)


def write(markdown: str) -> None:
    """Put the summary table into docs/performance.md, between its markers."""
    block = f"{MARKER_START}\n{markdown}\n{MARKER_END}"
    text = PERFORMANCE.read_text() if PERFORMANCE.exists() else "# Performance\n"
    if MARKER_START in text:
        before, rest = text.split(MARKER_START, 1)
        after = rest.split(MARKER_END, 1)[1]
        text = before + block + after
    else:
        head, _, tail = text.partition("\n")
        text = f"{head}\n\n## Summary (`shanlian bench`)\n\n{block}\n{tail}"
    PERFORMANCE.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args(argv)
    rows = [run(bench, args.quick) for bench in BENCHES]
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    markdown = (
        f"Measured {when} on {machine()}"
        + (" (quick sizes)" if args.quick else "")
        + ".\n\n"
        + table(rows)
    )
    print(markdown)
    if args.write:
        write(markdown)
    return 0 if all(summary is not None for summary, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
