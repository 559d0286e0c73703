"""The ``shanlian`` command: one entry point that wires the packages together."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from api.settings import get_settings
from ledger.entries import to_hex
from ledger.errors import LedgerError
from ledger.store import projections
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
    from api.demo import load_demo

    store = _open_store(args)
    if store.size() and not args.extend:
        print(
            f"The journal at {store.engine.url} already holds {store.size()} entries; "
            "pass --extend to add the demo data set to it."
        )
        return 0
    summary = load_demo(
        store,
        donations=args.donations,
        seed=args.seed,
        progress=_progress(args.donations, "donations"),
    )
    print(
        f"Loaded {summary.entries} entries: {summary.charities} charities, "
        f"{summary.projects} projects, {summary.donations} donations, "
        f"{summary.disbursements} disbursements, a refund and a correction."
    )
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


def cmd_journal_show(args: argparse.Namespace) -> int:
    return _summary(_open_store(args))


def cmd_journal_rebuild(args: argparse.Namespace) -> int:
    store = _open_store(args)
    differences = store.projection_differences()
    store.rebuild_projections()
    print(f"rebuilt the projections from {store.size()} entries ({len(differences)} rows differed)")
    return 0


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
    demo.add_argument("--donations", type=int, default=600, help="how many donations (600)")
    demo.add_argument("--seed", type=int, default=2026, help="seed for repeatable data")
    demo.add_argument("--extend", action="store_true", help="add to a journal that has entries")
    demo.set_defaults(func=cmd_demo)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``shanlian`` command line."""
    args = build_parser().parse_args(argv)
    command: Command = args.func
    try:
        return command(args)
    except LedgerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
