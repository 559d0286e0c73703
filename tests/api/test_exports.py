"""Auditor exports: CSV per charity and period, matching the books."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import build_services, create_app
from api.services import Services
from api.settings import ApiSettings
from ledger.store import projections
from ledger.store.requests import FifoAllocation
from tests import factories as f

TOKEN = "exports-test-platform-token-0123456789"


@pytest.fixture
def services(database_url: str, tmp_path: pytest.TempPathFactory) -> Iterator[Services]:
    settings = ApiSettings(
        database_url=database_url,
        evidence_dir=tmp_path / "evidence",
        admin_token=TOKEN,  # type: ignore[arg-type, operator]
    )
    runtime = build_services(settings, with_chain=False)
    yield runtime.services
    runtime.services.store.engine.dispose()


def read_csv(response_text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response_text)))


def test_exports_match_the_books_per_charity(services: Services) -> None:
    store = services.store
    ids = {}
    for name in ("a", "b"):
        charity = f.charity()
        project = f.project(charity.body["charity_id"])
        store.append([charity, project])
        donations = [
            f.donation(
                charity.body["charity_id"], project.body["project_id"], amount=1_000 * (i + 1)
            )
            for i in range(4)
        ]
        disbursement = f.disbursement(
            charity.body["charity_id"], project.body["project_id"], amount=2_500
        )
        store.append(
            [*donations, disbursement, FifoAllocation(disbursement.body["disbursement_id"])]
        )
        ids[name] = charity.body["charity_id"]
    auditor = services.keys.issue("auditor", "KPMG")
    client = TestClient(create_app(services))
    headers = {"Authorization": f"Bearer {auditor}"}
    for charity_id in ids.values():
        donations = read_csv(
            client.get(
                f"/api/v1/exports/donations.csv?charity_id={charity_id}", headers=headers
            ).text
        )
        allocations = read_csv(
            client.get(
                f"/api/v1/exports/allocations.csv?charity_id={charity_id}", headers=headers
            ).text
        )
        disbursements = read_csv(
            client.get(
                f"/api/v1/exports/disbursements.csv?charity_id={charity_id}", headers=headers
            ).text
        )
        with store.engine.connect() as connection:
            (balance,) = projections.balances(connection, charity_id=charity_id)
        assert len(donations) == 4
        assert {row["charity_id"] for row in donations} == {charity_id}
        assert sum(int(row["amount"]) for row in donations) == balance.received == 10_000
        assert sum(int(row["allocated"]) for row in donations) == balance.allocated
        assert sum(int(row["amount"]) for row in allocations) == balance.allocated == 2_500
        assert sum(int(row["amount"]) for row in disbursements) == balance.disbursed
        assert sum(int(row["unspent"]) for row in donations) == balance.held


def test_exports_filter_by_period_and_need_an_auditor(services: Services) -> None:
    charity = f.charity()
    project = f.project(charity.body["charity_id"])
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    services.store.append([charity, project], at=long_ago)
    services.store.append([f.donation(charity.body["charity_id"], None)], at=long_ago)
    services.store.append([f.donation(charity.body["charity_id"], None)])
    client = TestClient(create_app(services))
    auditor = {"Authorization": f"Bearer {services.keys.issue('auditor', 'audit')}"}
    recent = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    rows = read_csv(
        client.get("/api/v1/exports/donations.csv", params={"from": recent}, headers=auditor).text
    )
    assert len(rows) == 1
    rows = read_csv(
        client.get("/api/v1/exports/donations.csv", params={"to": recent}, headers=auditor).text
    )
    assert len(rows) == 1
    assert rows[0]["recorded_at"].startswith("2026-")
    assert client.get("/api/v1/exports/donations.csv").status_code == 401
    key = services.keys.issue("charity", "x", charity_id=charity.body["charity_id"])
    charity_key = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/exports/donations.csv", headers=charity_key).status_code == 403
    own = client.get(
        "/api/v1/exports/donations.csv",
        params={"charity_id": charity.body["charity_id"]},
        headers=charity_key,
    )
    assert own.status_code == 200
    assert len(read_csv(own.text)) == 2
