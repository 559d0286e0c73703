"""What the commands share: the journal, the services, logging, progress."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Callable
from typing import Any

import sqlalchemy.exc
from sqlalchemy import URL

from api.settings import get_settings
from ledger.store.journal import Store


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


def _where(store: Store) -> str:
    """The journal's URL, without a password."""
    return store.engine.url.render_as_string(hide_password=True)


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
