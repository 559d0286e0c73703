"""Everything a charity writes is shown as text: names, titles, payees, purposes, reasons."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from explorer import urls
from tests.explorer.conftest import (
    HOSTILE_NAME,
    HOSTILE_PAYEE,
    HOSTILE_PURPOSE,
    HOSTILE_TITLE,
    World,
    visible_text,
)

PAGES = {
    "home": lambda w: urls.home(),
    "charity": lambda w: urls.charity(w.charity_id),
    "project": lambda w: urls.project(w.project_id),
    "donation": lambda w: urls.donation(w.earmarked),
    "disbursement": lambda w: urls.disbursement(w.disbursement_id),
    "search": lambda w: urls.search("Books"),
    "entry": lambda w: urls.entry(0),
}
OUR_SCRIPTS = re.compile(
    r'<script (src="/static/(vendor/)?[a-z0-9-]+\.js\?v=[0-9a-f]+"|type="application/json" '
    r'id="((verify|history)-messages|verify-signed-types)")>'
)
EVENT_HANDLER = re.compile(r"<[a-zA-Z][^<>]*\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.parametrize("name", list(PAGES))
def test_hostile_names_are_escaped_on_every_page(
    client: TestClient, world: World, name: str
) -> None:
    html = client.get(PAGES[name](world)).text
    assert "alert(" in html  # the hostile text is there, as text:
    assert "<script" not in OUR_SCRIPTS.sub("", html)
    assert not re.search(r"<(img|b)[\s>]", html, flags=re.IGNORECASE)
    assert not EVENT_HANDLER.search(html)


def test_hostile_texts_read_back_exactly_as_written(client: TestClient, world: World) -> None:
    donation = visible_text(client.get(urls.donation(world.earmarked)).text)
    for text in (HOSTILE_NAME, HOSTILE_TITLE, HOSTILE_PAYEE, HOSTILE_PURPOSE):
        assert text in donation


def test_fund_flow_drawing_escapes_payees_and_titles(client: TestClient, world: World) -> None:
    html = client.get(urls.charity(world.charity_id)).text
    svg = re.search(r"<svg\b.*?</svg>", html, flags=re.S)
    assert svg is not None
    drawing = svg.group(0)
    assert "&lt;img src=x onerror=alert(3)&gt;" in drawing
    assert "<img" not in drawing
    assert "&lt;b onmouseover=" in drawing
    assert "<b " not in drawing


def test_json_twins_keep_the_texts_raw(client: TestClient, world: World) -> None:
    twin = client.get(urls.charity(world.charity_id, json=True)).json()
    assert twin["charity"]["name"] == HOSTILE_NAME


def test_search_query_is_escaped_where_it_is_echoed(client: TestClient, world: World) -> None:
    html = client.get(urls.search('"><script>alert(5)</script>')).text
    assert "<script>alert(5)" not in html
    assert "&lt;script&gt;alert(5)" in html
    assert 'value="&#34;&gt;&lt;script&gt;alert(5)&lt;/script&gt;"' in html
