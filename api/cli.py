"""The ``shanlian`` command: one entry point that wires the packages together."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from eth_account import Account
from pydantic import SecretStr, ValidationError
from sqlalchemy import URL, inspect, make_url
from web3 import Web3

from api import webhooks
from api.anchoring import AnchorError
from api.keys import (
    MAX_LABEL_LENGTH,
    IssuedKey,
    KeyRecord,
    KeyStore,
    KeyStoreError,
    UnknownCharityError,
)
from api.settings import ProductionSettingsError, describe_settings_error, get_settings
from audit import cli as audit_cli
from chain.client import ANCHORER_ROLE, REGISTRAR_ROLE, ChainClient
from chain.devnet import DEFAULT_STATE_FILE
from chain.errors import ChainError
from chain.settings import ChainSettings, redact_url
from ledger.entries import to_hex
from ledger.errors import LedgerError, StoreError
from ledger.store import projections
from ledger.store.engine import make_engine
from ledger.store.journal import Store

Command = Callable[[argparse.Namespace], int]


def _open_store(args: argparse.Namespace) -> Store:
    settings = get_settings()
    url = args.database or settings.database_url
    if not args.database:
        settings.ensure_database_dir()
    return Store.open(url)


def _progress(total: int, label: str) -> Callable[[int], None]:
    """A one-line progress bar on stderr, for long work."""
    interactive = sys.stderr.isatty()

    def show(done: int) -> None:
        if not interactive and done != total:
            return
        filled = int(30 * done / total) if total else 30
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def cmd_demo(args: argparse.Namespace) -> int:
    from chain.settings import get_settings as chain_settings

    # The embedded chain lives only as long as a process: anchor here only on a real
    # node; `shanlian serve` anchors the journal on its own chain when it starts.
    runtime = _runtime(args, with_chain=bool(chain_settings().rpc_url))
    services = runtime.services
    store = services.store
    if store.size() and not args.extend:
        print(
            f"The journal at {_where(store)} already holds {store.size()} entries; "
            "pass --extend to add the demo data set to it."
        )
        return 0
    for url in _record_demo(services, args).sample_receipts:
        print(f"  a donor's receipt link: {url}")
    return _summary(store)


def _where(store: Store) -> str:
    """The journal's URL, without a password."""
    return store.engine.url.render_as_string(hide_password=True)


def _record_demo(services: Any, args: argparse.Namespace) -> Any:
    """Record the demo data set and say what it holds; its ``DemoSummary``."""
    from api.demo import load_demo

    summary = load_demo(
        services,
        donations=args.donations,
        seed=args.seed,
        progress=_progress(args.donations, "demo donations"),
    )
    print(
        f"Loaded {summary.entries} entries: {summary.charities} charities, "
        f"{summary.projects} projects, {summary.donations} donations, "
        f"{summary.disbursements} disbursements with invoices, {summary.refunds} refund, "
        f"{summary.voids} voided disbursement"
        + (f", {summary.checkpoints} checkpoints anchored." if summary.checkpoints else "."),
        flush=True,
    )
    return summary


def _summary(store: Store) -> int:
    size = store.size()
    print(f"Journal {_where(store)}: {size} entries, Merkle root {to_hex(store.root(size))}")
    charities = {
        str(e.body["charity_id"]): str(e.body["name"])
        for e in store.entries()
        if e.kind == "charity.registered"
    }
    with store.engine.connect() as connection:
        for charity_id, name in charities.items():
            for balance in projections.balances(connection, charity_id=charity_id):
                print(
                    f"  {name} ({charity_id}): received {balance.received / 100:,.2f} "
                    f"{balance.currency}, disbursed {balance.disbursed / 100:,.2f}, "
                    f"refunded {balance.refunded / 100:,.2f}, held {balance.held / 100:,.2f}"
                )
    return 0


def cmd_journal_verify(args: argparse.Namespace) -> int:
    store = _open_store(args)
    report = store.verify()
    if report.ok:
        print(f"ok: {report.size} entries, Merkle root {to_hex(store.root(report.size))}")
        print("every leaf matches its entry, every stored node its children, the rules hold,")
        print("and the projections equal a rebuild from the journal")
        return 0
    seq, check, detail = report.problems[0]
    print(f"FAILED at seq {seq}: {check}: {detail}")
    for seq, check, detail in report.problems[1:20]:
        print(f"  also seq {seq}: {check}: {detail}")
    if len(report.problems) > 20:
        print(f"  … and {len(report.problems) - 20} more problems")
    return 1


def _open_read_only(args: argparse.Namespace) -> Store:
    """The journal, opened read-only: never migrated, and never created where there is none."""
    url = args.database or get_settings().database_url
    engine = make_engine(url, read_only=True)
    where = make_url(url).render_as_string(hide_password=True)
    try:
        present = inspect(engine).has_table("entry")
    except sqlalchemy.exc.OperationalError as error:
        said = _missing_database(make_url(url), error) or " ".join(str(error.orig).split())
        raise StoreError(f"cannot open the journal at {where}: {said}") from None
    if not present:
        raise StoreError(f"{where} holds no shanlian journal (it has no entry table)")
    return Store(engine)


def cmd_journal_export(args: argparse.Namespace) -> int:
    store = _open_read_only(args)
    output: Path | None = args.output
    size = 0
    if output is None:
        out = sys.stdout.buffer
        for leaf in store.leaves():
            out.write(leaf + b"\n")
            size += 1
        out.flush()
    else:
        partial = output.with_name(output.name + ".partial")
        with partial.open("wb") as out:
            for leaf in store.leaves():
                out.write(leaf + b"\n")
                size += 1
        partial.replace(output)  # whole or not at all: an audit never reads half an export
    root = to_hex(store.root(size))
    print(f"exported {size} entries, Merkle root {root}", file=sys.stderr)
    return 0


def cmd_journal_show(args: argparse.Namespace) -> int:
    return _summary(_open_store(args))


def cmd_journal_rebuild(args: argparse.Namespace) -> int:
    store = _open_store(args)
    differences = store.projection_differences()
    store.rebuild_projections()
    print(f"rebuilt the projections from {store.size()} entries ({len(differences)} rows differed)")
    return 0


def _runtime(args: argparse.Namespace, *, with_chain: bool = True) -> Any:
    from api.app import build_services

    settings = get_settings()
    if args.database:
        settings = settings.model_copy(update={"database_url": args.database})
    return build_services(settings, with_chain=with_chain)


def _configure_logging(verbose: bool) -> None:
    """Warnings and errors only; ``verbose``: every step of ours (and each request)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _demo_receipts(services: Any, count: int = 3) -> list[str]:
    """Receipt links of the demo's first ``count`` donations (on a restart with --demo).

    Only donations to the demo's own charities (by registration number): a real donor's
    receipt secret is never printed.
    """
    from api.demo import CHARITIES
    from api.errors import NotFoundError

    numbers = {charity.registration_no for charity in CHARITIES}
    # The demo's first donations come early; read them all before asking for their secrets
    # (an open read holds SQLite's lock).
    entries = list(services.store.entries(0, 100))
    demo = {
        e.body["charity_id"]
        for e in entries
        if e.kind == "charity.registered" and e.body["registration_no"] in numbers
    }
    links: list[str] = []
    for entry in entries:
        if entry.kind != "donation.received" or entry.body["charity_id"] not in demo:
            continue
        donation_id = str(entry.body["donation_id"])
        try:
            secret = services.receipt_secret(donation_id)
        except NotFoundError:
            continue
        links.append(services.receipt_url(donation_id, secret))
        if len(links) == count:
            break
    return links


def ready_box(runtime: Any, receipts: Sequence[str] = ()) -> str:
    """What ``serve`` prints once it answers: where everything is, the token, the links."""
    services = runtime.services
    base = services.settings.public_url
    chain = services.chain
    lines = [
        f"journal   {_where(services.store)} ({services.store.size():,} entries)",
        f"explorer  {base}/",
        f"API       {base}/api/v1   (OpenAPI docs: {base}/docs)",
    ]
    if chain is not None:
        if chain.is_embedded:
            where = "the embedded chain, in this process (a new, empty one at every start)"
            rpc = f"{base}/api/v1/chain/rpc"
        else:  # the node's own URL may hold a key: only the public one is shown
            where = redact_url(chain.rpc_url or "")
            rpc = services.settings.chain_rpc_public_url
        lines += [
            f"chain     {where}",
            f"          chain id {chain.chain_id}, LedgerAnchor {chain.ledger_anchor.address}",
        ]
        if rpc:
            lines.append(f"          JSON-RPC for `shanlian verify --rpc`: {rpc}")
    elif runtime.chain_pending:
        lines.append("chain     waiting for the node (see the note below)")
    lines.append("")
    if runtime.generated_token:
        lines += [
            "platform token (generated for this run; set SHANLIAN_ADMIN_TOKEN to keep one):",
            f"    {runtime.generated_token}",
        ]
    else:
        lines.append("platform token: the one in SHANLIAN_ADMIN_TOKEN")
    if receipts:
        lines += ["", "donors' receipts: each opens its donation and verifies it in your browser"]
        lines += [f"    {url}" for url in receipts]
    for note in runtime.notes:
        lines.append("")
        lines += textwrap.wrap(
            f"note: {note}", width=88, subsequent_indent="      ", break_on_hyphens=False
        )
    title = "─ shanlian is ready "
    end = "─ Ctrl-C stops it "
    return "\n".join(
        [
            "┌" + title + "─" * (89 - len(title)),
            *(f"│ {line}".rstrip() for line in lines),
            "└" + end + "─" * (89 - len(end)),
        ]
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import threading

    import uvicorn

    from api.app import connect_chain_later, create_app

    _configure_logging(args.verbose)
    refusal = _workers_refusal(args)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    runtime = _runtime(args)
    services = runtime.services
    if args.public_url:
        services.settings = services.settings.model_copy(update={"public_url": args.public_url})
    elif "API_PUBLIC_URL" not in os.environ:
        services.settings = services.settings.model_copy(
            update={"public_url": f"http://{args.host}:{args.port}"}
        )
    services.views.public_url = services.settings.public_url
    receipts: list[str] = []
    if args.demo and services.store.size() == 0:
        print(
            f"Recording the demo data set ({args.donations:,} donations over six months, "
            "anchored weekly) into an empty journal: about a minute, once.",
            flush=True,
        )
        receipts = _record_demo(services, args).sample_receipts
    elif args.demo:
        receipts = _demo_receipts(services)
    if args.workers > 1:
        anchoring = (
            "no anchor worker" if args.no_worker else "each runs the anchor worker; one leads"
        )
        runtime.notes.append(f"{args.workers} worker processes serve this port ({anchoring})")
        return _serve_workers(args, services, ready_box(runtime, receipts))
    stop = threading.Event()
    worker_thread = None
    if services.worker is not None and not args.no_worker:
        worker_thread = threading.Thread(
            target=services.worker.run, args=(stop,), name="anchor-worker", daemon=True
        )
        worker_thread.start()
    elif runtime.chain_pending and not args.no_worker:
        worker_thread = threading.Thread(
            target=connect_chain_later, args=(services, stop), name="anchor-worker", daemon=True
        )
        worker_thread.start()
    threading.Thread(
        target=services.evidence.run_collector, args=(stop,), name="evidence", daemon=True
    ).start()
    webhooks.start_worker(services, stop)
    box = ready_box(runtime, receipts)

    class Server(uvicorn.Server):
        """Uvicorn's server, which prints the box once it listens (and only then)."""

        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(box, flush=True)

    config = uvicorn.Config(
        create_app(services),
        host=args.host,
        port=args.port,
        log_level="info" if args.verbose else "warning",
        access_log=args.verbose,
    )
    try:
        Server(config).run()
    except KeyboardInterrupt:  # Ctrl-C, once uvicorn has shut down: nothing to say
        pass
    finally:
        stop.set()
        if worker_thread is not None:
            worker_thread.join(timeout=10)
    return 0


def _print_when_answering(host: str, port: int, box: str, timeout_s: float = 300) -> None:
    """Print ``box`` once a worker process answers ``/healthz`` (the parent only supervises)."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    any_address = host in ("0.0.0.0", "::", "")  # noqa: S104 - asks, binds nothing
    url = f"http://{'127.0.0.1' if any_address else host}:{port}/healthz"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    print(box, flush=True)
                    return
        except OSError:
            pass
        time.sleep(0.2)


def _workers_refusal(args: argparse.Namespace) -> str | None:
    """Why ``serve --workers N`` (N > 1) cannot run with these settings, or None."""
    if args.workers <= 1:
        return None
    url = args.database or get_settings().database_url
    if make_url(url).get_backend_name() != "postgresql":
        return (
            f"--workers {args.workers} needs PostgreSQL (API_DATABASE_URL=postgresql://…): "
            "SQLite lets one process at a time write the journal file, so more processes "
            "would only queue on its lock; run one worker on SQLite"
        )
    if not ChainSettings().rpc_url:
        return (
            f"--workers {args.workers} needs a chain node (CHAIN_RPC_URL and the contract "
            "addresses): the embedded chain lives inside one process, so each worker would "
            "anchor on a throwaway chain of its own that no one else can read; start a node "
            "(`shanlian devnet`, then `shanlian deploy`), or run one worker"
        )
    return None


def _serve_workers(args: argparse.Namespace, services: Any, box: str) -> int:
    """Run ``args.workers`` uvicorn processes, each building its services from the
    environment set here (``api.app:app_from_environment``): one database, one chain
    node, one platform token (the configured one, or the one generated and printed here).
    """
    import uvicorn

    from api.app import SERVE_NO_WORKER

    settings = services.settings
    assert settings.admin_token is not None
    os.environ["SHANLIAN_ADMIN_TOKEN"] = settings.admin_token.get_secret_value()
    os.environ["API_DATABASE_URL"] = settings.database_url
    os.environ["API_PUBLIC_URL"] = settings.public_url
    if args.no_worker:
        os.environ[SERVE_NO_WORKER] = "1"
    services.store.engine.dispose()  # the parent only supervises: it holds no connection
    threading.Thread(
        target=_print_when_answering, args=(args.host, args.port, box), daemon=True
    ).start()
    config = uvicorn.Config(
        "api.app:app_from_environment",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="info" if args.verbose else "warning",
        access_log=args.verbose,
    )
    # What uvicorn.run(..., workers=N) does, with the listening socket made TCP: see below.
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[_tcp_listener(config)]).run()
    return 0


def _tcp_listener(config: Any) -> Any:
    """The socket uvicorn's worker processes share, bound by uvicorn, as a TCP socket.

    uvicorn makes it with protocol 0, so asyncio does not set TCP_NODELAY on the
    connections accepted from it, and a response written in two parts waits for the
    client's delayed ACK (~40 ms on Linux) on every request.
    """
    import socket

    sock = config.bind_socket()
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(True)
    return tcp


def cmd_anchor(args: argparse.Namespace) -> int:
    from chain.settings import get_settings as chain_settings

    embedded = not chain_settings().rpc_url
    if embedded and not args.embedded_ok and get_settings().environment != "production":
        print(
            "error: refusing to anchor: CHAIN_RPC_URL is not set, so the chain would be the "
            "embedded one, which lives only inside this command and is gone when it exits: "
            "nobody could verify the checkpoint against it. Set CHAIN_RPC_URL and the "
            "contract addresses (`shanlian devnet` runs a local chain that keeps its state), "
            "or anchor from `shanlian serve`, whose embedded chain lives as long as the "
            "server; --embedded-ok anchors anyway (demos, tests)",
            file=sys.stderr,
        )
        return 2
    runtime = _runtime(args)
    worker = runtime.services.worker
    checkpoint = worker.anchor_now()
    if checkpoint is None:
        print("the journal is empty: nothing to anchor")
        return 0
    print(
        f"checkpoint {checkpoint.checkpoint_index}: tree size {checkpoint.tree_size}, root "
        f"{to_hex(checkpoint.root_hash)}, tx {to_hex(checkpoint.tx_hash)} in block "
        f"{checkpoint.block_number}{'' if checkpoint.confirmed else ' (not yet confirmed)'}"
    )
    if embedded:
        print(
            "note: anchored on the embedded chain, which is gone now that this command "
            "exits: this checkpoint cannot be verified against any chain",
            file=sys.stderr,
        )
    return 0


def cmd_receipt(args: argparse.Namespace) -> int:
    from api import receipts
    from ledger.store.files import write_private_file

    services = _runtime(args, with_chain=False).services
    secret = services.receipt_secret(args.donation_id)
    url = services.receipt_url(args.donation_id, secret)
    print(url)
    print(f"receipt secret: {secret.hex()}")
    # The QR code holds the receipt's secret: readable by its owner only.
    if args.png:
        write_private_file(args.png, receipts.qr_png(url))
        print(f"QR code written to {args.png}")
    if args.svg:
        write_private_file(args.svg, receipts.qr_svg(url))
        print(f"QR code written to {args.svg}")
    return 0


def _role_account(account: str) -> str | None:
    """``account`` as an address: itself (0x…), or the address of the key the variable holds."""
    if account.startswith("0x"):
        try:
            return str(Web3.to_checksum_address(account))
        except ValueError:
            return None
    key = os.environ.get(account)
    if not key:
        return None
    return str(Account.from_key(key).address)


def _role_client(*variables: str) -> ChainClient | str:
    """The chain, signing with the first of ``variables`` that is set; or what is missing."""
    key = next((os.environ[v] for v in variables if os.environ.get(v)), None)
    if key is None:
        return f"set {variables[0]}"
    settings = ChainSettings().model_copy(update={"anchorer_private_key": SecretStr(key)})
    if not (
        settings.rpc_url and settings.ledger_anchor_address and settings.charity_registry_address
    ):
        return "set CHAIN_RPC_URL, CHAIN_LEDGER_ANCHOR_ADDRESS and CHAIN_CHARITY_REGISTRY_ADDRESS"
    return ChainClient.from_settings(settings)


def cmd_keys_anchorer(args: argparse.Namespace) -> int:
    account = _role_account(args.account)
    if account is None:
        print(
            f"error: {args.account} is neither an address (0x…) nor a set variable holding a "
            "private key",
            file=sys.stderr,
        )
        return 2
    action = args.action
    # Showing reads only: any of the keys will do. Granting and revoking take the admin's.
    variables = (
        ("CHAIN_ANCHORER_PRIVATE_KEY", "CHAIN_ADMIN_PRIVATE_KEY")
        if action == "show"
        else ("CHAIN_ADMIN_PRIVATE_KEY",)
    )
    chain = _role_client(*variables)
    if isinstance(chain, str):
        print(f"error: {chain}", file=sys.stderr)
        return 2
    roles = [
        ("ANCHORER_ROLE", chain.ledger_anchor, ANCHORER_ROLE),
        ("REGISTRAR_ROLE", chain.charity_registry, REGISTRAR_ROLE),
    ]
    for name, contract, role in roles:
        if action == "grant" and not chain.has_role(contract, role, account):
            outcome = chain.grant_role(contract, role, account)
            print(f"granted {name} to {account} (block {outcome.block_number})")
        elif action == "revoke" and chain.has_role(contract, role, account):
            outcome = chain.revoke_role(contract, role, account)
            print(f"revoked {name} from {account} (block {outcome.block_number})")
        held = chain.has_role(contract, role, account)
        print(f"{account} {'holds' if held else 'does not hold'} {name} on {contract.address}")
    return 0


def _key_store(args: argparse.Namespace) -> KeyStore:
    keys: KeyStore = _runtime(args, with_chain=False).services.keys
    return keys


def _show_new_key(issued: IssuedKey, whom: str) -> None:
    """The new key alone on stdout (``KEY=$(shanlian keys …)``), the rest on stderr."""
    print(
        f"new key {issued.key_id} for {whom} (shown once; only its hash is stored):",
        file=sys.stderr,
    )
    print(issued.key, flush=True)
    _show_revoked(issued.revoked)


def _show_revoked(revoked: Sequence[str]) -> None:
    if revoked:
        print(
            f"revoked {len(revoked)} key{'s' if len(revoked) > 1 else ''}, refused from now on: "
            + ", ".join(revoked),
            file=sys.stderr,
        )


def _show_records(records: Sequence[KeyRecord]) -> None:
    for record in records:
        revoked = record.revoked_at
        state = "live" if revoked is None else f"revoked {revoked:%Y-%m-%d %H:%M}"
        owner = f"{record.charity_id}  " if record.charity_id else ""
        print(
            f"{record.key_id}  {state:<24}  issued {record.created_at:%Y-%m-%d %H:%M}  "
            f"{owner}{record.label}"
        )


def cmd_keys_charity(args: argparse.Namespace) -> int:
    keys = _key_store(args)
    charity_id: str = args.charity_id
    try:
        if args.action == "rotate":
            _show_new_key(keys.rotate_charity(charity_id), f"charity {charity_id}")
        elif args.action == "revoke":
            revoked = keys.revoke_charity(charity_id)
            if not revoked:
                print(f"charity {charity_id} has no live key: nothing to revoke", file=sys.stderr)
            _show_revoked(revoked)
            print(
                f"charity {charity_id} can no longer write until `shanlian keys charity rotate "
                f"{charity_id}` issues it a new key",
                file=sys.stderr,
            )
        else:
            records = keys.records("charity", charity_id=charity_id)
            if not records:
                raise UnknownCharityError(charity_id)
            _show_records(records)
    except KeyStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_keys_auditor(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.target:
        what = "LABEL (who the key is for)" if args.action == "issue" else "KEY (key id or label)"
        print(f"error: `shanlian keys auditor {args.action}` needs {what}", file=sys.stderr)
        return 2
    keys = _key_store(args)
    try:
        if args.action == "issue":
            label = args.target.strip()
            if not label or len(label) > MAX_LABEL_LENGTH:
                print(
                    f"error: LABEL must be 1 to {MAX_LABEL_LENGTH} characters: who the key is for",
                    file=sys.stderr,
                )
                return 2
            _show_new_key(keys.issue_auditor(label), f"auditor {label!r}")
        elif args.action == "rotate":
            issued = keys.rotate_auditor(args.target)
            _show_new_key(issued, f"auditor {issued.label!r}")
        elif args.action == "revoke":
            _show_revoked(keys.revoke_auditor(args.target))
        else:
            _show_records(keys.records("auditor"))
    except KeyStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_contracts_build(args: argparse.Namespace) -> int:
    from chain.__main__ import build

    return build()


def cmd_devnet(args: argparse.Namespace) -> int:
    from chain.__main__ import devnet

    return devnet(args.port, None if args.no_state else args.state)


def cmd_deploy(args: argparse.Namespace) -> int:
    from chain.client import ChainClient

    client = ChainClient.from_settings()
    if client.is_embedded:
        print("CHAIN_RPC_URL is not set: the embedded chain is deployed by `shanlian serve`")
        return 2
    deployment = client.deploy()
    print(f"deployed on chain {deployment.chain_id} at block {deployment.block_number}:")
    print(f"CHAIN_LEDGER_ANCHOR_ADDRESS={deployment.ledger_anchor}")
    print(f"CHAIN_CHARITY_REGISTRY_ADDRESS={deployment.charity_registry}")
    return 0


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


def cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    script = Path(__file__).resolve().parents[1] / "bench" / "run_all.py"
    if not script.exists():
        print("the benchmarks live in the source checkout (bench/run_all.py)", file=sys.stderr)
        return 2
    extra = (["--quick"] if args.quick else []) + (["--write"] if args.write else [])
    return subprocess.call([sys.executable, str(script), *extra])  # noqa: S603


def _worker_count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= number <= 64:
        raise argparse.ArgumentTypeError("from 1 to 64")
    return number


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions wrap as usual, paragraph by paragraph; indented lines (the examples)
    are kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        paragraph: list[str] = []

        def flush() -> None:
            if paragraph:
                out.append(
                    textwrap.fill(
                        " ".join(paragraph),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                        break_on_hyphens=False,
                    )
                )
                paragraph.clear()

        for line in text.splitlines():
            if not line.strip():
                flush()
                out.append("")
            elif line.startswith(" "):
                flush()
                out.append(indent + line)
            else:
                paragraph.append(line.strip())
        flush()
        return "\n".join(out)


def _examples(*lines: str) -> str:
    """An epilog: ``examples:`` and the command lines, indented (kept as written)."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _command(
    commands: Any, name: str, help: str, description: str, *examples: str
) -> argparse.ArgumentParser:
    """A subcommand with its one-line help, its description and examples."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=_examples(*examples) if examples else None,
        formatter_class=HelpFormatter,
    )
    return parser


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    """``HelpFormatter`` for ``parser`` and every subcommand under it (``audit`` too)."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _use_formatter(subparser)


DATABASE_NOTE = (
    "The journal is the one --database names (before the command), else API_DATABASE_URL, "
    "else the SQLite file var/shanlian.db."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shanlian",
        description="善链 shanlian: traceable charity money on an append-only, anchored "
        "journal. Every command says more with --help.\n\n" + DATABASE_NOTE,
        epilog=_examples(
            "shanlian serve --demo            # the API, the explorer and a demo journal",
            "shanlian journal verify          # check the journal against itself",
            "shanlian --database postgresql://postgres@127.0.0.1/shanlian journal show",
            "shanlian verify proof.json --rpc http://127.0.0.1:8000/api/v1/chain/rpc",
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        help="journal database URL, e.g. postgresql://postgres@127.0.0.1/shanlian (the "
        "database must exist: createdb makes it; shanlian makes its tables) or "
        "sqlite:///var/shanlian.db; default: API_DATABASE_URL, else the SQLite file "
        "var/shanlian.db",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(
        commands,
        "demo",
        "load a realistic demo data set into the journal",
        "Record three charities, six projects and months of donations, fortnightly "
        "disbursements with generated invoices, a refund and a voided disbursement, through "
        "the same service code the API runs; print three donors' receipt links and the "
        "balances. Anchored weekly only when CHAIN_RPC_URL names a node (`shanlian serve "
        "--demo` anchors on its embedded chain instead). The same seed gives the same "
        "data.\n\n" + DATABASE_NOTE,
        "shanlian demo",
        "createdb -h 127.0.0.1 -U postgres shanlian",
        "shanlian --database postgresql://postgres@127.0.0.1/shanlian demo --donations 500",
    )
    demo.add_argument(
        "--donations", type=int, default=2000, metavar="N", help="how many donations (2000)"
    )
    demo.add_argument(
        "--seed", type=int, default=2026, metavar="N", help="seed for repeatable data (2026)"
    )
    demo.add_argument(
        "--extend",
        action="store_true",
        help="add the data set to a journal that already has entries (refused otherwise)",
    )
    demo.set_defaults(func=cmd_demo)

    serve = _command(
        commands,
        "serve",
        "run the API, the explorer and the anchor worker (embedded defaults)",
        "Serve the API (/api/v1, OpenAPI docs at /docs) and the explorer (/) over HTTP, and "
        "anchor the journal's checkpoints from a worker thread. Once it listens it prints a "
        "box with the URLs, the platform token and (with --demo) donors' receipt links; "
        "warnings and errors only are logged unless --verbose.\n\n"
        "Without CHAIN_RPC_URL the chain is the embedded one, inside this process: it "
        "starts empty at every start, so the contracts are deployed again and the journal "
        "anchored again. Without SHANLIAN_ADMIN_TOKEN a platform token is generated for "
        "this run.\n\n" + DATABASE_NOTE,
        "shanlian serve --demo          # what scripts/run runs",
        "shanlian serve --port 9000 -v  # every request and anchoring step logged",
        "shanlian serve --host 0.0.0.0 --public-url https://give.example.org",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="base URL donors reach: receipt links and QR codes point there (default "
        "API_PUBLIC_URL, else http://HOST:PORT)",
    )
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="do not anchor from this process (another process's worker anchors)",
    )
    serve.add_argument(
        "--workers",
        type=_worker_count,
        default=1,
        metavar="N",
        help="uvicorn processes (default 1); N > 1 needs PostgreSQL and a chain node",
    )
    serve.add_argument(
        "--demo", action="store_true", help="load the demo data set first if the journal is empty"
    )
    serve.add_argument(
        "--donations",
        type=int,
        default=2000,
        metavar="N",
        help="with --demo: how many donations (2000)",
    )
    serve.add_argument(
        "--seed", type=int, default=2026, metavar="N", help="with --demo: the data's seed (2026)"
    )
    serve.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log every step (migrations, anchoring, registrations) and every request",
    )
    serve.set_defaults(func=cmd_serve)

    anchor = _command(
        commands,
        "anchor",
        "anchor the journal now, on CHAIN_RPC_URL's chain",
        "Anchor the journal's current root on the chain named by CHAIN_RPC_URL, "
        "CHAIN_LEDGER_ANCHOR_ADDRESS and CHAIN_CHARITY_REGISTRY_ADDRESS (signed with "
        "CHAIN_ANCHORER_PRIVATE_KEY; the devnet's key on chain id 31337), and print the "
        "checkpoint. `shanlian serve` does it on its own every ANCHOR_INTERVAL_S; this is "
        "for cron jobs and scripts. Without CHAIN_RPC_URL the chain would be the embedded "
        "one, which dies with this command: refused (exit 2) unless --embedded-ok is given."
        "\n\n" + DATABASE_NOTE,
        "shanlian anchor                 # with the CHAIN_* variables in .env (see deploy)",
        "shanlian anchor --embedded-ok   # a checkpoint nobody can check later: tests only",
    )
    anchor.add_argument(
        "--embedded-ok",
        action="store_true",
        help="anchor on the embedded chain anyway, though it is gone when the command exits "
        "(demos and tests only; refused in production)",
    )
    anchor.set_defaults(func=cmd_anchor)

    receipt = _command(
        commands,
        "receipt",
        "reissue a donation's receipt (operator)",
        "Print a donation's receipt link (the donation page, with the receipt secret in the "
        "URL fragment, which no server sees) and its secret, for a donor who lost them; "
        "optionally write its QR code. The files are readable by their owner only: the code "
        "holds the secret.\n\n" + DATABASE_NOTE,
        "shanlian receipt dn_w2ylwc553d6f3mmzrjdj --png receipt.png",
    )
    receipt.add_argument("donation_id", metavar="DONATION_ID", help="the donation (dn_…)")
    receipt.add_argument("--png", type=Path, metavar="FILE", help="also write the QR code as PNG")
    receipt.add_argument("--svg", type=Path, metavar="FILE", help="also write the QR code as SVG")
    receipt.set_defaults(func=cmd_receipt)

    keys = _command(
        commands,
        "keys",
        "API keys of charities and auditors, and the anchoring key's roles",
        "A new key is printed once, alone on stdout; only its hash is stored, and "
        "it is named by its key id (key_…) from then on. A revoked key is refused from the "
        "next request on. The platform token (SHANLIAN_ADMIN_TOKEN) is not among these keys: "
        "it comes from the settings, and is replaced by restarting every process with a new "
        "one.",
        "shanlian keys charity rotate ch_jqeuwjkrulh3leus3vew",
        "KEY=$(shanlian keys auditor issue 'annual audit 2026')",
        "shanlian keys anchorer show 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    )
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    platform_note = (
        " The platform token (SHANLIAN_ADMIN_TOKEN) cannot be revoked here: it comes from the "
        "settings; restart every process with a new one to replace it."
    )
    charity = _command(
        keys_commands,
        "charity",
        "list, rotate or revoke a charity's API keys",
        "rotate: issue the charity a new key and revoke all its older keys in "
        "one transaction (print the new key once). revoke: revoke all its keys; it cannot "
        "write until a rotation. list: its key ids, when issued and revoked." + platform_note,
        "shanlian keys charity list ch_jqeuwjkrulh3leus3vew",
        "shanlian keys charity rotate ch_jqeuwjkrulh3leus3vew > new-key.txt",
    )
    charity.add_argument(
        "action",
        choices=["list", "rotate", "revoke"],
        help="list its keys, rotate (a new key, the old ones revoked) or revoke them all",
    )
    charity.add_argument("charity_id", metavar="CHARITY_ID", help="the charity (ch_…)")
    charity.set_defaults(func=cmd_keys_charity)
    auditor = _command(
        keys_commands,
        "auditor",
        "issue, list, rotate or revoke auditor keys",
        "issue LABEL: a new key for LABEL (who it is for). list: every auditor "
        "key's id, label, when issued and revoked. rotate KEY: a new key with the same label, "
        "the old one(s) revoked in the same transaction. revoke KEY: refuse it from now on. "
        "KEY is a key id (key_…, printed at issue and by list) or a label, which names every "
        "live key that bears it." + platform_note,
        "KEY=$(shanlian keys auditor issue 'annual audit 2026')",
        "shanlian keys auditor list",
        "shanlian keys auditor revoke 'annual audit 2026'",
    )
    auditor.add_argument(
        "action",
        choices=["issue", "list", "rotate", "revoke"],
        help="issue a key, list them, rotate or revoke one",
    )
    auditor.add_argument(
        "target",
        nargs="?",
        metavar="LABEL_OR_KEY",
        help="issue: who the key is for (a label); rotate, revoke: a key id (key_…) or a label",
    )
    auditor.set_defaults(func=cmd_keys_auditor)
    anchorer = _command(
        keys_commands,
        "anchorer",
        "show, grant or revoke the roles of the key that anchors and registers charities "
        "(ANCHORER_ROLE and REGISTRAR_ROLE): rotating the worker's key",
        "ACCOUNT is an address (0x…) or the name of an environment variable "
        "holding the account's private key (keys never go on the command line). Granting "
        "and revoking sign with CHAIN_ADMIN_PRIVATE_KEY; the chain and contracts come from "
        "CHAIN_RPC_URL, CHAIN_ID, CHAIN_LEDGER_ANCHOR_ADDRESS and "
        "CHAIN_CHARITY_REGISTRY_ADDRESS.",
        "shanlian keys anchorer show 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "NEW_ANCHORER_KEY=0x… shanlian keys anchorer grant NEW_ANCHORER_KEY",
        "shanlian keys anchorer revoke 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    )
    anchorer.add_argument(
        "action",
        choices=["show", "grant", "revoke"],
        help="show which roles ACCOUNT holds, grant it both, or revoke both",
    )
    anchorer.add_argument("account", metavar="ACCOUNT", help="0x address, or a key's variable")
    anchorer.set_defaults(func=cmd_keys_anchorer)

    contracts = _command(
        commands,
        "contracts",
        "the Solidity contracts",
        "The contracts (LedgerAnchor, CharityRegistry) are compiled once and kept in "
        "contracts/build/*.json with their provenance; the service deploys and calls those.",
        "shanlian contracts build",
    )
    contracts_commands = contracts.add_subparsers(
        dest="contracts_command", required=True, metavar="ACTION"
    )
    _command(
        contracts_commands,
        "build",
        "compile contracts/ into contracts/build/*.json",
        "Compile contracts/*.sol with the pinned solc (native through py-solc-x, or solc-js "
        "from hardhat-free-devnet/node_modules) and write contracts/build/*.json: the ABI, "
        "the bytecode and how they were made. Needed only after changing a contract.",
        "shanlian contracts build",
    ).set_defaults(func=cmd_contracts_build)

    devnet = _command(
        commands,
        "devnet",
        "run the hardhat-free devnet (anvil) until Ctrl-C",
        "Run a local EVM chain (anvil from hardhat-free-devnet/node_modules) on "
        "127.0.0.1, chain id 31337, keeping its state in a file across restarts: unlike "
        "the embedded chain, checkpoints anchored on it outlive `shanlian serve`. Point "
        "shanlian at it with CHAIN_RPC_URL, then `shanlian deploy`.",
        "shanlian devnet                              # in a terminal of its own",
        "echo CHAIN_RPC_URL=http://127.0.0.1:8545 >> .env",
        "shanlian deploy | grep '^CHAIN_' >> .env && shanlian serve",
    )
    devnet.add_argument("--port", type=int, default=8545, help="port to listen on (8545)")
    state = devnet.add_mutually_exclusive_group()
    state.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE_FILE,
        metavar="FILE",
        help="keep the chain in this file (default var/devnet/state.json)",
    )
    state.add_argument(
        "--no-state", action="store_true", help="keep no state: a new, empty chain every start"
    )
    devnet.set_defaults(func=cmd_devnet)

    _command(
        commands,
        "deploy",
        "deploy the contracts to CHAIN_RPC_URL's chain",
        "Deploy LedgerAnchor and CharityRegistry to the chain CHAIN_RPC_URL names, signed "
        "with CHAIN_ANCHORER_PRIVATE_KEY (the devnet's well-known key on chain id 31337), "
        "and print the two addresses as CHAIN_*=… lines for .env. The deployer is their "
        "admin and holds ANCHORER_ROLE and REGISTRAR_ROLE (see `shanlian keys anchorer`). "
        "The embedded chain needs none of this: `shanlian serve` deploys it.",
        "CHAIN_RPC_URL=http://127.0.0.1:8545 shanlian deploy",
        "shanlian deploy | grep '^CHAIN_' >> .env",
    ).set_defaults(func=cmd_deploy)

    evidence = _command(
        commands,
        "evidence",
        "evidence files",
        "Evidence files (invoices, receipts, photos) are uploaded by charities with POST "
        "/api/v1/evidence and kept by SHA-256 under API_EVIDENCE_DIR; disbursements cite "
        "them.",
        "shanlian evidence collect",
    )
    evidence_commands = evidence.add_subparsers(
        dest="evidence_command", required=True, metavar="ACTION"
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

    journal = _command(
        commands,
        "journal",
        "inspect and check the journal",
        "Read and check the journal where it is stored (the database). To check it without "
        "trusting the platform, an auditor uses `shanlian audit` on an export instead.\n\n"
        + DATABASE_NOTE,
        "shanlian journal show",
        "shanlian journal verify",
        "shanlian journal export --output journal.jsonl",
    )
    journal_commands = journal.add_subparsers(
        dest="journal_command", required=True, metavar="ACTION"
    )
    _command(
        journal_commands,
        "show",
        "size, root and balances",
        "Print the journal's size and Merkle root, and each charity's balances: received, "
        "disbursed, refunded and held.\n\n" + DATABASE_NOTE,
        "shanlian journal show",
    ).set_defaults(func=cmd_journal_show)
    _command(
        journal_commands,
        "verify",
        "check the stored journal against itself, naming the first bad seq",
        "Recompute every leaf hash from its entry and every stored Merkle node from its "
        "children, replay the accounting rules, and compare the balance tables with a "
        "rebuild. Exit status 0: ok; 1: a problem, named by its seq (a row changed behind "
        "the service's back, triggers switched off).\n\n" + DATABASE_NOTE,
        "shanlian journal verify",
        "shanlian --database postgresql://postgres@127.0.0.1/shanlian journal verify",
    ).set_defaults(func=cmd_journal_verify)
    _command(
        journal_commands,
        "rebuild-projections",
        "rebuild the balance tables from the journal",
        "The balance tables (charity, project, donation, disbursement, allocation) are "
        "projections of the journal: rebuild them from it, in one transaction, and say how "
        "many rows differed. The journal itself is never changed.\n\n" + DATABASE_NOTE,
        "shanlian journal rebuild-projections",
    ).set_defaults(func=cmd_journal_rebuild)
    export = _command(
        journal_commands,
        "export",
        "write the journal as JSON Lines, each entry as hashed: what `shanlian audit "
        "--journal FILE` reads (the same bytes as GET /api/v1/entries); reads only",
        "Write every entry, one per line, exactly as hashed (RFC 8785): the file "
        "`shanlian audit --journal FILE` reads, byte for byte what GET /api/v1/entries "
        "serves. Opens the database read-only: it never creates nor migrates one.\n\n"
        + DATABASE_NOTE,
        "shanlian journal export --output journal.jsonl",
        "shanlian journal export | gzip > journal.jsonl.gz",
    )
    export.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write to this file (whole or not at all); default stdout",
    )
    export.set_defaults(func=cmd_journal_export)
    audit_cli.add_commands(commands)  # audit, verify
    _use_formatter(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``shanlian`` command line."""
    args = build_parser().parse_args(argv)
    command: Command = args.func
    try:
        return command(args)
    except (LedgerError, ChainError, AnchorError, ProductionSettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:  # the settings: named by variable, never by value
        print(f"error: {describe_settings_error(error)}", file=sys.stderr)
        return 2
    except sqlalchemy.exc.OperationalError as error:  # the driver's words: no password
        print(f"error: {_database_error(args, error)}", file=sys.stderr)
        return 2


def _database_error(args: argparse.Namespace, error: sqlalchemy.exc.OperationalError) -> str:
    """One line for a database that cannot be opened; how to create it if it is missing."""
    try:
        url = make_url(args.database or get_settings().database_url)
    except (ValidationError, sqlalchemy.exc.ArgumentError):
        url = None
    missing = None if url is None else _missing_database(url, error)
    if missing:
        return f"{missing}, then run the command again"
    return "the database cannot be reached: " + " ".join(str(error.orig).split())


def _missing_database(url: URL, error: sqlalchemy.exc.OperationalError) -> str | None:
    """If ``url`` names a PostgreSQL database the server does not have: that, and the
    ``createdb`` that makes it. The driver's words, on one line, say so."""
    said = " ".join(str(error.orig).split())
    if not (
        url.get_backend_name() == "postgresql"
        and url.database
        and f'database "{url.database}" does not exist' in said
    ):
        return None
    host = url.host or "localhost"
    command = ["createdb"]
    command += ["-h", host] if url.host else []
    command += ["-p", str(url.port)] if url.port else []
    command += ["-U", url.username] if url.username else []
    command.append(shlex.quote(url.database))
    return (
        f'the database "{url.database}" does not exist on the PostgreSQL server at '
        f"{host}:{url.port or 5432}: create it (empty; shanlian makes its tables) with "
        f"`{' '.join(command)}`"
    )


if __name__ == "__main__":
    sys.exit(main())
