"""Unknown ids and paths: a 404 page in HTML, a problem document in JSON, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.explorer.conftest import World

MISSING = [
    "/charities/ch_doesnotexist",
    "/projects/pr_doesnotexist",
    "/donations/dn_doesnotexist",
    "/disbursements/db_doesnotexist",
    "/entries/999999",
    "/entries/99999999999999999999999999",
    "/entries/-1",
    "/entries/abc",
    "/entries/%F0%9F%92%B0",
    "/donations/%3Cscript%3E",
    "/nowhere",
    "/donations/",
]


@pytest.mark.parametrize("path", MISSING)
def test_unknown_page_is_a_404_page(client: TestClient, world: World, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<script>" not in response.text
    assert '<html lang="' in response.text


@pytest.mark.parametrize("path", [p for p in MISSING if p.count("/") == 2])
def test_unknown_json_twin_is_a_404_problem(client: TestClient, world: World, path: str) -> None:
    response = client.get(path + ".json")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_bad_checkpoint_cursor_is_not_a_server_error(client: TestClient, world: World) -> None:
    assert client.get("/checkpoints?before=-3").status_code == 404
    assert client.get("/checkpoints.json?before=abc").status_code == 404
    assert client.get("/checkpoints.json?before=0").json()["data"] == []
