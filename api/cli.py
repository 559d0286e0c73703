"""The ``shanlian`` command: one entry point that wires the packages together."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from eth_account import Account
from pydantic import SecretStr, ValidationError
from sqlalchemy import inspect, make_url
from web3 import Web3

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
        settings.ensure_data_dir()
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
    return _load_demo(runtime.services, args)


def _load_demo(services: Any, args: argparse.Namespace) -> int:
    from api.demo import load_demo

    store = services.store
    if store.size() and not args.extend:
        print(
            f"The journal at {store.engine.url} already holds {store.size()} entries; "
            "pass --extend to add the demo data set to it."
        )
        return 0
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
        + (f", {summary.checkpoints} checkpoints anchored." if summary.checkpoints else ".")
    )
    for url in summary.sample_receipts:
        print(f"  a donor's receipt link: {url}")
    return _summary(store)


def _summary(store: Store) -> int:
    size = store.size()
    print(f"Journal {store.engine.url}: {size} entries, Merkle root {to_hex(store.root(size))}")
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
        raise StoreError(f"cannot open the journal at {where}: {error.orig}") from None
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


def cmd_serve(args: argparse.Namespace) -> int:
    import threading

    import uvicorn

    from api.app import connect_chain_later, create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
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
    base = services.settings.public_url
    services.views.public_url = base
    if args.demo and services.store.size() == 0:
        args.extend = False
        _load_demo(services, args)
    for note in runtime.notes:
        print(f"note: {note}")
    chain = services.chain
    print(f"shanlian is serving the journal at {services.store.engine.url}")
    print(f"  API       {base}/api/v1   (OpenAPI docs: {base}/docs)")
    print(f"  explorer  {base}/")
    if chain is not None:
        where = (
            "the embedded chain (in process)"
            if chain.is_embedded
            else redact_url(chain.rpc_url or "")
        )
        print(
            f"  chain     {where}, chain id {chain.chain_id}, "
            f"LedgerAnchor {chain.ledger_anchor.address}"
        )
    if runtime.generated_token:
        print("  platform token (generated for this run; set SHANLIAN_ADMIN_TOKEN to keep one):")
        print(f"            {runtime.generated_token}")
    sys.stdout.flush()
    if args.workers > 1:
        return _serve_workers(args, services)
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
    try:
        uvicorn.run(create_app(services), host=args.host, port=args.port, log_level="warning")
    finally:
        stop.set()
        if worker_thread is not None:
            worker_thread.join(timeout=10)
    return 0


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


def _serve_workers(args: argparse.Namespace, services: Any) -> int:
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
    anchoring = "no anchor worker" if args.no_worker else "each runs the anchor worker; one leads"
    print(f"  workers   {args.workers} processes ({anchoring})")
    sys.stdout.flush()
    config = uvicorn.Config(
        "api.app:app_from_environment",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="warning",
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shanlian",
        description="善链 shanlian: traceable charity money on an append-only, anchored journal.",
    )
    parser.add_argument(
        "--database",
        help="journal database URL (default: API_DATABASE_URL, or the SQLite file var/shanlian.db)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="load a realistic demo data set into the journal")
    demo.add_argument("--donations", type=int, default=2000, help="how many donations (2000)")
    demo.add_argument("--seed", type=int, default=2026, help="seed for repeatable data")
    demo.add_argument("--extend", action="store_true", help="add to a journal that has entries")
    demo.set_defaults(func=cmd_demo)

    serve = commands.add_parser(
        "serve", help="run the API, the explorer and the anchor worker (embedded defaults)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--public-url", help="base URL donors reach (default http://HOST:PORT)")
    serve.add_argument("--no-worker", action="store_true", help="do not anchor from this process")
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
    serve.add_argument("--donations", type=int, default=2000, help=argparse.SUPPRESS)
    serve.add_argument("--seed", type=int, default=2026, help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    anchor = commands.add_parser(
        "anchor",
        help="anchor the journal now, on CHAIN_RPC_URL's chain",
        description="Anchor the journal's current root on the chain. Without CHAIN_RPC_URL "
        "the chain would be the embedded one, which dies with this command: refused (exit 2) "
        "unless --embedded-ok is given.",
    )
    anchor.add_argument(
        "--embedded-ok",
        action="store_true",
        help="anchor on the embedded chain anyway, though it is gone when the command exits "
        "(demos and tests only; refused in production)",
    )
    anchor.set_defaults(func=cmd_anchor)

    receipt = commands.add_parser("receipt", help="reissue a donation's receipt (operator)")
    receipt.add_argument("donation_id")
    receipt.add_argument("--png", type=Path, help="also write the QR code as PNG here")
    receipt.add_argument("--svg", type=Path, help="also write the QR code as SVG here")
    receipt.set_defaults(func=cmd_receipt)

    keys = commands.add_parser(
        "keys",
        help="API keys of charities and auditors, and the anchoring key's roles",
        description="A new key is printed once, alone on stdout; only its hash is stored, and "
        "it is named by its key id (key_…) from then on. A revoked key is refused from the "
        "next request on. The platform token (SHANLIAN_ADMIN_TOKEN) is not among these keys: "
        "it comes from the settings, and is replaced by restarting every process with a new "
        "one.",
    )
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    platform_note = (
        " The platform token (SHANLIAN_ADMIN_TOKEN) cannot be revoked here: it comes from the "
        "settings; restart every process with a new one to replace it."
    )
    charity = keys_commands.add_parser(
        "charity",
        help="list, rotate or revoke a charity's API keys",
        description="rotate: issue the charity a new key and revoke all its older keys in "
        "one transaction (print the new key once). revoke: revoke all its keys; it cannot "
        "write until a rotation. list: its key ids, when issued and revoked." + platform_note,
    )
    charity.add_argument("action", choices=["list", "rotate", "revoke"])
    charity.add_argument("charity_id", metavar="CHARITY_ID")
    charity.set_defaults(func=cmd_keys_charity)
    auditor = keys_commands.add_parser(
        "auditor",
        help="issue, list, rotate or revoke auditor keys",
        description="issue LABEL: a new key for LABEL (who it is for). list: every auditor "
        "key's id, label, when issued and revoked. rotate KEY: a new key with the same label, "
        "the old one(s) revoked in the same transaction. revoke KEY: refuse it from now on. "
        "KEY is a key id (key_…, printed at issue and by list) or a label, which names every "
        "live key that bears it." + platform_note,
    )
    auditor.add_argument("action", choices=["issue", "list", "rotate", "revoke"])
    auditor.add_argument("target", nargs="?", metavar="LABEL_OR_KEY")
    auditor.set_defaults(func=cmd_keys_auditor)
    anchorer = keys_commands.add_parser(
        "anchorer",
        help="show, grant or revoke the roles of the key that anchors and registers charities "
        "(ANCHORER_ROLE and REGISTRAR_ROLE): rotating the worker's key",
        description="ACCOUNT is an address (0x…) or the name of an environment variable "
        "holding the account's private key (keys never go on the command line). Granting "
        "and revoking sign with CHAIN_ADMIN_PRIVATE_KEY; the chain and contracts come from "
        "CHAIN_RPC_URL, CHAIN_ID, CHAIN_LEDGER_ANCHOR_ADDRESS and "
        "CHAIN_CHARITY_REGISTRY_ADDRESS.",
    )
    anchorer.add_argument("action", choices=["show", "grant", "revoke"])
    anchorer.add_argument("account", metavar="ACCOUNT", help="0x address, or a key's variable")
    anchorer.set_defaults(func=cmd_keys_anchorer)

    contracts = commands.add_parser("contracts", help="the Solidity contracts")
    contracts_commands = contracts.add_subparsers(
        dest="contracts_command", required=True, metavar="ACTION"
    )
    contracts_commands.add_parser(
        "build", help="compile contracts/ into contracts/build/*.json"
    ).set_defaults(func=cmd_contracts_build)

    devnet = commands.add_parser("devnet", help="run the hardhat-free devnet (anvil)")
    devnet.add_argument("--port", type=int, default=8545)
    devnet.add_argument("--state", type=Path, default=DEFAULT_STATE_FILE)
    devnet.add_argument("--no-state", action="store_true")
    devnet.set_defaults(func=cmd_devnet)

    commands.add_parser(
        "deploy", help="deploy the contracts to CHAIN_RPC_URL's chain"
    ).set_defaults(func=cmd_deploy)

    evidence = commands.add_parser("evidence", help="evidence files")
    evidence_commands = evidence.add_subparsers(
        dest="evidence_command", required=True, metavar="ACTION"
    )
    evidence_commands.add_parser(
        "collect",
        help="remove evidence files no disbursement cites, older than "
        "API_EVIDENCE_ORPHAN_GRACE_S (serve does it every API_EVIDENCE_COLLECT_INTERVAL_S)",
    ).set_defaults(func=cmd_evidence_collect)

    bench = commands.add_parser(
        "bench", help="run every benchmark against its baseline and print one table"
    )
    bench.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    bench.add_argument("--write", action="store_true", help="update docs/performance.md")
    bench.set_defaults(func=cmd_bench)

    journal = commands.add_parser("journal", help="inspect and check the journal")
    journal_commands = journal.add_subparsers(
        dest="journal_command", required=True, metavar="ACTION"
    )
    journal_commands.add_parser("show", help="size, root and balances").set_defaults(
        func=cmd_journal_show
    )
    journal_commands.add_parser(
        "verify", help="check the stored journal against itself, naming the first bad seq"
    ).set_defaults(func=cmd_journal_verify)
    journal_commands.add_parser(
        "rebuild-projections", help="rebuild the balance tables from the journal"
    ).set_defaults(func=cmd_journal_rebuild)
    export = journal_commands.add_parser(
        "export",
        help="write the journal as JSON Lines, each entry as hashed: what `shanlian audit "
        "--journal FILE` reads (the same bytes as GET /api/v1/entries); reads only",
    )
    export.add_argument(
        "--output", type=Path, help="write to this file (whole or not at all); default stdout"
    )
    export.set_defaults(func=cmd_journal_export)
    audit_cli.add_commands(commands)  # audit, verify
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
        print(f"error: the database cannot be reached: {error.orig}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
