"""The demo data set on the embedded chain: dated in the past, anchored with its own dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.anchoring import AnchorSettings
from api.app import build_services
from api.demo import load_demo
from api.settings import ApiSettings
from audit.auditor import run_audit
from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from ledger.entries import parse_at


def test_the_demo_is_all_in_the_past_and_its_checkpoints_carry_its_own_dates(
    tmp_path: Path,
) -> None:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/journal.db",
        admin_token="demo-test-platform-token-0123456789abcdef",
        evidence_dir=tmp_path / "evidence",
    )
    chain = ChainClient.embedded(chain=EmbeddedChain())
    runtime = build_services(settings, chain=chain, anchor_settings=AnchorSettings(interval_s=3600))
    services = runtime.services
    summary = load_demo(services, donations=90, days=30)
    now = datetime.now(UTC)

    ats = [parse_at(entry.at) for entry in services.store.entries()]
    assert max(ats) < now
    # It begins at the midnight (UTC) 31 days back, its charities registered an hour
    # earlier: at 23:30 that is 32 days and 30 minutes ago, never more than 33 days.
    assert min(ats) > now - timedelta(days=33)
    checkpoints = services.checkpoints.all()
    assert len(checkpoints) == summary.checkpoints >= 5  # weekly, and one at the end
    anchored = [c.anchored_at for c in checkpoints]
    assert anchored == sorted(anchored)
    assert anchored[0] < now - timedelta(days=20)  # the first week's, not today's
    assert anchored[-1] < now
    # Every entry was anchored at or after the time it is dated.
    for checkpoint in checkpoints:
        assert ats[checkpoint.tree_size - 1] <= checkpoint.anchored_at

    # The clock went back to the wall: the next block is dated now.
    assert chain.embedded_chain is not None
    assert chain.embedded_chain.clock is None
    report = run_audit(
        services.store.leaves(),
        chain,
        contract=chain.ledger_anchor.address,
        registry=chain.charity_registry.address,
    )
    assert report.ok, report.to_text()
    assert report.check("timestamps").status == "pass"
    # The demo's matching pool (ADR 0040) matched donations of its giving days, within it.
    assert summary.matches > 0
    pool = services.views.pool_view(summary.pool_id)
    assert pool.matches == summary.matches - 1  # the demo's refund reversed one match
    assert 0 < pool.spent <= pool.total
    assert pool.closed
