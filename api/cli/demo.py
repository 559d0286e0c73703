"""`shanlian demo`: the demo data set."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli.journal import _summary
from api.cli.runtime import (
    _progress,
    _runtime,
    _where,
)
from api.cli.usage import DATABASE_NOTE, _command


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
        f"{summary.voids} voided disbursement, {summary.reports} disclosure reports "
        f"published, {summary.matches} donations matched by a "
        f"matching pool ({summary.pool_id})"
        + (f", {summary.checkpoints} checkpoints anchored." if summary.checkpoints else "."),
        flush=True,
    )
    return summary


def add_commands(commands: Any) -> None:
    """``demo``."""
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
