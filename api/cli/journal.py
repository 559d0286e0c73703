"""`shanlian journal`: show, verify, export and rebuild the stored journal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from sqlalchemy import inspect, make_url

from api.cli.runtime import (
    _missing_database,
    _open_store,
    _where,
)
from api.cli.usage import DATABASE_NOTE, _command, _group
from api.settings import get_settings
from ledger.entries import to_hex
from ledger.errors import StoreError
from ledger.store import projections
from ledger.store.engine import make_engine
from ledger.store.journal import Store


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


def add_commands(commands: Any) -> None:
    """``journal`` and its actions."""
    journal_commands = _group(
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
