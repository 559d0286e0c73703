"""The explorer inside the service: mounted at the root, on its own read-only engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import build_services, create_app
from api.settings import ApiSettings
from explorer.app import ExplorerMount


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TestClient]:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/journal.db",
        admin_token="explorer-test-platform-token-0123456789",
        evidence_dir=tmp_path / "evidence",
    )
    services = build_services(settings, with_chain=False).services
    with TestClient(create_app(services)) as client:
        yield client
    services.store.engine.dispose()


def _explorer(client: TestClient) -> ExplorerMount:
    [mount] = [r for r in client.app.routes if isinstance(r, ExplorerMount)]  # type: ignore[attr-defined]
    return mount


def test_service_serves_the_explorer_at_the_root_on_a_read_only_engine(
    service: TestClient,
) -> None:
    home = service.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    explorer = _explorer(service).app.state.explorer  # type: ignore[attr-defined]
    assert "mode=ro" in str(explorer.views.store.engine.url)
    assert service.get("/healthz").json()["ok"] is True


def test_api_paths_stay_the_apis_even_when_nothing_matches(service: TestClient) -> None:
    unknown = service.get("/api/v1/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    wrong_method = service.delete("/api/v1/donations/dn_x")
    assert wrong_method.status_code == 405
    assert service.get("/docs").status_code == 200


def test_explorer_paths_answer_html_404_and_405(service: TestClient) -> None:
    missing = service.get("/donations/dn_doesnotexist")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert service.post("/donations/dn_doesnotexist").status_code == 405
