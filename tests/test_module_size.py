"""No production module over 600 lines (issue 15): a longer one is two rooms in one.

Production code is what ships and runs: the five packages' Python, the explorer's own
scripts, the audit's C scanner and the contracts. Tests, benchmarks and the
vendored bundle (``explorer/static/vendor/``, built from npm packages) are not.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 600
PACKAGES = ("api", "audit", "chain", "explorer", "ledger", "contracts")
SOURCE = (".py", ".js", ".c", ".sol")
"""Modules: code. The style sheet and the templates are not (issue 15 counts modules)."""


def production_files() -> list[Path]:
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--", *PACKAGES],
        cwd=REPO,
        capture_output=True,
        check=True,
        text=True,
    ).stdout.split("\0")
    return [
        REPO / name
        for name in tracked
        if name.endswith(SOURCE) and "/vendor/" not in name and (REPO / name).is_file()
    ]


def test_the_check_reads_the_packages_it_names() -> None:
    names = {path.relative_to(REPO).as_posix() for path in production_files()}
    assert {
        "api/app.py",
        "explorer/views.py",
        "audit/_scan.c",
        "contracts/LedgerAnchor.sol",
    } <= names
    assert not any("/vendor/" in name or name.startswith("tests/") for name in names)


def test_no_production_module_is_over_600_lines() -> None:
    too_long = {
        path.relative_to(REPO).as_posix(): lines
        for path in production_files()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these into rooms of at most {MAX_LINES} lines: {too_long}"
