"""Fixtures for the audit: anchored journals on both chains, and running an audit.

An anchored journal is built once per module and chain: a store (SQLite or PostgreSQL)
with two charities (one named ``<script>alert(1)</script>``), projects, donations, a
disbursement with allocations, a refund, a reversal and a void, anchored by the real
``AnchorWorker`` at four sizes, its charities registered on chain (one then revoked),
and five more entries not anchored yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from api.anchoring import AnchorSettings, AnchorWorker
from audit.auditor import run_audit
from audit.cli import main as audit_main
from chain.client import ChainClient, Checkpoint
from ledger.store.checkpoints import AnchoredCheckpoint
from ledger.store.journal import Store
from tests import factories as f
from tests.conftest import CHAINS, deployed_client

NOW = AnchorSettings(interval_s=0, poll_s=0.05, backoff_max_s=0.2)
SCRIPT_NAME = "<script>alert(1)</script>"


@dataclass
class Anchored:
    """A journal anchored on a chain, and what a test needs to audit it.

    Attributes:
        client: the client that anchored it (its contracts attached).
        checkpoints: the checkpoints as the worker recorded them, by index.
        export: the journal export as it was after the last append (leaf bytes).
        seqs: named entries of interest (``donation``, ``allocation``, …) → seq.
        charities: charity ids by name.
        revoked: the charity revoked on chain.
    """

    client: ChainClient
    checkpoints: list[AnchoredCheckpoint]
    export: list[bytes]
    seqs: dict[str, int] = field(default_factory=dict)
    charities: dict[str, str] = field(default_factory=dict)
    revoked: str = ""

    @property
    def contract(self) -> str:
        return str(self.client.ledger_anchor.address)

    @property
    def registry(self) -> str:
        return str(self.client.charity_registry.address)

    @property
    def sizes(self) -> list[int]:
        return [c.tree_size for c in self.checkpoints]

    def range_of(self, seq: int) -> tuple[int, int]:
        """The smallest anchored range ``first..last`` holding ``seq``."""
        first = 0
        for size in self.sizes:
            if seq < size:
                return first, size - 1
            first = size
        raise AssertionError(f"seq {seq} is not anchored")


def build_anchored(store: Store, client: ChainClient) -> Anchored:
    """Append a realistic journal to ``store`` and anchor it through ``client``."""
    worker = AnchorWorker(store, client, NOW)
    seqs: dict[str, int] = {}
    school = f.charity(name="乡村学校基金会")
    script = f.charity(name=SCRIPT_NAME)
    school_id, script_id = school.body["charity_id"], script.body["charity_id"]
    books = f.project(school_id)
    water = f.project(script_id, title="Clean water")
    books_id, water_id = books.body["project_id"], water.body["project_id"]
    store.append([school, script, books, water])
    donations = [f.donation(school_id, books_id, amount=10_000 + i) for i in range(8)]
    result = store.append(donations)
    seqs["donation"] = result.entries[3].seq
    worker.anchor_now()  # checkpoint 0

    general = [f.donation(school_id, None, amount=5_000) for _ in range(3)]
    purchase = f.disbursement(school_id, books_id, amount=15_000)
    purchase_id = purchase.body["disbursement_id"]
    first = f.allocation(school_id, donations[0].body["donation_id"], purchase_id, 10_000)
    second = f.allocation(school_id, donations[1].body["donation_id"], purchase_id, 5_000)
    result = store.append(
        [*general, f.donation(script_id, water_id, amount=7_777), purchase, first, second]
    )
    seqs["allocation"] = result.entries[-1].seq
    worker.anchor_now()  # checkpoint 1

    later = f.disbursement(school_id, None, amount=3_000)
    cancelled = f.disbursement(script_id, water_id, amount=1_000)
    result = store.append(
        [
            f.refund(donations[2].body["donation_id"], 10_002),
            f.reversal(school_id, second.body["allocation_id"]),
            later,
            f.allocation(
                school_id, general[0].body["donation_id"], later.body["disbursement_id"], 3_000
            ),
            cancelled,
            f.void(script_id, cancelled.body["disbursement_id"]),
            *[f.donation(school_id, books_id, amount=20_000 + i) for i in range(4)],
        ]
    )
    seqs["refund"] = result.entries[0].seq
    seqs["late_donation"] = result.entries[-2].seq
    worker.anchor_now()  # checkpoint 2
    store.append([f.donation(school_id, books_id, amount=30_000 + i) for i in range(6)])
    worker.anchor_now()  # checkpoint 3
    worker.sync_registry()
    client.revoke_charity(script_id)
    store.append([f.donation(school_id, None, amount=40_000 + i) for i in range(5)])
    return Anchored(
        client=client,
        checkpoints=worker.checkpoints.all(),
        export=list(store.leaves()),
        seqs=seqs,
        charities={"school": school_id, "script": script_id},
        revoked=script_id,
    )


def write_export(path: Path, lines: list[bytes]) -> Path:
    """Write ``lines`` as a JSON Lines export."""
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def chain_checkpoints(client: ChainClient) -> list[Checkpoint]:
    return client.checkpoints()


def audit(
    anchored: Anchored,
    export: Path,
    tmp_path: Path,
    *,
    earlier: Path | None = None,
    registry: bool = True,
    extra: tuple[str, ...] = (),
) -> tuple[int, dict[str, Any]]:
    """Audit ``export`` the way the chain allows: the CLI over JSON-RPC, or in process.

    Returns:
        The exit status and the JSON report.
    """
    client = anchored.client
    if client.rpc_url is None:  # the embedded chain has no URL: call the library
        lines = export.read_bytes().splitlines()
        report = run_audit(
            iter(lines),
            client,
            contract=anchored.contract,
            registry=anchored.registry if registry else None,
            earlier=None if earlier is None else iter(earlier.read_bytes().splitlines()),
            journal_name=str(export),
            fast="--no-fast-path" not in extra,
        )
        return (0 if report.ok else 1), report.to_json()
    out = tmp_path / "report.json"
    argv = [
        "audit",
        "--journal",
        str(export),
        "--rpc",
        client.rpc_url,
        "--contract",
        anchored.contract,
        "--chain-id",
        str(client.chain_id),
        "--report-json",
        str(out),
        *(["--registry", anchored.registry] if registry else []),
        *(["--earlier-export", str(earlier)] if earlier else []),
        *extra,
    ]
    status = audit_main(argv)
    return status, json.loads(out.read_text("utf-8"))


@pytest.fixture(scope="module", params=CHAINS)
def anchored_sqlite(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Anchored, Store]]:
    """An anchored journal on SQLite (cheap), with its store kept open for proofs."""
    path = tmp_path_factory.mktemp("journal") / "journal.db"
    store = Store.open(f"sqlite:///{path}")
    anchored = build_anchored(store, deployed_client(request))
    yield anchored, store
    store.engine.dispose()
