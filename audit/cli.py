"""``shanlian audit`` and ``shanlian verify``: the auditor's two commands.

``add_commands`` adds both to the ``shanlian`` parser (``api.cli``); ``main`` runs them
on their own. Exit status: 0 verified, 1 verification failed, 2 could not verify (a
file missing, the node down, no contract at the address).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import httpx

from audit import disclosure
from audit.auditor import run_audit
from audit.bundle import Step, parse_bundle, verify_bundle_offline, verify_bundle_on_chain
from audit.errors import AuditError, BundleError
from audit.export import Export, is_url
from audit.fund_use import verify_fund_use
from audit.html import render_html
from audit.onchain import connect_reader, redact_url
from audit.scanner import SCANNER_PROBLEM
from chain.errors import ChainError
from ledger.signed_note import NoteError, Verifier
from ledger.tlog_policy import Policy, PolicyError, parse_policy

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


class Progress:
    """A one-line progress bar on stderr for long audits (only on a terminal).

    It stays silent for the first half second, so short runs print nothing.
    """

    def __init__(self, export: Export, stream: IO[str] | None = None) -> None:
        self.export = export
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, lines: int) -> None:
        """Show ``lines`` done (and the share of bytes read, when the size is known)."""
        elapsed = time.monotonic() - self.started
        if not self.enabled or elapsed < 0.5:
            return
        rate = lines / elapsed if elapsed else 0.0
        total = self.export.total_bytes
        if total:
            share = min(self.export.bytes_read / total, 1.0)
            bar = "#" * int(30 * share) + "." * (30 - int(30 * share))
            text = f"\raudit [{bar}] {share:4.0%} {lines:,} entries, {rate:,.0f}/s"
        else:
            text = f"\raudit {lines:,} entries, {rate:,.0f}/s"
        self.stream.write(text)
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        """End the progress line."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def cmd_audit(args: argparse.Namespace) -> int:
    """Run ``shanlian audit``."""
    try:
        export = Export(args.journal, log_key=args.log_key)
        earlier = Export(args.earlier_export) if args.earlier_export else None
        client = connect_reader(args.rpc, chain_id=args.chain_id)
        progress = Progress(export)
        if SCANNER_PROBLEM is not None and not args.no_fast_path:
            # Loud: an audit of a million entries takes minutes instead of seconds.
            print(f"warning: {SCANNER_PROBLEM}", file=sys.stderr)
        try:
            report = run_audit(
                export.blocks(),
                client,
                contract=args.contract,
                registry=args.registry,
                block=args.block,
                finality=args.finality,
                confirmations=args.confirmations,
                from_block=args.from_block,
                earlier=None if earlier is None else earlier.lines(),
                journal_name=args.journal,
                fast=not args.no_fast_path,
                progress=progress,
            )
        finally:
            progress.done()
    except (AuditError, ChainError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(report.to_text())
    try:
        if args.report_json:
            Path(args.report_json).write_text(
                json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", "utf-8"
            )
        if args.report_html:
            Path(args.report_html).write_text(render_html(report), "utf-8")
    except OSError as error:
        print(f"error: cannot write the report: {error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK if report.ok else EXIT_FAILED


def _load_bundle(source: str) -> Any:
    """The bundle document from a path, ``-`` or a URL.

    Raises:
        AuditError: it cannot be read or is not JSON.
    """
    try:
        if source == "-":
            text = sys.stdin.read()
        elif is_url(source):
            response = httpx.get(source, timeout=30.0, follow_redirects=True)
            if response.status_code != 200:
                raise AuditError(f"{source}: HTTP {response.status_code}: {response.text[:200]}")
            text = response.text
        else:
            text = Path(source).read_text("utf-8")
    except (OSError, UnicodeDecodeError, httpx.HTTPError) as error:
        raise AuditError(f"{source}: cannot read it ({error})") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise AuditError(f"{source}: not JSON ({error})") from None


def _show(step: Step, out: IO[str]) -> None:
    out.write(f"  ok      {step.name:<14} {step.detail}\n")


def cmd_verify(args: argparse.Namespace) -> int:
    """Run ``shanlian verify``."""
    out = sys.stdout
    try:
        document = _load_bundle(args.bundle)
    except AuditError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    out.write(f"Verifying the proof bundle {args.bundle}\n")
    steps: list[Step] = []
    try:
        bundle = parse_bundle(document)
        for step in verify_bundle_offline(bundle, log_key=args.log_key, witnesses=args.witnesses):
            _show(step, out)
            steps.append(step)
        client = connect_reader(args.rpc, chain_id=args.chain_id)
        out.write(f"  (asking chain {client.chain_id} at {redact_url(args.rpc)})\n")
        for step in verify_bundle_on_chain(
            bundle, client, contract=args.contract, call_contract=not args.no_contract_call
        ):
            _show(step, out)
            steps.append(step)
        # ADR 0037: the donation's disbursements, and who signed each, against the chain.
        for step in verify_fund_use(bundle, client, registry=args.registry):
            _show(step, out)
            steps.append(step)
    except BundleError as error:
        out.write(f"  FAILED  {error.step:<14} {error.message}\n")
        out.write(f"REJECTED at step {error.step}: {error.message}\n")
        return EXIT_FAILED
    except (AuditError, ChainError) as error:
        print(f"error: could not finish verifying: {error}", file=sys.stderr)
        return EXIT_ERROR
    out.write(
        f"VERIFIED: entry {bundle.seq} is in the journal whose checkpoint "
        f"{bundle.checkpoint_index} (tree size {bundle.tree_size:,}) is anchored on chain "
        f"{bundle.chain_id} by {bundle.contract}\n"
    )
    if args.contract is None:
        out.write(
            "  note: the contract was taken from the bundle; pass --contract with the "
            "deployment's published LedgerAnchor address to pin it\n"
        )
    return EXIT_OK


def _address(value: str) -> str:
    if not (value.startswith("0x") and len(value) == 42):
        raise argparse.ArgumentTypeError(f"{value!r} is not an address (0x and 40 hex digits)")
    try:
        int(value[2:], 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an address") from None
    return value


def _policy(value: str) -> Policy:
    try:
        return parse_policy(Path(value).read_text(encoding="utf-8"))
    except OSError as error:
        raise argparse.ArgumentTypeError(f"{value}: {error.strerror}") from None
    except (UnicodeDecodeError, PolicyError) as error:
        raise argparse.ArgumentTypeError(f"{value}: {error}") from None


def _log_key(value: str) -> Verifier:
    try:
        return Verifier.parse(value)
    except NoteError as error:
        raise argparse.ArgumentTypeError(f"{value!r}: {error}") from None


def _positive(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return number


def add_commands(commands: Any) -> None:
    """Add ``audit`` and ``verify`` to a parser's sub-commands.

    Args:
        commands: what ``ArgumentParser.add_subparsers()`` returned.
    """
    audit = commands.add_parser(
        "audit",
        help="verify a whole journal export against the chain, trusting nothing else",
        description="Recompute the Merkle tree of a journal export, compare it with every "
        "checkpoint anchored on chain, and re-check every entry and accounting rule. "
        "Exit status 0: passed; 1: failed (the first bad seq is named); 2: could not run.",
        epilog="examples:\n"
        "  shanlian audit --journal http://127.0.0.1:8000/api/v1/entries \\\n"
        "      --rpc http://127.0.0.1:8000/api/v1/chain/rpc --contract 0x… --registry 0x… \\\n"
        "      --report-html audit.html\n"
        "  shanlian audit --journal journal.jsonl --rpc https://node.example.org "
        "--contract 0x… --earlier-export last-year.jsonl",
    )
    audit.add_argument(
        "--journal",
        required=True,
        metavar="FILE_OR_URL",
        help="the export: JSON Lines file, '-' for stdin, or a URL "
        "(e.g. https://host/api/v1/entries, read page by page; or a tlog-tiles log, "
        "https://host/tlog, read from its entry bundles up to its checkpoint)",
    )
    audit.add_argument(
        "--log-key",
        type=_log_key,
        metavar="VKEY",
        help="with a tlog-tiles --journal: the log's verifier key (name+keyid+key), which "
        "must have signed its checkpoint",
    )
    _add_chain_options(
        audit,
        contract_required=True,
        contract_help="the LedgerAnchor",
        registry_help="the CharityRegistry: check every charity against it",
    )
    audit.add_argument(
        "--block",
        type=_positive,
        metavar="N",
        help="read the chain as of this block (default: the newest final one, see "
        "--finality); for an older export",
    )
    audit.add_argument(
        "--finality",
        choices=["auto", "finalized", "safe", "depth"],
        default="auto",
        help="which block is final: the node's finalized or safe block (where it has none, "
        "the latest less --confirmations), or depth: always that; auto (default): finalized, "
        "but the latest block on a devnet (chain id 31337), whose tags are made up",
    )
    audit.add_argument(
        "--confirmations",
        type=_positive,
        default=1,
        metavar="N",
        help="blocks, counting its own, that make a block final where depth decides (1)",
    )
    audit.add_argument(
        "--from-block",
        type=_positive,
        default=0,
        metavar="N",
        help="the block the LedgerAnchor was deployed in (shanlian deploy prints it): its "
        "checkpoint logs are searched from there (default: 0)",
    )
    audit.add_argument("--report-json", metavar="FILE", help="also write the report as JSON")
    audit.add_argument("--report-html", metavar="FILE", help="also write the report as HTML")
    audit.add_argument(
        "--earlier-export",
        metavar="FILE",
        help="your own earlier verified export: names the exact seq of any change",
    )
    audit.add_argument(
        "--no-fast-path",
        action="store_true",
        help="decode every line with the ledger's own models, without the scanner in C "
        "(several times slower; same verdict)",
    )
    audit.set_defaults(func=cmd_audit)

    verify = commands.add_parser(
        "verify",
        help="verify one proof bundle (a donation's receipt proof) against the chain",
        description="Check a shanlian-proof/v1 bundle step by step: the entry's hash, its "
        "inclusion proof, and with the chain that the checkpoint is the one anchored. "
        "Exit status 0: verified; 1: rejected (the step is named); 2: could not run.",
        epilog="examples:\n"
        "  curl -s http://127.0.0.1:8000/api/v1/donations/dn_…/proof > proof.json\n"
        "  shanlian verify proof.json --rpc http://127.0.0.1:8000/api/v1/chain/rpc "
        "--contract 0x…\n"
        "  shanlian verify http://127.0.0.1:8000/api/v1/donations/dn_…/proof --rpc …",
    )
    verify.add_argument("bundle", metavar="BUNDLE", help="the bundle: a file, '-' or a URL")
    _add_chain_options(
        verify,
        contract_required=False,
        contract_help="the LedgerAnchor you trust (the deployment's published address)",
        registry_help="the CharityRegistry you trust: who signed the donation's disbursements "
        "is read from it (default: the bundle's, whose code must be the published build)",
    )
    verify.add_argument(
        "--log-key",
        type=_log_key,
        metavar="VKEY",
        help="the log's verifier key (name+keyid+key, published at /api/v1/chain): the "
        "bundle's checkpoint must then be signed by it (ADR 0031)",
    )
    verify.add_argument(
        "--witnesses",
        type=_policy,
        metavar="POLICY",
        help="a C2SP tlog-policy file (the deployment's witnesses and quorum): the bundle's "
        "checkpoint must then carry cosignatures that meet it (ADR 0035)",
    )
    verify.add_argument(
        "--no-contract-call",
        action="store_true",
        help="skip the contract's own verifyInclusion eth_call",
    )
    verify.set_defaults(func=cmd_verify)
    disclosure.add_command(commands)  # audit-report (ADR 0039)


def _add_chain_options(
    command: argparse.ArgumentParser,
    *,
    contract_required: bool,
    contract_help: str,
    registry_help: str,
) -> None:
    """The options ``audit`` and ``verify`` share: the node, the two contracts, the chain id."""
    command.add_argument("--rpc", required=True, metavar="URL", help="a JSON-RPC node of the chain")
    command.add_argument(
        "--contract",
        required=contract_required,
        type=_address,
        metavar="ADDRESS",
        help=contract_help,
    )
    command.add_argument("--registry", type=_address, metavar="ADDRESS", help=registry_help)
    command.add_argument(
        "--chain-id", type=int, metavar="N", help="refuse a node that serves another chain"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``audit`` or ``verify`` without the rest of ``shanlian``."""
    parser = argparse.ArgumentParser(prog="shanlian", description="善链 shanlian: the auditor")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
