"""One API process for the fault tests, as ``shanlian serve`` runs it.

    python -m tests.faults.server --port PORT --db URL [--worker | --no-worker]

Configured by the environment like the real service (``API_*``/``SHANLIAN_ADMIN_TOKEN``,
``CHAIN_*``, ``ANCHOR_*``): ``create_app(build_services(...))`` under uvicorn on
127.0.0.1, and, with ``--worker``, the anchor worker in a thread of the same process.

What it adds for the tests, on stdout, one line each, flushed at once:

- ``anchor-sent TREE_SIZE 0xTX`` right after the worker sent an anchor transaction
  (before it records it): the moment a test SIGKILLs the process to crash it mid-anchor.
  ``FAULTS_HOLD_AFTER_SEND_S`` makes the worker wait there that long, so the kill lands
  between the send and the record every time.
- ``worker-died ERROR`` if the worker's thread ends with an exception while the process
  goes on serving (a worker that silently stopped anchoring).
- ``batch-written REQUESTS FIRST_SEQ`` when ``FAULTS_HOLD_BEFORE_COMMIT_S`` is set: right
  after a batch of more than one request wrote its rows, inside its transaction, before
  the commit (ADR 0017); the sequencer then waits there that long, so a kill lands
  mid-batch, with the append lock held and nothing committed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import uvicorn

from api.app import build_services, create_app
from api.settings import ApiSettings

HOLD_ENV = "FAULTS_HOLD_AFTER_SEND_S"
HOLD_BEFORE_COMMIT_ENV = "FAULTS_HOLD_BEFORE_COMMIT_S"


def say(line: str) -> None:
    """One line on stdout for the test that watches this process."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def instrument(worker: Any, hold_s: float) -> None:
    """Announce each anchor the worker sends, and optionally hold still right after."""
    client = worker.client
    send_anchor = client.send_anchor

    def announced(
        tree_size: int, root_hash: bytes, proof: Sequence[bytes], **options: Any
    ) -> bytes:
        tx_hash: bytes = send_anchor(tree_size, root_hash, proof, **options)
        say(f"anchor-sent {tree_size} 0x{tx_hash.hex()}")
        if hold_s:
            time.sleep(hold_s)  # the test kills us here: sent, not yet recorded
        return tx_hash

    client.send_anchor = announced


def hold_before_commit(store: Any, hold_s: float) -> None:
    """Announce each batch of several requests once written, and wait before its commit."""
    append_prepared = store._append_prepared

    def held(connection: Any, prepared: Any, outcome: Any) -> None:
        append_prepared(connection, prepared, outcome)
        if len(prepared) > 1:
            say(f"batch-written {len(prepared)} {outcome.size_before}")
            time.sleep(hold_s)  # the test kills us here: written, not committed

    store._append_prepared = held


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="the journal's database URL")
    parser.add_argument("--worker", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {os.getpid()} %(levelname)s %(name)s: %(message)s"
    )
    settings = ApiSettings(database_url=args.db, public_url=f"http://127.0.0.1:{args.port}")
    services = build_services(settings).services
    if os.environ.get(HOLD_BEFORE_COMMIT_ENV):
        hold_before_commit(services.store, float(os.environ[HOLD_BEFORE_COMMIT_ENV]))
    stop = threading.Event()
    thread = None
    if args.worker and services.worker is not None:
        worker = services.worker
        instrument(worker, float(os.environ.get(HOLD_ENV) or 0))

        def run_worker() -> None:
            try:
                worker.run(stop)
            except BaseException as error:
                say(f"worker-died {error!r}")
                raise

        thread = threading.Thread(target=run_worker, name="anchor-worker", daemon=True)
        thread.start()
    say(f"serving {os.getpid()} worker={thread is not None}")
    try:
        uvicorn.run(create_app(services), host="127.0.0.1", port=args.port, log_level="warning")
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
