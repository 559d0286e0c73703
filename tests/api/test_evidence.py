"""Evidence files: content-checked uploads, kept per charity, private unless cited public."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import build_services, create_app
from api.settings import ApiSettings

TOKEN = "evidence-test-platform-token-0123456789"
INVOICE = b"%PDF-1.4\n% invoice 42\n%%EOF\n"


@pytest.fixture
def client(sqlite_url: str, tmp_path: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = ApiSettings(
        database_url=sqlite_url,
        evidence_dir=tmp_path / "evidence",  # type: ignore[operator]
        admin_token=TOKEN,  # type: ignore[arg-type]
    )
    runtime = build_services(settings, with_chain=False)
    yield TestClient(create_app(runtime.services))
    runtime.services.store.engine.dispose()


def charity(client: TestClient, name: str) -> tuple[str, dict[str, str]]:
    response = client.post(
        "/api/v1/charities",
        json={"name": name, "registration_no": name},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    created = response.json()
    return created["id"], {"Authorization": f"Bearer {created['api_key']}"}


def disburse(
    client: TestClient, charity_id: str, key: dict[str, str], sha: str, public: bool
) -> int:
    return client.post(
        "/api/v1/disbursements",
        json={
            "charity_id": charity_id,
            "amount": 100,
            "currency": "CNY",
            "payee": "Shop",
            "purpose": "chalk",
            "evidence": [{"sha256": sha, "public": public}],
        },
        headers=key | {"Idempotency-Key": f"{charity_id}-{sha}"},
    ).status_code


def test_two_charities_may_upload_the_same_file_and_each_cites_its_own(client: TestClient) -> None:
    first_id, first = charity(client, "first")
    second_id, second = charity(client, "second")
    files = {"file": ("invoice.pdf", INVOICE, "application/pdf")}
    sha = client.post("/api/v1/evidence", files=files, headers=first).json()["sha256"]
    assert disburse(client, second_id, second, sha, public=False) == 422  # not uploaded by it
    assert client.get(f"/api/v1/evidence/{sha}", headers=second).status_code == 403
    again = client.post("/api/v1/evidence", files=files, headers=second).json()
    assert again["sha256"] == sha
    assert disburse(client, second_id, second, sha, public=False) == 201
    assert client.get(f"/api/v1/evidence/{sha}", headers=second).status_code == 200
    assert client.get(f"/api/v1/evidence/{sha}").status_code == 401  # private so far
    assert disburse(client, first_id, first, sha, public=True) == 201
    published = client.get(f"/api/v1/evidence/{sha}")
    assert published.status_code == 200
    assert published.content == INVOICE


def test_a_file_whose_content_is_not_its_declared_type_is_refused(client: TestClient) -> None:
    _, key = charity(client, "third")
    response = client.post(
        "/api/v1/evidence",
        files={"file": ("invoice.pdf", b"<script>alert(1)</script>", "application/pdf")},
        headers=key,
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
