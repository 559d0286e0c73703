"""An outside auditor against a running deployment: the API's paged export, its
read-only JSON-RPC endpoint, and the proof bundles it serves.

The whole service (API, embedded chain, its read-only JSON-RPC) runs in a thread; the
journal is written through the API, anchored twice, and its charity registered on
chain. The auditor then uses nothing but URLs, as DESIGN §2 says it must.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from audit.cli import main
from chain.devnet import free_port
from tests.factories import paid_now
from tests.serving import local_service, serve

pytestmark = pytest.mark.timeout(120)
TOKEN = "audit-deployment-test-platform-token-0123456789"


@dataclass
class Deployment:
    base: str
    rpc_url: str
    ledger_anchor: str
    charity_registry: str
    donation_ids: list[str]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("deployment")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = local_service(folder, TOKEN, port)
    with (
        serve(create_app(runtime.services), port, "audit-test-server"),
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20
        ) as api,
    ):
        charity = api.post(
            "/api/v1/charities",
            json={"name": "云南乡村学校助学会", "registration_no": "53530000MJ0005678Y"},
        ).json()
        key = {"Authorization": f"Bearer {charity['api_key']}"}
        project = api.post(
            f"/api/v1/charities/{charity['id']}/projects",
            json={"title": "怒江乡村小学课本", "goal_amount": 6_000_000, "currency": "CNY"},
            headers=key,
        ).json()
        donation_ids = []
        for n in range(12):
            response = api.post(
                "/api/v1/donations",
                json={
                    "charity_id": charity["id"],
                    "project_id": project["id"] if n % 3 else None,
                    "amount": 1_000 + n,
                    "currency": "CNY",
                    "channel": "wechat",
                    "paid_at": paid_now(),
                    "payment_ref": f"PAY-{n}",
                    "donor": {"name": "王小明"},
                },
                headers={"Idempotency-Key": f"audit-{n}"},
            )
            assert response.status_code == 201, response.text
            donation_ids.append(response.json()["id"])
            if n in (4, 11):
                assert api.post("/api/v1/anchor").status_code == 200
        assert runtime.services.worker is not None
        runtime.services.worker.sync_registry()
        chain = api.get("/api/v1/chain").json()
        yield Deployment(
            base=base,
            rpc_url=chain["rpc_url"],
            ledger_anchor=chain["ledger_anchor"],
            charity_registry=chain["charity_registry"],
            donation_ids=donation_ids,
        )


def test_an_auditor_audits_a_deployment_from_its_urls_alone(
    deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "audit",
        "--journal",
        f"{deployment.base}/api/v1/entries",
        "--rpc",
        deployment.rpc_url,
        "--contract",
        deployment.ledger_anchor,
        "--registry",
        deployment.charity_registry,
        "--report-json",
        str(tmp_path / "report.json"),
    ]
    status = main(argv)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "PASSED: 14 entries verified against 2 anchored checkpoints" in out
    # The read-only endpoint offers no eth_getCode: the audit says what it could not check.
    assert "does not offer eth_getCode" in out


def test_a_donors_proof_bundle_from_the_api_verifies_with_the_published_contract(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    for donation_id in (deployment.donation_ids[0], deployment.donation_ids[-1]):
        url = f"{deployment.base}/api/v1/donations/{donation_id}/proof"
        argv = ["verify", url, "--rpc", deployment.rpc_url]
        assert main([*argv, "--contract", deployment.ledger_anchor]) == 0
        out = capsys.readouterr().out
        assert "VERIFIED: entry" in out
        assert "  ok      contract_call" in out
