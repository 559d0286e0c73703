"""What a cache may keep of the explorer's pages, and conditional GET (ADR 0036).

The world (``conftest.build_world``): checkpoint 0 (entries 0-5) is confirmed, checkpoint
1 (entries 6-14) is not, the last entry is not anchored.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from explorer import caching, urls
from explorer.app import create_explorer
from explorer.views import PublicViews
from tests import factories as f
from tests.explorer.conftest import World, explorer_client

SETTLED = "public, max-age=86400, immutable"
FRESH = "public, max-age=5"


@pytest.fixture
def lasting(sqlite_world: World) -> Iterator[TestClient]:
    with explorer_client(sqlite_world.store, lasting_chain=True) as client:
        yield client
        client.app.state.explorer.views.store.engine.dispose()  # type: ignore[attr-defined]


def test_an_entry_under_a_confirmed_checkpoint_is_settled_html_and_twin(
    lasting: TestClient,
) -> None:
    for url in (urls.entry(2), urls.entry(2, json=True)):
        response = lasting.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == SETTLED, url
        assert response.headers["etag"] == caching.etag_of(response.content)


def test_only_what_cannot_change_is_immutable(lasting: TestClient, sqlite_world: World) -> None:
    last = sqlite_world.store.size() - 1
    changing = [
        urls.entry(7),  # its first checkpoint is not confirmed yet
        urls.entry(last),  # not anchored, and no next entry yet
        urls.donation(sqlite_world.earmarked),  # balances, what it funded, its status
        urls.donation(sqlite_world.earmarked, json=True),
        urls.home(),  # totals and the latest checkpoint
        urls.charity(sqlite_world.charity_id),
        urls.project(sqlite_world.project_id),
        urls.disbursement(sqlite_world.disbursement_id),
        urls.checkpoints(),
        urls.search(q=sqlite_world.earmarked),
        urls.my(),
    ]
    for url in changing:
        response = lasting.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == FRESH, url
        assert "etag" in response.headers, url


def test_on_the_embedded_chain_nothing_anchored_is_settled(sqlite_client: TestClient) -> None:
    # The embedded chain starts empty at every start: the checkpoints are anchored anew.
    response = sqlite_client.get(urls.entry(2))
    assert response.headers["cache-control"] == FRESH


def test_if_none_match_answers_304_with_the_headers_and_no_body(lasting: TestClient) -> None:
    first = lasting.get(urls.entry(2), headers={"Accept-Language": "en"})
    etag = first.headers["etag"]
    again = lasting.get(
        urls.entry(2), headers={"Accept-Language": "en", "If-None-Match": f'"x", W/{etag}'}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == SETTLED
    assert again.headers["vary"] == "Accept-Language, Cookie"
    assert "content-security-policy" not in again.headers  # only what a 304 repeats
    other = lasting.get(urls.entry(2), headers={"Accept-Language": "en", "If-None-Match": '"0123"'})
    assert (other.status_code, other.content) == (200, first.content)


def test_a_page_that_changed_answers_200_to_its_old_tag(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    url = urls.donation(sqlite_world.refunded, json=True)
    before = sqlite_client.get(url)
    sqlite_world.store.append([f.refund(sqlite_world.refunded, 100, reason="again")])
    after = sqlite_client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json()["donation"]["refunded"] == before.json()["donation"]["refunded"] + 100


def test_head_has_the_headers_of_get_and_no_body(lasting: TestClient) -> None:
    get = lasting.get(urls.entry(2))
    head = lasting.head(urls.entry(2))
    assert head.status_code == 200
    assert head.content == b""
    for name in ("cache-control", "etag", "content-type", "content-length", "vary"):
        assert head.headers[name] == get.headers[name], name


def test_vary_names_what_chose_the_language(sqlite_world: World) -> None:
    with explorer_client(sqlite_world.store, lasting_chain=True) as client:
        negotiated = client.get(urls.entry(2), headers={"Accept-Language": "en"})
        assert negotiated.headers["vary"] == "Accept-Language, Cookie"
        assert negotiated.headers["cache-control"] == SETTLED
        # ?lang= chooses by the URL: nothing to vary on; the first time it sets the cookie,
        # which a shared cache must not hand on.
        chosen = client.get(urls.entry(2) + "?lang=en")
        assert "vary" not in chosen.headers
        assert "set-cookie" in chosen.headers
        assert chosen.headers["cache-control"] == "private, max-age=86400, immutable"
        # With the cookie already set, the same URL is the same page for everyone.
        again = client.get(urls.entry(2) + "?lang=en")
        assert "set-cookie" not in again.headers
        assert "vary" not in again.headers
        assert again.headers["cache-control"] == SETTLED
        assert again.content == chosen.content
        # The twin is the same in every language.
        twin = client.get(urls.entry(2, json=True), headers={"Accept-Language": "en"})
        assert "Accept-Language" not in twin.headers.get("vary", "")


def test_not_found_is_not_kept(lasting: TestClient) -> None:
    for url in ("/donations/dn_nothing", "/donations/dn_nothing.json", "/entries/99999"):
        response = lasting.get(url)
        assert response.status_code == 404
        assert response.headers["cache-control"] == "no-cache", url
        assert "etag" not in response.headers


def test_a_settled_donation_page_verifies_a_settled_proof(
    lasting: TestClient, sqlite_client: TestClient, sqlite_world: World
) -> None:
    # The earmarked donation went on chain with checkpoint 0, which is confirmed.
    twin = lasting.get(urls.donation(sqlite_world.earmarked, json=True)).json()
    assert twin["proof_url"] == urls.api_proof(sqlite_world.earmarked, 0)
    assert twin["proof_url"].endswith("/proof?checkpoint=0")
    # Not on a lasting chain, or not confirmed yet: the latest proof.
    embedded = sqlite_client.get(urls.donation(sqlite_world.earmarked, json=True)).json()
    assert embedded["proof_url"] == urls.api_proof(sqlite_world.earmarked)
    unconfirmed = lasting.get(urls.donation(sqlite_world.unanchored, json=True)).json()
    assert unconfirmed["proof_url"] == urls.api_proof(sqlite_world.unanchored)


@pytest.mark.parametrize(
    ("value", "etag", "matches"),
    [
        (None, '"a"', False),
        ('"a"', '"a"', True),
        ('W/"a"', '"a"', True),
        ('"b", "a"', '"a"', True),
        ("*", '"a"', True),
        ('"ab"', '"a"', False),
    ],
)
def test_if_none_match_uses_the_weak_comparison(
    value: str | None, etag: str, matches: bool
) -> None:
    assert caching.none_match(value, etag) is matches


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_page_cache_serves_a_page_for_its_seconds_then_draws_it_again(
    sqlite_world: World,
) -> None:
    views = PublicViews(store=sqlite_world.store, public_url="http://testserver")
    clock = Clock()
    with TestClient(create_explorer(views.read_only(), page_cache_s=2)) as client:
        pages = client.app.state.explorer.pages  # type: ignore[attr-defined]
        pages._clock = clock
        url = urls.donation(sqlite_world.refunded, json=True)
        before = client.get(url).json()
        sqlite_world.store.append([f.refund(sqlite_world.refunded, 100, reason="again")])
        kept = client.get(url)
        assert kept.json() == before  # the page drawn a moment ago ...
        assert kept.headers["cache-control"] == FRESH  # ... as any cache may keep it
        clock.now += 2.5
        after = client.get(url).json()
        assert after["donation"]["refunded"] == before["donation"]["refunded"] + 100
        # Each language is its own page; a 404 is never kept.
        english = client.get(
            urls.donation(sqlite_world.refunded), headers={"Accept-Language": "en"}
        )
        chinese = client.get(
            urls.donation(sqlite_world.refunded), headers={"Accept-Language": "zh"}
        )
        assert (english.headers["content-language"], chinese.headers["content-language"]) == (
            "en",
            "zh-CN",
        )
        missing = "/donations/dn_notyet.json"
        assert client.get(missing).status_code == 404
        assert all(key[0] != missing for key in pages._pages)
        client.app.state.explorer.views.store.engine.dispose()  # type: ignore[attr-defined]


def test_a_kept_page_still_sets_the_language_cookie_for_whoever_lacks_it(
    sqlite_world: World,
) -> None:
    views = PublicViews(store=sqlite_world.store, public_url="http://testserver")
    app = create_explorer(views.read_only(), page_cache_s=5)
    url = urls.donation(sqlite_world.earmarked) + "?lang=en"
    with TestClient(app) as first, TestClient(app) as second:
        assert "set-cookie" in first.get(url).headers
        assert "set-cookie" not in first.get(url).headers  # it has the cookie now
        fresh = second.get(url)  # the same kept page, to a browser without the cookie
        assert "set-cookie" in fresh.headers
        assert fresh.headers["cache-control"] == "private, max-age=5"
    app.state.explorer.views.store.engine.dispose()
