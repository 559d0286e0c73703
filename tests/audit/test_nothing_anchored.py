"""An export that no checkpoint on chain vouches for fails the audit: nothing was checked.

The journal verifies against itself whatever it holds; only an anchored checkpoint ties
it to what the operator committed to. An empty export with no checkpoint passes, as empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.auditor import run_audit
from audit.cli import main as audit_main
from audit.report import AuditReport
from chain.client import ChainClient
from chain.devnet import Devnet
from chain.embedded import EmbeddedChain
from ledger.store.journal import Store
from tests import factories as f


def a_journal(url: str, donations: int) -> list[bytes]:
    """The export of a fresh journal: a charity, a project and ``donations`` donations."""
    store = Store.open(url)
    charity = f.charity()
    charity_id = charity.body["charity_id"]
    project = f.project(charity_id)
    store.append([charity, project])
    if donations:
        drafts = [f.donation(charity_id, project.body["project_id"]) for _ in range(donations)]
        store.append(drafts)
    leaves = list(store.leaves())
    store.engine.dispose()
    return leaves


@pytest.fixture
def fresh_chain() -> ChainClient:
    """The contracts deployed, and nothing anchored."""
    client = ChainClient.embedded(chain=EmbeddedChain())
    client.deploy()
    return client


def audit(export: list[bytes], client: ChainClient, **options: object) -> AuditReport:
    return run_audit(iter(export), client, contract=client.ledger_anchor.address, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("donations", [0, 1, 25])
def test_entries_with_no_checkpoint_on_chain_fail_the_audit(
    sqlite_url: str, fresh_chain: ChainClient, donations: int
) -> None:
    export = a_journal(sqlite_url, donations)
    report = audit(export, fresh_chain)
    assert not report.ok
    failure = report.failure
    assert failure is not None
    assert failure.check == "checkpoints"
    assert failure.where == "the chain"
    assert f"none of the {len(export):,} entries was checked against the chain" in failure.detail
    assert report.check("checkpoints").status == "fail"
    last = report.to_text().rstrip("\n").splitlines()[-1]
    assert last.startswith("FAILED at the chain: checkpoints: the LedgerAnchor at")
    assert "PASSED" not in report.to_text()


def test_an_empty_export_with_no_checkpoint_passes_as_empty(fresh_chain: ChainClient) -> None:
    report = audit([], fresh_chain)
    assert report.ok, report.failure
    assert report.entries == 0
    last = report.to_text().rstrip("\n").splitlines()[-1]
    assert (
        last
        == "PASSED: the export is empty and the chain holds no checkpoint of it: nothing to verify"
    )


def test_read_before_the_first_anchor_the_chain_vouches_for_nothing(
    sqlite_url: str, fresh_chain: ChainClient
) -> None:
    from api.anchoring import AnchorSettings, AnchorWorker

    store = Store.open(sqlite_url)
    charity = f.charity()
    store.append([charity])
    before = fresh_chain.block_number()
    checkpoint = AnchorWorker(store, fresh_chain, AnchorSettings(interval_s=0)).anchor_now()
    assert checkpoint is not None
    export = list(store.leaves())
    assert audit(export, fresh_chain).ok  # at the latest block: checkpoint 0 vouches
    earlier = audit(export, fresh_chain, block=before)
    assert not earlier.ok
    assert earlier.failure is not None
    assert "none of the 1 entries was checked" in earlier.failure.detail
    store.engine.dispose()


@pytest.mark.anvil
def test_shanlian_audit_exits_1_on_entries_no_checkpoint_vouches_for(
    sqlite_url: str,
    anvil: Devnet,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = ChainClient.connect(anvil.rpc_url)
    deployment = client.deploy()
    export = tmp_path / "journal.jsonl"
    export.write_bytes(b"".join(line + b"\n" for line in a_journal(sqlite_url, 3)))
    argv = ["audit", "--journal", str(export), "--rpc", anvil.rpc_url]
    argv += ["--contract", deployment.ledger_anchor, "--chain-id", "31337"]
    assert audit_main(argv) == 1
    out = capsys.readouterr().out
    assert "FAILED at the chain: checkpoints:" in out
    assert "none of the 5 entries was checked against the chain" in out
    assert "PASSED" not in out
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert audit_main(["audit", "--journal", str(empty), *argv[3:]]) == 0
    assert "PASSED: the export is empty" in capsys.readouterr().out
