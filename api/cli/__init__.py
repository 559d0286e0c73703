"""The ``shanlian`` command: one entry point that wires the packages together.

One module a group of commands, each adding its parsers with ``add_commands``; ``usage`` holds
how they present themselves and ``runtime`` what they share (the journal, the services).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import sqlalchemy.exc
from pydantic import ValidationError
from sqlalchemy import make_url

from api.anchoring import AnchorError
from api.cli import anchor, bench, charity, demo, evidence, journal, keys, receipt, serve, witnesses
from api.cli.runtime import _missing_database
from api.cli.usage import DATABASE_NOTE, HelpFormatter, _examples, _use_formatter
from api.settings import ProductionSettingsError, describe_settings_error, get_settings
from audit import cli as audit_cli
from chain.errors import ChainError
from ledger.errors import LedgerError

__all__ = ["build_parser", "main"]

Command = Callable[[argparse.Namespace], int]


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
    demo.add_commands(commands)
    serve.add_commands(commands)
    anchor.add_anchor_command(commands)
    receipt.add_commands(commands)
    keys.add_commands(commands)
    anchor.add_commands(commands)  # contracts, devnet, deploy
    evidence.add_commands(commands)
    bench.add_commands(commands)
    journal.add_commands(commands)
    witnesses.add_commands(commands)
    audit_cli.add_commands(commands)  # audit, verify
    charity.add_commands(commands)  # keygen, sign (ADR 0037)
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
