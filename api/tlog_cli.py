"""``shanlian keys log``: make and show the log key that signs the journal's checkpoints."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from api.settings import get_settings
from api.tlog import create_log_key, default_origin, load_log_key, log_key_path
from ledger.signed_note import NoteError


def cmd_keys_log(args: argparse.Namespace) -> int:
    settings = get_settings()
    path = log_key_path(settings)
    if args.action == "create":
        if settings.log_key is not None:
            print(
                f"error: API_LOG_KEY is set: that is the log key; unset it to make one in {path}",
                file=sys.stderr,
            )
            return 2
        origin = args.origin or settings.log_origin or default_origin(settings.public_url)
        try:
            signer = create_log_key(path, origin)
        except FileExistsError:
            print(
                f"error: {path} holds a log key already; it is never overwritten (a log keeps "
                "its key: `shanlian keys log show` prints its verifier key)",
                file=sys.stderr,
            )
            return 2
        except NoteError as error:
            print(f"error: --origin: {error}", file=sys.stderr)
            return 2
        print(
            f"new log key for origin {origin!r} in {path} (mode 0600); its verifier key:",
            file=sys.stderr,
        )
        print(signer.verifier.vkey, flush=True)
        return 0
    existing = load_log_key(settings)
    if existing is None:
        print(
            f"error: no log key: API_LOG_KEY is unset and {path} does not exist "
            "(`shanlian keys log create` makes one)",
            file=sys.stderr,
        )
        return 2
    print(existing.verifier.vkey)
    return 0


def add_commands(keys_commands: Any) -> None:
    """Add ``keys log`` to the ``keys`` command's subcommands."""
    parser: argparse.ArgumentParser = keys_commands.add_parser(
        "log",
        help="create or show the log key that signs the journal's checkpoints (C2SP)",
        description="create: make the Ed25519 log key in API_LOG_KEY_FILE (default "
        "var/log.key, beside the evidence folder; mode 0600; never overwritten) and print its "
        "verifier key. show: print the verifier key (name+keyid+key), which auditors check "
        "/tlog/checkpoint with; it is also published at /api/v1/chain. The key's name is the "
        "log's origin: --origin, else API_LOG_ORIGIN, else the public URL's host and path "
        "and /tlog. The key never enters the journal; keep a copy with the other secrets.",
        epilog="examples:\n  shanlian keys log create --origin give.example.org/tlog\n"
        "  shanlian keys log show",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=["create", "show"], help="make the key, or show it")
    parser.add_argument(
        "--origin", metavar="ORIGIN", help="create: the log's origin (e.g. give.example.org/tlog)"
    )
    parser.set_defaults(func=cmd_keys_log)
