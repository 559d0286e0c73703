"""Unknown ids and paths: a 404 page in HTML, a problem document in JSON, never a 500."""

from __future__ import annotations

import re

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
    "/entries/9007199254740991",  # MAX_SEQ, not in this journal
    "/entries/9007199254740992",  # MAX_SEQ + 1: no journal holds it
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
    assert client.get("/checkpoints.json?before=9007199254740991").status_code == 200
    assert client.get("/checkpoints.json?before=9007199254740992").status_code == 404


def test_entry_numbers_end_at_the_ledgers_largest_seq() -> None:
    from explorer import app
    from ledger.entries import MAX_SEQ

    assert app.MAX_SEQ is MAX_SEQ == 9007199254740991


# -- links built from the request's path --------------------------------------------------------

HOSTILE_PATHS = {
    "two slashes": "//evil.example/x",
    "three slashes": "///evil.example/x",
    "a backslash": "/\\evil.example/x",
    "two backslashes": "/\\\\evil.example/x",
    "encoded slashes": "/%2F%2Fevil.example/x",
    "encoded backslash": "/%5Cevil.example/x",
    "slash, backslash": "/%2F%5Cevil.example",
    "encoded tab": "/%09/evil.example/x",
    "encoded CR LF": "/%0D%0A/evil.example/x",
    "encoded CR LF header": "/x%0D%0ASet-Cookie:%20a=b",
    "a quote": '/x"onmouseover="alert(1)',
    "encoded quote and angle": "/x%22%3E%3Cscript%3E",
    "scheme in the path": "/javascript:alert(1)",
    "a page with a hostile query": "/search?q=//evil.example&lang=x",
}


def _links(html: str) -> list[str]:
    import html as html_module
    import re

    return [html_module.unescape(v) for v in re.findall(r'(?:href|src|action)="([^"]*)"', html)]


@pytest.mark.parametrize("path", HOSTILE_PATHS.values(), ids=HOSTILE_PATHS.keys())
def test_no_link_on_a_page_leads_off_the_site_whatever_the_path(
    sqlite_client: TestClient, sqlite_world: World, path: str
) -> None:
    from urllib.parse import urljoin, urlsplit

    response = sqlite_client.get("http://testserver" + path)
    assert response.status_code in (200, 404)
    links = _links(response.text)
    assert any("lang=" in link for link in links), "the language links are there"
    for link in links:
        if link in ("data:,", "#main") or link.startswith("#"):
            continue  # no favicon; the skip link
        # As a browser reads it: tabs and newlines dropped, a backslash taken for a slash.
        browser = re.sub(r"[\t\n\r]", "", link).replace("\\", "/")
        assert browser.startswith("/"), link
        assert not browser.startswith("//"), link
        assert urlsplit(urljoin("http://testserver/here", browser)).netloc == "testserver"
        assert not any(ord(c) < 0x20 for c in link), link


def test_the_language_link_keeps_the_page_it_is_on(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/search", params={"q": "学校 & co"})
    links = [link for link in _links(response.text) if "lang=" in link]
    assert links
    assert all(link.startswith("/search?q=") for link in links), links
