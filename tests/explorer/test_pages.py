"""Every page against its JSON twin: the page shows the twin's values, and only them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from explorer import urls
from explorer.caching import IMMUTABLE
from explorer.formatting import iso
from ledger.currencies import money
from ledger.entries import ID_MAX_LENGTH
from tests import factories as f
from tests.explorer.conftest import World, code_texts, data_values, json_leaves, visible_text

Pages = Callable[[World], str]

PAGES: dict[str, Pages] = {
    "home": lambda w: urls.home(),
    "charity": lambda w: urls.charity(w.charity_id),
    "project": lambda w: urls.project(w.project_id),
    "donation": lambda w: urls.donation(w.earmarked),
    "general donation": lambda w: urls.donation(w.general),
    "refunded donation": lambda w: urls.donation(w.refunded),
    "unanchored donation": lambda w: urls.donation(w.unanchored),
    "disbursement": lambda w: urls.disbursement(w.disbursement_id),
    "voided disbursement": lambda w: urls.disbursement(w.voided_disbursement_id),
    "checkpoints": lambda w: urls.checkpoints(),
    "entry": lambda w: urls.entry(3),
    "search": lambda w: urls.search(w.earmarked),
    "charities": lambda w: urls.charities(),
    "projects": lambda w: urls.projects(),
}


def twin_of(path: str) -> str:
    """The .json twin of a page's path, by the rule urls.py applies."""
    if path == "/":
        return "/.json"
    base, _, query = path.partition("?")
    return base + ".json" + (f"?{query}" if query else "")


@pytest.mark.parametrize("name", list(PAGES))
def test_every_number_and_code_on_the_page_comes_from_its_json_twin(
    client: TestClient, world: World, name: str
) -> None:
    path = PAGES[name](world)
    page = client.get(path)
    twin = client.get(twin_of(path))
    assert page.status_code == twin.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert twin.headers["content-type"].startswith("application/json")
    ints, strings = json_leaves(twin.json())
    shown, codes = data_values(page.text), code_texts(page.text)
    assert shown or codes, "the page shows nothing of its twin"
    assert set(shown) <= ints
    assert set(codes) <= strings
    assert f'href="{twin_of(path)}"' in page.text.replace("&amp;", "&")


def test_json_twin_path_rule_matches_urls_module(world: World) -> None:
    assert twin_of(urls.donation(world.earmarked)) == urls.donation(world.earmarked, json=True)
    assert twin_of(urls.home()) == urls.home(json=True)
    assert twin_of(urls.checkpoints()) == urls.checkpoints(json=True)
    assert twin_of(urls.search("x y")) == urls.search("x y", json=True)


def test_donation_page_shows_amount_status_what_it_funded_and_what_is_unspent(
    client: TestClient, world: World
) -> None:
    twin = client.get(urls.donation(world.earmarked, json=True)).json()
    text = visible_text(client.get(urls.donation(world.earmarked)).text)
    donation = twin["donation"]
    assert donation["amount"] == 10_000
    assert money(10_000, "CNY") in text
    for fact in (donation["id"], donation["charity_name"], donation["project_title"]):
        assert fact in text
    assert donation["donor_commitment"] in text
    checkpoint = donation["status"]["checkpoint"]
    # The first checkpoint that covers it (confirmed), not the latest one (unconfirmed).
    assert donation["status"]["state"] == "confirmed"
    assert checkpoint["index"] == 0
    english = _english(client, world.earmarked)
    assert "Anchored on the blockchain" in english
    assert f"Anchored in block {checkpoint['block_number']}" in english  # in the block details
    assert "Confirmed" in english
    assert checkpoint["tx_hash"] in text
    [funding] = donation["funded"]
    assert funding["amount"] == 6_000
    assert funding["disbursement"]["payee"] in text
    assert funding["disbursement"]["purpose"] in text
    [evidence] = funding["disbursement"]["evidence"]
    assert evidence["sha256"] in text
    assert evidence["url"].endswith(f"/api/v1/evidence/{evidence['sha256']}")
    assert donation["unspent"] == 4_000
    assert money(4_000, "CNY") in text
    assert twin["proof_url"] == urls.api_proof(world.earmarked)


def _english(client: TestClient, donation_id: str) -> str:
    return visible_text(client.get(urls.donation(donation_id) + "?lang=en").text)


def test_unanchored_donation_says_when_it_will_be_anchored(
    client: TestClient, world: World
) -> None:
    twin = client.get(urls.donation(world.unanchored, json=True)).json()
    status = twin["donation"]["status"]
    assert status["state"] == "recorded"
    assert status["checkpoint"] is None
    assert status["next_anchor_due"] is not None
    text = _english(client, world.unanchored)
    assert "Not anchored yet" in text
    assert "due by" in text


def test_refunded_donation_lists_its_refund_with_reason(client: TestClient, world: World) -> None:
    twin = client.get(urls.donation(world.refunded, json=True)).json()
    [refund] = twin["donation"]["refunds"]
    assert refund["amount"] == 800
    text = visible_text(client.get(urls.donation(world.refunded)).text)
    assert refund["reason"] in text
    assert money(800, "CNY") in text


def test_donation_page_carries_the_verifier_with_the_abi_selector(
    client: TestClient, world: World
) -> None:
    from web3 import Web3

    html = client.get(urls.donation(world.earmarked)).text
    selector = "0x" + Web3.keccak(text="checkpointOf(bytes32)")[:4].hex()
    assert f'data-selector="{selector}"' in html
    assert f'data-proof-url="{urls.api_proof(world.earmarked)}"' in html
    assert 'id="verify-button"' in html
    assert '<script src="/static/verify.js?v=' in html
    assert "cdn" not in html.lower()


def test_home_page_shows_totals_recent_donations_and_latest_checkpoint(
    client: TestClient, world: World
) -> None:
    twin = client.get(urls.home(json=True)).json()
    totals = twin["totals"]
    assert (totals["charities"], totals["projects"], totals["donations"]) == (1, 2, 4)
    assert totals["entries"] == world.store.size()
    [cny] = totals["balances"]
    assert cny["received"] == 10_000 + 50_000 + 8_800 + 2_500
    assert cny["refunded"] == 800
    assert cny["allocated"] == 26_000
    assert cny["disbursed"] == 26_000  # the voided one is not counted
    assert twin["recent_donations"][0]["id"] == world.unanchored
    assert twin["latest_checkpoint"]["index"] == 1
    text = visible_text(client.get("/").text)
    assert money(cny["received"], "CNY") in text


def test_charity_and_project_pages_list_projects_disbursements_and_donations(
    client: TestClient, world: World
) -> None:
    charity = client.get(urls.charity(world.charity_id, json=True)).json()
    assert {p["id"] for p in charity["charity"]["projects"]} == {
        world.project_id,
        world.other_project_id,
    }
    assert {d["id"] for d in charity["disbursements"]} == {
        world.disbursement_id,
        world.general_disbursement_id,
        world.voided_disbursement_id,
    }
    project = client.get(urls.project(world.project_id, json=True)).json()
    assert {d["id"] for d in project["recent_donations"]} == {world.earmarked, world.unanchored}
    assert {d["id"] for d in project["disbursements"]} == {
        world.disbursement_id,
        world.voided_disbursement_id,
    }
    html = client.get(urls.project(world.project_id)).text
    assert f'href="{urls.charity(world.charity_id)}"' in html


def test_disbursement_page_shows_evidence_links_and_the_donations_that_paid(
    client: TestClient, world: World
) -> None:
    twin = client.get(urls.disbursement(world.general_disbursement_id, json=True)).json()
    html = client.get(urls.disbursement(world.general_disbursement_id)).text
    public, private = twin["disbursement"]["evidence"]
    assert public["url"] in html
    assert private["url"] is None
    assert private["sha256"] in html  # the hash is public even when the file is not
    assert f'href="{urls.donation(world.general)}"' in html


def test_checkpoints_page_verifies_consistency_between_consecutive_checkpoints(
    client: TestClient, world: World
) -> None:
    twin = client.get(urls.checkpoints(json=True)).json()
    assert twin["count"] == 2
    newest, oldest = twin["data"]
    assert newest["checkpoint"]["index"] == 1
    assert newest["consistency"]["verified"] is True
    assert newest["consistency"]["first_size"] == 6
    assert newest["consistency"]["proof"]
    assert oldest["consistency"] is None
    text = visible_text(client.get(urls.checkpoints() + "?lang=en").text)
    assert "the consistency proof verifies" in text


def test_checkpoints_page_flags_a_checkpoint_that_does_not_extend_the_previous(
    sqlite_world: World, sqlite_client: TestClient
) -> None:
    from tests.explorer.conftest import record_checkpoint

    record_checkpoint(sqlite_world.store, 2, sqlite_world.store.size(), root=b"\x01" * 32)
    twin = sqlite_client.get(urls.checkpoints(json=True)).json()
    bad = twin["data"][0]["consistency"]
    assert bad["verified"] is False
    assert bad["problem"]
    html = sqlite_client.get(urls.checkpoints()).text
    assert 'class="check fail"' in html


def test_checkpoints_page_pages_through_older_checkpoints(
    sqlite_world: World, sqlite_client: TestClient
) -> None:
    from explorer.views import PublicViews

    views = PublicViews(store=sqlite_world.store, public_url="http://testserver")
    page = views.checkpoints_page(limit=1)
    assert [row.checkpoint.index for row in page.data] == [1]
    assert page.data[0].consistency is not None
    assert page.older == 1
    older = sqlite_client.get(urls.checkpoints(json=True, before=page.older)).json()
    assert [row["checkpoint"]["index"] for row in older["data"]] == [0]
    assert older["older"] is None


def test_entry_page_shows_the_canonical_json_exactly_as_hashed(
    client: TestClient, world: World
) -> None:
    from ledger import merkle
    from ledger.entries import to_hex

    leaf = next(world.store.leaves(3, 4))
    twin = client.get(urls.entry(3, json=True)).json()
    assert twin["canonical"].encode("utf-8") == leaf
    assert twin["leaf_hash"] == twin["stored_leaf_hash"] == to_hex(merkle.leaf_hash(leaf))
    # The first checkpoint covering it (when it went on chain), settled once confirmed.
    assert twin["checkpoint"]["index"] == 0
    assert {r["kind"] for r in twin["refs"]} >= {"donation", "charity", "project"}
    assert (twin["previous"], twin["next"]) == (2, 4)
    html = client.get(urls.entry(3)).text
    assert twin["canonical"] in visible_text(html)


def test_entry_page_of_the_last_entry_has_no_next_and_no_checkpoint(
    client: TestClient, world: World
) -> None:
    last = world.store.size() - 1
    twin = client.get(urls.entry(last, json=True)).json()
    assert twin["next"] is None
    assert twin["checkpoint"] is None
    assert twin["next_anchor_due"] is not None


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("earmarked", "donation"),
        ("charity_id", "charity"),
        ("project_id", "project"),
        ("disbursement_id", "disbursement"),
        ("allocation_id", "allocation"),
    ],
)
def test_search_finds_each_kind_of_id(
    client: TestClient, world: World, query: str, kind: str
) -> None:
    q = getattr(world, query)
    results = client.get(urls.search(q, json=True)).json()["results"]
    assert [(r["kind"], r["id"]) for r in results] == [(kind, q)]


def test_search_finds_an_entry_by_seq_and_a_checkpoint_by_transaction_hash(
    client: TestClient, world: World
) -> None:
    from ledger.entries import to_hex

    by_seq = client.get(urls.search("7", json=True)).json()["results"]
    assert by_seq == [{"kind": "entry", "id": "7", "label": "#7", "url": urls.entry(7)}]
    tx = to_hex(world.checkpoints[0].tx_hash)
    by_tx = client.get(urls.search(tx.upper().replace("0X", "0x"), json=True)).json()["results"]
    assert [(r["kind"], r["id"]) for r in by_tx] == [("checkpoint", "0")]


def test_search_finds_charities_and_projects_by_name_and_nothing_by_wildcards(
    client: TestClient, world: World
) -> None:
    results = client.get(urls.search("冬季", json=True)).json()["results"]
    assert [(r["kind"], r["id"]) for r in results] == [("project", world.other_project_id)]
    assert client.get(urls.search("%", json=True)).json()["results"] == []
    assert client.get(urls.search("_", json=True)).json()["results"] == []
    assert client.get(urls.search("", json=True)).json() == {"q": "", "results": []}
    unknown = client.get(urls.search("dn_doesnotexist", json=True)).json()["results"]
    assert unknown == []


def test_every_page_answers_only_get_and_head(client: TestClient, world: World) -> None:
    path = urls.donation(world.earmarked)
    assert client.head(path).status_code == 200
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert client.request(method, path).status_code == 405


def test_pages_send_a_strict_content_security_policy(client: TestClient, world: World) -> None:
    response = client.get(urls.donation(world.earmarked))
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_static_files_are_served_with_the_versions_the_pages_name(
    client: TestClient, world: World
) -> None:
    import re

    html = client.get(urls.donation(world.earmarked)).text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {a.split("?")[0] for a in assets} == {
        "/static/explorer.css",
        "/static/sha256.js",
        "/static/vendor/ed25519.js",
        "/static/eip712.js",  # ADR 0037
        "/static/proof.js",
        "/static/signed-note.js",
        "/static/messages.js",
        "/static/verify.js",
        "/static/history.js",
        "/static/verify-page.js",
        "/static/history-page.js",
    }
    for asset in assets:
        assert client.get(asset).status_code == 200


def test_a_static_file_is_kept_a_year_only_under_the_version_of_its_bytes(
    client: TestClient, world: World
) -> None:
    import hashlib
    import re

    from explorer.assets import STATIC

    html = client.get(urls.donation(world.earmarked)).text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    for asset in assets:
        path, _, version = asset.partition("?v=")
        body = (STATIC / path.removeprefix("/static/")).read_bytes()
        assert version == hashlib.sha256(body).hexdigest()[:12]
        kept = client.get(asset)
        assert (kept.content, kept.headers["cache-control"]) == (body, IMMUTABLE)
        again = client.get(asset, headers={"If-None-Match": kept.headers["etag"]})
        assert (again.status_code, again.headers["cache-control"]) == (304, IMMUTABLE)
        # The same bytes under a version an older page named, or none: ask every time.
        for other in (f"{path}?v=000000000000", path, f"{asset}&v={version}"):
            answer = client.get(other)
            assert (answer.status_code, answer.content) == (200, body)
            assert answer.headers["cache-control"] == "no-cache"
    missing = client.get("/static/missing.js?v=0")
    assert missing.status_code == 404
    assert "immutable" not in missing.headers["cache-control"]


def test_the_home_page_counts_link_to_the_indexes_of_charities_and_projects(
    client: TestClient, world: World
) -> None:
    home = client.get(urls.home()).text
    assert f'<a href="{urls.charities()}"><data value="1">' in home
    assert f'<a href="{urls.projects()}"><data value="2">' in home
    charities = client.get(urls.charities(json=True)).json()
    assert (charities["count"], charities["page"], charities["pages"]) == (1, 1, 1)
    [charity] = charities["data"]
    assert (charity["id"], charity["projects"], charity["donations"]) == (world.charity_id, 2, 4)
    assert f'href="{urls.charity(world.charity_id)}"' in client.get(urls.charities()).text
    projects = client.get(urls.projects(json=True)).json()
    assert [p["id"] for p in projects["data"]] == [world.project_id, world.other_project_id]
    # Received: donated to it and not refunded (the other project's 8,800 less 800).
    assert [p["received"] for p in projects["data"]] == [10_000 + 2_500, 8_000]
    page = client.get(urls.projects()).text
    for p in projects["data"]:
        assert f'href="{urls.project(p["id"])}"' in page


@pytest.mark.parametrize("path", ["/charities", "/projects"])
@pytest.mark.parametrize("page", ["2", "0", "-1", "x", "1000001"])
def test_an_index_page_past_the_last_or_not_a_number_is_not_found(
    client: TestClient, world: World, path: str, page: str
) -> None:
    for twin in (path, path + ".json"):
        assert client.get(twin, params={"page": page}).status_code == 404


def test_the_indexes_page_through_every_row_once(world: World) -> None:
    from explorer.views import PublicViews
    from ledger.errors import NotFoundError

    views = PublicViews(world.store, "http://testserver")
    first, second = views.projects_page(1, limit=1), views.projects_page(2, limit=1)
    assert (first.pages, second.pages, first.count) == (2, 2, 2)
    assert [p.id for p in first.data + second.data] == [world.project_id, world.other_project_id]
    with pytest.raises(NotFoundError):
        views.projects_page(3, limit=1)
    assert urls.projects(page=2) == "/projects?page=2"
    assert urls.charities(json=True, page=1) == "/charities.json"


def test_disbursement_cards_show_the_date_they_were_recorded(
    client: TestClient, world: World
) -> None:
    twin = client.get(urls.charity(world.charity_id, json=True)).json()
    page = client.get(urls.charity(world.charity_id)).text
    for card in twin["disbursements"]:
        entry = client.get(urls.entry(card["seq"], json=True)).json()
        assert card["at"] == entry["at"]
        assert f'<time datetime="{iso(card["at"])}"' in page


def test_search_finds_disbursements_by_payee_and_ids_in_any_letter_case(
    client: TestClient, world: World
) -> None:
    results = client.get(urls.search("服装", json=True)).json()["results"]
    assert [(r["kind"], r["id"]) for r in results] == [
        ("disbursement", world.general_disbursement_id)
    ]
    for q in (world.earmarked.upper(), world.earmarked.title(), f"  {world.charity_id.upper()} "):
        results = client.get(urls.search(q, json=True)).json()["results"]
        assert [r["id"] for r in results] == [q.strip().lower()]


def test_search_finds_ids_the_journal_may_hold_in_their_own_letter_case(
    client: TestClient, world: World
) -> None:
    # The platform makes lowercase ids, but the journal holds any [A-Za-z0-9] id, case
    # and all: two donations whose ids differ only in case are two donations.
    mixed, lower = "dn_MixedCase7", "dn_mixedcase7"
    world.store.append(
        [
            f.donation(world.charity_id, None, 100, donation_id=mixed),
            f.donation(world.charity_id, None, 200, donation_id=lower),
        ]
    )

    def found(q: str) -> list[str]:
        return [r["id"] for r in client.get(urls.search(q, json=True)).json()["results"]]

    assert found(mixed) == [mixed]
    assert found(lower) == [lower]
    assert found("DN_MixedCase7") == [mixed]  # the prefix in capitals
    assert found("DN_MIXEDCASE7") == [lower]  # retyped in capitals: the platform's form
    longest = "dn_" + "Z" * ID_MAX_LENGTH
    world.store.append([f.donation(world.charity_id, None, 300, donation_id=longest)])
    assert found(longest) == [longest]
    assert found(longest + "Z") == []  # no id is that long: a name search finds nothing


def test_the_donation_page_speaks_plainly_and_folds_the_technical_values(
    client: TestClient, world: World
) -> None:
    twin = client.get(urls.donation(world.earmarked, json=True)).json()["donation"]
    assert twin["channel"] == "card"
    html = client.get(urls.donation(world.earmarked)).text
    shown, _, folded = html.partition('<details class="technical"')
    assert "银行卡" in visible_text(shown)
    assert "收据指纹" in visible_text(folded)
    assert "捐赠人承诺值" not in html
    assert twin["donor_commitment"] not in shown
    assert twin["donor_commitment"] in folded
    assert ">card<" in folded
    assert ">card<" not in shown
    # Where the money went comes before the proof, whose steps are folded.
    assert html.index('id="funded-heading"') < html.index('id="verify"')
    assert html.index('<details class="proof-details"') < html.index('id="verify-steps"')
    english = visible_text(client.get(urls.donation(world.earmarked) + "?lang=en").text)
    assert "Bank card" in english
    assert "Receipt fingerprint" in english


def test_a_refunded_donation_says_how_much_when_and_what_is_left(
    client: TestClient, world: World
) -> None:
    twin = client.get(urls.donation(world.refunded, json=True)).json()["donation"]
    [refund] = twin["refunds"]
    text = visible_text(client.get(urls.donation(world.refunded)).text)
    assert "这笔捐款已部分退款" in text
    assert f"已退款 {money(800, 'CNY')}" in " ".join(text.split())
    assert "退款时间" in text
    assert f"留在慈善组织的金额 {money(8_000, 'CNY')}" in " ".join(text.split())
    assert refund["reason"] in text
