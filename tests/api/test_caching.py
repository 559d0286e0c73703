"""What a cache may keep of the API and /tlog/, conditional GET and HEAD (ADR 0036).

Through the whole app (``api.app.create_app``), as ``shanlian serve`` runs it.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from api.settings import ApiSettings
from explorer import caching
from tests.api.conftest import Api, Journal

V1 = "/api/v1"
IMMUTABLE = "public, max-age=31536000, immutable"
SETTLED = "public, max-age=86400, immutable"
FRESH = "public, max-age=5"


def anchored_donation(api: Api) -> dict[str, Any]:
    charity_id, auth = api.register_charity()
    project_id = api.open_project(charity_id, auth)
    donation = api.donate(charity_id, project_id)
    api.anchor()
    return donation


def test_head_of_the_checkpoint_and_of_tiles_has_the_headers_of_get_and_no_body(
    api: Api,
) -> None:
    Journal(api.store).donate(298)  # 300 entries
    for path in (
        "/tlog/checkpoint",
        "/tlog/tile/0/000",
        "/tlog/tile/0/001.p/44",
        "/tlog/tile/entries/001.p/44",
    ):
        get = api.client.get(path)
        head = api.client.head(path)
        assert (get.status_code, head.status_code) == (200, 200), path
        assert head.content == b"", path
        for name in ("content-type", "content-length", "cache-control", "etag"):
            assert head.headers[name] == get.headers[name], (path, name)
        assert int(head.headers["content-length"]) == len(get.content)
    tile = api.client.get("/tlog/tile/0/000")
    assert tile.headers["cache-control"] == IMMUTABLE
    assert tile.headers["etag"] == caching.etag_of(tile.content)
    assert api.client.get("/tlog/checkpoint").headers["cache-control"] == FRESH
    not_modified = api.client.head(
        "/tlog/tile/0/000", headers={"If-None-Match": tile.headers["etag"]}
    )
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    missing = api.client.head("/tlog/tile/0/009")
    assert (missing.status_code, missing.content) == (404, b"")
    assert api.client.head("/tlog/nothing").status_code == 404


def test_the_checkpoint_revalidates_until_the_journal_grows(api: Api) -> None:
    journal = Journal(api.store)
    journal.donate(1)
    api.services.log._interval_s = 0  # type: ignore[union-attr]  # look at every request
    first = api.client.get("/tlog/checkpoint")
    same = api.client.get("/tlog/checkpoint", headers={"If-None-Match": first.headers["etag"]})
    assert (same.status_code, same.content) == (304, b"")
    journal.donate(1)
    grown = api.client.get("/tlog/checkpoint", headers={"If-None-Match": first.headers["etag"]})
    assert grown.status_code == 200
    assert grown.text != first.text


def test_public_reads_that_change_are_fresh_for_seconds_with_an_etag(api: Api) -> None:
    donation = anchored_donation(api)
    donation_id = donation["id"]
    data = api.client.get(f"{V1}/donations/{donation_id}").json()
    for url in (
        f"{V1}/donations/{donation_id}",
        f"{V1}/donations/{donation_id}/proof",  # against the latest checkpoint
        f"{V1}/charities/{data['charity_id']}",
        f"{V1}/projects/{data['project_id']}",
        f"{V1}/checkpoints",
        f"{V1}/checkpoints/latest",
        f"{V1}/chain",
    ):
        response = api.client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == FRESH, url
        etag = response.headers["etag"]
        again = api.client.get(url, headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b""), url


def test_a_proof_against_a_named_confirmed_checkpoint_is_settled_on_a_lasting_chain(
    api: Api,
) -> None:
    donation_id = anchored_donation(api)["id"]
    pinned = f"{V1}/donations/{donation_id}/proof?checkpoint=0"
    # The embedded chain starts empty at every start: its checkpoints are anchored anew.
    embedded = api.client.get(pinned)
    assert embedded.status_code == 200, embedded.text
    assert embedded.headers["cache-control"] == FRESH
    api.services.views.lasting_chain = True
    settled = api.client.get(pinned)
    assert settled.headers["cache-control"] == SETTLED
    assert settled.json() == embedded.json()
    assert settled.json()["checkpoint"]["index"] == 0
    # The latest proof changes as checkpoints come: never settled.
    latest = api.client.get(f"{V1}/donations/{donation_id}/proof")
    assert latest.headers["cache-control"] == FRESH


def test_a_proof_against_a_checkpoint_that_does_not_cover_the_donation_is_refused(
    api: Api,
) -> None:
    Journal(api.store).donate(1)
    api.anchor()  # checkpoint 0: before the donation
    donation_id = anchored_donation(api)["id"]
    early = api.client.get(f"{V1}/donations/{donation_id}/proof?checkpoint=0")
    assert early.status_code == 422
    assert early.json()["code"] == "checkpoint_not_covering"
    assert early.json()["field"] == "checkpoint"
    assert early.headers["cache-control"] == "no-cache"
    missing = api.client.get(f"{V1}/donations/{donation_id}/proof?checkpoint=7")
    assert missing.status_code == 404
    assert api.client.get(f"{V1}/donations/{donation_id}/proof?checkpoint=1").status_code == 200


def test_consistency_between_two_sizes_of_the_journal_is_immutable(api: Api) -> None:
    Journal(api.store).donate(6)
    response = api.client.get(f"{V1}/checkpoints/consistency?first=3&second=7")
    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE
    past = api.client.get(f"{V1}/checkpoints/consistency?first=3&second=99")
    assert past.status_code == 422
    assert past.headers["cache-control"] == "no-cache"


def test_what_is_asked_with_credentials_is_kept_by_no_cache(api: Api) -> None:
    donation = anchored_donation(api)
    donation_id = donation["id"]
    for url in (f"{V1}/donations/{donation_id}", "/tlog/tile/entries/000.p/3", "/"):
        response = api.client.get(url, headers=api.platform)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "private, no-store", url
    # The receipt carries the donor's secret: no-store, as the route says.
    receipt = api.client.get(f"{V1}/donations/{donation_id}/receipt", headers=api.platform)
    assert receipt.status_code == 200
    assert receipt.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("url", [f"{V1}/donations/dn_nothing", "/donations/dn_nothing"])
def test_not_found_is_not_kept(api: Api, url: str) -> None:
    response = api.client.get(url)
    assert response.status_code == 404
    assert response.headers["cache-control"] == "no-cache"


def test_the_explorer_in_the_app_answers_conditional_requests(api: Api) -> None:
    donation_id = anchored_donation(api)["id"]
    page = api.client.get(f"/donations/{donation_id}", headers={"Accept-Language": "en"})
    assert page.headers["cache-control"] == FRESH
    assert {"Accept-Language", "Cookie"} <= {v.strip() for v in page.headers["vary"].split(",")}
    again = api.client.get(
        f"/donations/{donation_id}",
        headers={"Accept-Language": "en", "If-None-Match": page.headers["etag"]},
    )
    assert (again.status_code, again.content) == (304, b"")
    head = api.client.head(f"/donations/{donation_id}", headers={"Accept-Language": "en"})
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["etag"] == page.headers["etag"]


@pytest.mark.parametrize("seconds", [-1, 5.5, 60])
def test_the_page_cache_keeps_pages_no_longer_than_caches_may(seconds: float) -> None:
    with pytest.raises(ValidationError):
        ApiSettings(page_cache_s=seconds)


def test_the_exact_page_cache_is_on_unless_the_setting_turns_it_off(
    make_api: Any, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ApiSettings().page_cache_exact is True
    monkeypatch.setenv("API_PAGE_CACHE_EXACT", "false")
    assert ApiSettings().page_cache_exact is False
    api = make_api(sqlite_url, page_cache_exact=False)
    charity_id, auth = api.register_charity()
    donation_id = api.donate(charity_id, api.open_project(charity_id, auth))["id"]
    assert api.client.get(f"/donations/{donation_id}").status_code == 200
    (mount,) = [r for r in api.client.app.routes if getattr(r, "name", None) == "explorer"]
    assert mount.app.state.explorer.exact is None
