"""`shanlian serve`: the API, the explorer and the anchor worker, in one or more processes."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import make_url

from api import webhooks, witnesses
from api.cli.demo import _record_demo
from api.cli.runtime import (
    _configure_logging,
    _runtime,
    _where,
)
from api.cli.usage import DATABASE_NOTE, _command
from api.settings import get_settings
from chain.settings import ChainSettings, redact_url


def _demo_receipts(services: Any, count: int = 3) -> list[str]:
    """Receipt links of the demo's first ``count`` donations (on a restart with --demo).

    Only donations to the demo's own charities (by registration number): a real donor's
    receipt secret is never printed.
    """
    from api.demo_data import CHARITIES
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
    witnesses.start_worker(
        services.store, services.log, services.witnesses, services.settings, stop
    )
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


def _worker_count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= number <= 64:
        raise argparse.ArgumentTypeError("from 1 to 64")
    return number


def add_commands(commands: Any) -> None:
    """``serve``."""
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
