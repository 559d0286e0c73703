"""`shanlian bench`: every benchmark against its baseline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from api.cli.usage import _command


def cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    script = Path(__file__).resolve().parents[2] / "bench" / "run_all.py"
    if not script.exists():
        print("the benchmarks live in the source checkout (bench/run_all.py)", file=sys.stderr)
        return 2
    extra = (["--quick"] if args.quick else []) + (["--write"] if args.write else [])
    return subprocess.call([sys.executable, str(script), *extra])  # noqa: S603


def add_commands(commands: Any) -> None:
    """``bench``."""
    bench = _command(
        commands,
        "bench",
        "run every benchmark against its baseline and print one table",
        "Run the benchmarks of DESIGN §9 (bench/, in the source checkout), each against a "
        "baseline measured in the same run, and print one table. Takes minutes and all the "
        "cores it can get.",
        "shanlian bench --quick",
        "shanlian bench --write    # and update docs/performance.md",
    )
    bench.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    bench.add_argument("--write", action="store_true", help="update docs/performance.md")
    bench.set_defaults(func=cmd_bench)
