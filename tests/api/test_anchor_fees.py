"""The anchor worker under a fee cap and a spending budget (ADR 0038): it waits and says
so (log, metric, ``GET /chain``, a 503 to ``POST /anchor``, exit 3 from ``shanlian
anchor``), donations are taken meanwhile, and it anchors once the fee falls or the budget
allows."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from api.anchoring import AnchorDeferredError, AnchorSettings, AnchorWorker
from api.cli import main
from chain import settings as chain_settings
from chain.client import ChainClient
from chain.devnet import Devnet
from tests.api.conftest import ApiFactory, Journal, mine
from tests.chain.test_fees import GWEI, set_next_base_fee

NOW = AnchorSettings(interval_s=0, poll_s=0.05, backoff_max_s=0.2)


def waiting(reason: str) -> float | None:
    return REGISTRY.get_sample_value("shanlian_anchor_waiting", {"reason": reason})


@pytest.fixture
def capped(anvil: Devnet) -> Iterator[ChainClient]:
    """Fresh contracts on anvil, a cap of 50 gwei, and a base fee of 100 gwei from the
    next block on; the base fee is put back low afterwards."""
    client = ChainClient.connect(anvil.rpc_url)
    client.deploy()
    client.max_fee_per_gas = 50 * GWEI
    set_next_base_fee(client, 100 * GWEI)
    yield client
    set_next_base_fee(client, GWEI)
    mine(client, 1)


@pytest.mark.anvil
def test_the_worker_waits_while_the_base_fee_is_over_the_cap_and_donations_go_on(
    sqlite_journal: Journal, capped: ChainClient, caplog: pytest.LogCaptureFixture
) -> None:
    sqlite_journal.donate(3)
    worker = AnchorWorker(sqlite_journal.store, capped, NOW)
    with caplog.at_level(logging.INFO, logger="shanlian.anchor"):
        assert worker.run_once() is None
        assert worker.run_once() is None  # still waiting: said once, not every cycle
    assert capped.checkpoint_count() == 0
    status = worker.status
    assert status is not None
    assert status.state == "waiting_for_fees"
    assert status.base_fee_wei == 100 * GWEI
    assert status.max_fee_per_gas == 50 * GWEI
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert said == [
        "anchoring waits: the base fee is 100.000 gwei (100,000,000,000 wei), above the cap "
        "CHAIN_MAX_FEE_PER_GAS (50.000 gwei (50,000,000,000 wei)); it anchors when the fee "
        "falls under it. Donations are recorded meanwhile, and the next anchor covers them"
    ]
    assert waiting("fee_cap") == 1
    assert waiting("budget") == 0
    # Ingest never waits for the chain.
    started = time.monotonic()
    sqlite_journal.donate(2)
    assert time.monotonic() - started < 1
    with pytest.raises(AnchorDeferredError) as caught:
        worker.anchor_now()
    assert caught.value.status.state == "waiting_for_fees"
    # Empty blocks lower the base fee; once it is under the cap, the worker anchors it all.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="shanlian.anchor"):
        for _ in range(10):
            if (checkpoint := worker.run_once()) is not None:
                break
            mine(capped, 1)
    assert checkpoint is not None
    assert checkpoint.tree_size == sqlite_journal.store.size() == 7
    assert worker.status is not None
    assert worker.status.state == "ready"
    assert waiting("fee_cap") == 0
    resumed = [r.getMessage() for r in caplog.records if "resumes" in r.getMessage()]
    assert len(resumed) == 1
    assert resumed[0].startswith("anchoring resumes: the base fee is under the cap again, after")
    tx = capped.w3.eth.get_transaction(checkpoint.tx_hash)
    assert tx["maxFeePerGas"] <= 50 * GWEI


@pytest.mark.anvil
def test_the_api_says_anchoring_waits_and_takes_donations_meanwhile(
    make_api: ApiFactory, sqlite_url: str, capped: ChainClient
) -> None:
    api = make_api(sqlite_url, capped)
    charity_id, auth = api.register_charity()
    project_id = api.open_project(charity_id, auth)
    api.donate(charity_id, project_id)
    chain = api.client.get("/api/v1/chain").json()
    assert chain["finality"] == "1 confirmation"
    assert chain["anchoring"]["state"] == "waiting_for_fees"
    assert chain["anchoring"]["base_fee_wei"] == 100 * GWEI
    assert chain["anchoring"]["max_fee_per_gas"] == 50 * GWEI
    assert "anchoring waits: the base fee is 100.000 gwei" in chain["anchoring"]["detail"]
    response = api.client.post("/api/v1/anchor", headers=api.platform)
    assert response.status_code == 503
    problem = response.json()
    assert (problem["code"], problem["state"]) == ("anchor_deferred", "waiting_for_fees")
    assert response.headers["Retry-After"] == "60"
    assert capped.checkpoint_count() == 0
    api.donate(charity_id, project_id)  # still taken
    assert api.store.size() == 4
    # A public page: its visitors do not make the node work for each visit.
    worker = api.services.worker
    assert worker is not None
    asked = []
    base_fee = capped.base_fee
    capped.base_fee = lambda: asked.append(1) or base_fee()  # type: ignore[method-assign,func-returns-value]
    for _ in range(5):
        assert api.client.get("/api/v1/chain").json()["anchoring"]["state"] == "waiting_for_fees"
    assert len(asked) <= 1


@pytest.mark.anvil
def test_shanlian_anchor_says_it_waits_and_exits_3(
    sqlite_journal: Journal,
    capped: ChainClient,
    anvil: Devnet,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    sqlite_journal.donate(2)
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "CHAIN_RPC_URL": anvil.rpc_url,
        "CHAIN_LEDGER_ANCHOR_ADDRESS": capped.ledger_anchor.address,
        "CHAIN_CHARITY_REGISTRY_ADDRESS": capped.charity_registry.address,
        "CHAIN_MAX_FEE_PER_GAS": str(50 * GWEI),
    }.items():
        monkeypatch.setenv(name, value)
    chain_settings.get_settings.cache_clear()
    try:
        url = str(sqlite_journal.store.engine.url)
        assert main(["--database", url, "anchor"]) == 3
    finally:
        chain_settings.get_settings.cache_clear()
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("not anchored now: anchoring waits: the base fee is 100.000 gwei")
    assert capped.checkpoint_count() == 0


def test_the_worker_pauses_when_the_budget_is_spent_and_resumes_when_it_allows(
    journal: Journal, chain_client: ChainClient, caplog: pytest.LogCaptureFixture
) -> None:
    journal.donate(3)
    first = AnchorWorker(journal.store, chain_client, NOW).anchor_now()
    assert first is not None
    cost = chain_client.transaction_cost(first.tx_hash)
    assert cost > 0
    journal.donate(2)
    # The period's anchors spent the whole budget: paused, nothing sent.
    spent = AnchorWorker(journal.store, chain_client, NOW.model_copy(update={"budget_wei": cost}))
    assert spent.spent() == cost
    with caplog.at_level(logging.WARNING, logger="shanlian.anchor"):
        assert spent.run_once() == first
    assert spent.status is not None
    assert spent.status.state == "budget_exhausted"
    assert spent.status.detail == (
        f"anchoring is paused: the anchors of the last day cost {cost:,} wei, the budget "
        f"ANCHOR_BUDGET_WEI is {cost:,}; it anchors when older anchors leave the period. "
        "Donations are recorded meanwhile"
    )
    assert [r.getMessage() for r in caplog.records] == [spent.status.detail]
    assert waiting("budget") == 1
    assert chain_client.checkpoint_count() == 1
    # One wei left: the next anchor could cost more, so it is not sent either.
    short = AnchorWorker(
        journal.store, chain_client, NOW.model_copy(update={"budget_wei": cost + 1})
    )
    with pytest.raises(AnchorDeferredError) as caught:
        short.anchor_now()
    assert caught.value.status.state == "budget_exhausted"
    assert "the next anchor could cost up to" in caught.value.status.detail
    assert "and 1 wei of the budget ANCHOR_BUDGET_WEI" in caught.value.status.detail
    assert short.run_once() == first  # still paused, and still not sent
    assert chain_client.checkpoint_count() == 1
    # A budget that holds the next anchor's worst cost lets it go.
    enough = AnchorWorker(
        journal.store, chain_client, NOW.model_copy(update={"budget_wei": 100 * cost})
    )
    latest = enough.run_once()
    assert latest is not None
    assert latest.tree_size == journal.store.size()
    assert enough.status is not None
    assert enough.status.state == "ready"
    assert enough.spent() == cost + chain_client.transaction_cost(latest.tx_hash)
    assert waiting("budget") == 0


@pytest.mark.anvil
def test_spending_leaves_the_budget_when_it_leaves_the_period(
    sqlite_journal: Journal, anvil: Devnet
) -> None:
    client = ChainClient.connect(anvil.rpc_url)
    client.deploy()
    sqlite_journal.donate(2)
    settings = NOW.model_copy(update={"budget_wei": 1, "budget_period_s": 2})
    first = AnchorWorker(sqlite_journal.store, client, NOW).anchor_now()
    assert first is not None
    worker = AnchorWorker(sqlite_journal.store, client, settings)
    assert worker.spent() > 1
    assert worker.assess().state == "budget_exhausted"
    time.sleep(2.5)  # anvil dates its blocks by the clock: the anchor leaves the period
    assert worker.spent() == 0
    assert worker.assess().state == "ready"
