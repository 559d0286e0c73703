"""A node that is down when the service starts: donations are taken, anchoring follows."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from api.anchoring import AnchorSettings
from api.app import build_services, connect_chain_later, create_app, signing_domain
from api.settings import ApiSettings
from chain import settings as chain_settings
from chain.client import ChainClient
from chain.devnet import free_port, start_devnet
from explorer.app import ExplorerMount
from tests.factories import paid_now

TOKEN = "chain-later-test-platform-token-0123456789"


@pytest.mark.anvil
def test_serving_starts_without_the_node_and_anchors_once_it_answers(
    sqlite_url: str, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("CHAIN_RPC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("CHAIN_REQUEST_TIMEOUT_S", "2")
    chain_settings.get_settings.cache_clear()
    runtime = build_services(
        ApiSettings(
            database_url=sqlite_url,
            evidence_dir=tmp_path / "evidence",  # type: ignore[operator]
            admin_token=TOKEN,  # type: ignore[arg-type]
        ),
        anchor_settings=AnchorSettings(interval_s=0, poll_s=0.05, backoff_max_s=0.2),
    )
    services = runtime.services
    assert runtime.chain_pending
    assert services.chain is None
    assert any("does not answer" in note for note in runtime.notes)
    app = create_app(services)
    client = TestClient(app)
    platform = {"Authorization": f"Bearer {TOKEN}"}
    charity = client.post(
        "/api/v1/charities", json={"name": "n", "registration_no": "n"}, headers=platform
    ).json()
    donation = client.post(
        "/api/v1/donations",
        json={
            "charity_id": charity["id"],
            "amount": 500,
            "currency": "CNY",
            "channel": "card",
            "paid_at": paid_now(),
            "payment_ref": "PAY-down",
        },
        headers=platform | {"Idempotency-Key": "down-1"},
    )
    assert donation.status_code == 201
    assert client.get("/api/v1/chain").status_code == 503

    stop = threading.Event()
    thread = threading.Thread(target=connect_chain_later, args=(services, stop))
    thread.start()
    node = None
    try:
        stop.wait(0.5)  # a few failed attempts first
        node = start_devnet(port=port, state_file=None)
        deployment = ChainClient.connect(node.rpc_url).deploy()
        monkeypatch.setenv("CHAIN_LEDGER_ANCHOR_ADDRESS", deployment.ledger_anchor)
        monkeypatch.setenv("CHAIN_CHARITY_REGISTRY_ADDRESS", deployment.charity_registry)
        chain_settings.get_settings.cache_clear()
        for _ in range(300):
            if services.checkpoints.latest() is not None:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(15)
        if node is not None:
            node.stop()
        chain_settings.get_settings.cache_clear()
    latest = services.checkpoints.latest()
    assert latest is not None
    assert latest.tree_size == services.store.size() == 2
    assert services.chain is not None
    # The explorer's read-only views were made with the app, before the node answered:
    # they check charity signatures in the chain's domain too, not "unchecked" for good.
    (mount,) = [route for route in app.routes if isinstance(route, ExplorerMount)]
    explorer_views = mount.app.state.explorer.views  # type: ignore[attr-defined]
    assert services.views.signing_domain == signing_domain(services.chain)
    assert explorer_views.signing_domain == services.views.signing_domain
    services.store.engine.dispose()
