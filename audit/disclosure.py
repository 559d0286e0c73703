"""``shanlian audit-report``: recompute a disclosure report from a journal export (ADR 0039).

The report states its checkpoint (``tree_size``); the audit reads the export's first
``tree_size`` lines, checks that they are canonical entries whose Merkle root is the
checkpoint's (anchored on chain, with ``--rpc`` and ``--contract``), recomputes the report
with the ledger's own ``compute_report`` and names every figure that differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.errors import AuditError
from audit.export import Export
from audit.onchain import attach_ledger_anchor, connect_reader
from chain.errors import ChainError, ContractRevertError
from ledger.disclosure import DisclosureError, Report, compare_reports, compute_report
from ledger.disclosure import report_digest as digest_of
from ledger.entries import Entry, from_hex, parse_entry, to_hex
from ledger.errors import EntryError
from ledger.merkle import CompactRange, leaf_hash

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


@dataclass
class ReportCheck:
    """What ``check_report`` found.

    Attributes:
        recomputed: the report as the export gives it.
        root: the export's Merkle root at the report's ``tree_size``.
        differences: JSON paths where the claimed report differs from ``recomputed``.
        problems: everything else that is wrong (the root, the digest, the export).
        notes: what was checked, and what was not.
    """

    recomputed: Report | None = None
    root: bytes = b""
    differences: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.recomputed is not None and not self.differences and not self.problems


def _entries(lines: Iterator[bytes], tree_size: int, tree: CompactRange) -> Iterator[Entry]:
    """The export's first ``tree_size`` entries, each canonical, their leaves into ``tree``."""
    for seq, line in enumerate(lines):
        if seq >= tree_size:
            return
        line = line.rstrip(b"\r\n")
        try:
            entry = parse_entry(json.loads(line))
        except (ValueError, EntryError) as error:
            raise AuditError(f"line {seq + 1} of the export is not an entry: {error}") from None
        if entry.seq != seq:
            raise AuditError(f"line {seq + 1} of the export holds entry {entry.seq}, not {seq}")
        if entry.leaf_bytes != line:
            raise AuditError(f"entry {seq} is not in its canonical form (RFC 8785)")
        tree.append(leaf_hash(line))
        yield entry


def check_report(
    document: Mapping[str, Any],
    lines: Iterator[bytes],
    *,
    root_hash: bytes | None = None,
) -> ReportCheck:
    """Recompute the report ``document`` claims from the export's ``lines``.

    Args:
        document: a report page's ``.json`` twin (``{"report": …, "checkpoint": …}``) or a
            report alone.
        lines: the export, from entry 0.
        root_hash: the anchored root at the report's ``tree_size``, when the caller read it
            from the chain; else the document's own checkpoint root is compared.

    Raises:
        AuditError: the document is no report, or the export cannot be read.
    """
    claimed = document.get("report", document)
    if not isinstance(claimed, Mapping) or claimed.get("format") != "shanlian-report/v1":
        raise AuditError("that is not a shanlian-report/v1 (a report page's .json twin)")
    try:
        tree_size = int(claimed["tree_size"])
        period = str(claimed["period"])
        scope = claimed["scope"]
        project_id = scope["project_id"]
        charity_id = None if project_id is not None else scope["charity_id"]
    except (KeyError, TypeError, ValueError) as error:
        raise AuditError(f"the report lacks its checkpoint or scope ({error})") from None
    check = ReportCheck()
    tree = CompactRange()
    try:
        check.recomputed = compute_report(
            _entries(lines, tree_size, tree),
            tree_size=tree_size,
            period=period,
            project_id=project_id,
            charity_id=charity_id,
        )
    except DisclosureError as error:
        check.problems.append(f"the export cannot give this report: {error}")
        return check
    check.root = tree.root()
    stated = document.get("checkpoint") or {}
    expected = root_hash
    if expected is None and isinstance(stated, Mapping) and "root_hash" in stated:
        expected = from_hex(str(stated["root_hash"]))
        check.notes.append(
            "the root was compared with the document's checkpoint, not read from the chain: "
            "pass --rpc and --contract to check that it is anchored"
        )
    if expected is None:
        check.problems.append("no checkpoint root to compare the export with")
    elif expected != check.root:
        check.problems.append(
            f"the export's root at {tree_size} entries is {to_hex(check.root)}, "
            f"the checkpoint's is {to_hex(expected)}"
        )
    body = {k: v for k, v in claimed.items() if k != "digest"}
    if claimed.get("digest") != digest_of(body):
        check.problems.append("the report's digest is not the digest of its own figures")
    check.differences = compare_reports(check.recomputed, claimed)
    return check


def _load(source: str) -> Any:
    from audit.cli import _load_bundle  # the same reader: a file, '-' or a URL

    return _load_bundle(source)


def cmd_audit_report(args: argparse.Namespace) -> int:
    """Run ``shanlian audit-report``."""
    out = sys.stdout
    try:
        document = _load(args.report)
        root: bytes | None = None
        if args.rpc:
            if not args.contract:
                raise AuditError("--rpc needs --contract (the LedgerAnchor you trust)")
            claimed = document.get("report", document) if isinstance(document, dict) else {}
            stated = document.get("checkpoint") if isinstance(document, dict) else None
            client = connect_reader(args.rpc, chain_id=args.chain_id)
            block = client.block_number()
            attach_ledger_anchor(client, args.contract, block)
            if not isinstance(stated, Mapping) or "root_hash" not in stated:
                raise AuditError("the document names no checkpoint root to look up on chain")
            try:
                anchored = client.checkpoint_of(from_hex(str(stated["root_hash"])), block)
            except ContractRevertError:
                out.write("MISMATCH: the report's checkpoint root is not anchored on chain\n")
                return EXIT_FAILED
            if anchored.tree_size != claimed.get("tree_size"):
                out.write(
                    f"MISMATCH: the root anchored on chain is of {anchored.tree_size} entries, "
                    f"the report says {claimed.get('tree_size')}\n"
                )
                return EXIT_FAILED
            root = anchored.root_hash
            out.write(f"  ok      checkpoint #{anchored.index} is anchored on chain\n")
        check = check_report(document, Export(args.journal).lines(), root_hash=root)
    except (AuditError, ChainError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    for note in check.notes:
        out.write(f"  note    {note}\n")
    for problem in check.problems:
        out.write(f"  FAILED  {problem}\n")
    for path in check.differences:
        out.write(f"  FAILED  differs from the journal: {path}\n")
    if check.ok and check.recomputed is not None:
        out.write(
            f"MATCHES: the report ({check.recomputed.period}, {check.recomputed.tree_size} "
            f"entries, root {to_hex(check.root)}) is what the journal gives; "
            f"digest {check.recomputed.digest}\n"
        )
        return EXIT_OK
    out.write("MISMATCH: the report is not what the journal gives\n")
    return EXIT_FAILED


def add_command(commands: Any) -> None:
    """Add ``audit-report`` to a parser's sub-commands."""
    command = commands.add_parser(
        "audit-report",
        help="recompute a disclosure report from a journal export and its checkpoint",
        description="Read the report (a report page's .json twin), recompute it from the "
        "export's first tree_size entries, check their Merkle root against the report's "
        "checkpoint (on chain with --rpc and --contract) and name every figure that differs. "
        "Exit status 0: matches; 1: does not; 2: could not run.",
        epilog="examples:\n"
        "  shanlian audit-report 'http://127.0.0.1:8000/reports/pr_…/2026-Q3.json?at=1234' \\\n"
        "      --journal http://127.0.0.1:8000/api/v1/entries \\\n"
        "      --rpc http://127.0.0.1:8000/api/v1/chain/rpc --contract 0x…\n"
        "  shanlian audit-report report.json --journal journal.jsonl",
    )
    command.add_argument("report", metavar="REPORT", help="the report: a file, '-' or a URL")
    command.add_argument(
        "--journal", required=True, metavar="FILE_OR_URL", help="the export (as `audit` reads it)"
    )
    command.add_argument("--rpc", metavar="URL", help="a JSON-RPC node of the chain")
    command.add_argument("--contract", metavar="ADDRESS", help="the LedgerAnchor you trust")
    command.add_argument(
        "--chain-id", type=int, metavar="N", help="refuse a node that serves another chain"
    )
    command.set_defaults(func=cmd_audit_report)
