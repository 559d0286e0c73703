"""`shanlian evidence`: evidence files no disbursement cites, collected."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli.runtime import (
    _open_store,
)
from api.cli.usage import DATABASE_NOTE, _command, _group
from api.settings import get_settings


def cmd_evidence_collect(args: argparse.Namespace) -> int:
    from api.evidence import EvidenceStore

    evidence = EvidenceStore.from_settings(_open_store(args).engine, get_settings())
    done = evidence.collect()
    print(
        f"removed {done.rows_removed} evidence rows and {done.files_removed} files "
        f"({done.bytes_freed} bytes) no disbursement cites, older than "
        f"{evidence.limits.orphan_grace_s} s; {done.temp_removed} partial uploads"
        + (f"; restored {done.rows_restored} rows of cited files" if done.rows_restored else "")
    )
    return 0


def add_commands(commands: Any) -> None:
    """``evidence`` and its action."""
    evidence_commands = _group(
        commands,
        "evidence",
        "evidence files",
        "Evidence files (invoices, receipts, photos) are uploaded by charities with POST "
        "/api/v1/evidence and kept by SHA-256 under API_EVIDENCE_DIR; disbursements cite "
        "them.",
        "shanlian evidence collect",
    )
    _command(
        evidence_commands,
        "collect",
        "remove evidence files no disbursement cites, older than "
        "API_EVIDENCE_ORPHAN_GRACE_S (serve does it every API_EVIDENCE_COLLECT_INTERVAL_S)",
        "Remove the evidence files no disbursement cites once they are older than "
        "API_EVIDENCE_ORPHAN_GRACE_S, and partial uploads left behind; a cited file is never "
        "removed. `shanlian serve` does this every API_EVIDENCE_COLLECT_INTERVAL_S.\n\n"
        + DATABASE_NOTE,
        "shanlian evidence collect",
    ).set_defaults(func=cmd_evidence_collect)
