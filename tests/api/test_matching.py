"""Matching funds (配捐, ADR 0040) through the API: every rule of a pool, all-or-nothing,
refunds, refusals, and a crowd racing for a small pool."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ledger.store.tables import MATCH
from tests.api.conftest import Api, ApiFactory, donation_body, new_key

PROBLEM_JSON = "application/problem+json"


def iso(moment: datetime) -> str:
    return moment.isoformat()


class Giving:
    """A charity with two projects, a matcher, and helpers to open pools and donate."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.charity_id, self.auth = api.register_charity()
        self.project_id = api.open_project(self.charity_id, self.auth)
        self.other_project = api.open_project(self.charity_id, self.auth)
        response = api.client.post(
            "/api/v1/matchers",
            json={"name": "某某科技有限公司", "registration_no": "91110000MA01234567"},
            headers=api.platform,
        )
        assert response.status_code == 201, response.text
        self.matcher_id = response.json()["id"]

    def open_pool(self, **rules: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        body = {
            "title": "九九公益日配捐",
            "currency": "CNY",
            "total": 1_000_000,
            "ratio_percent": 100,
            "cap_per_donation": 5_000,
            "cap_per_payer_per_day": 100_000,
            "min_interval_s": 0,
            "starts_at": iso(now - timedelta(hours=1)),
            "ends_at": iso(now + timedelta(hours=1)),
            "project_ids": [self.project_id],
        } | rules
        response = self.api.client.post(
            f"/api/v1/matchers/{self.matcher_id}/pools", json=body, headers=self.api.platform
        )
        assert response.status_code == 201, response.text
        pool: dict[str, Any] = response.json()
        return pool

    def donate(
        self,
        amount: int = 10_000,
        payer: str | None = "wx-openid-1",
        project_id: str | None = "",
        paid_at: datetime | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if payer is not None:
            body["payer_ref"] = payer
        if paid_at is not None:
            body["paid_at"] = iso(paid_at)
        project = self.project_id if project_id == "" else project_id
        return self.api.donate(self.charity_id, project, amount, **body)

    def pool(self, pool_id: str) -> dict[str, Any]:
        response = self.api.client.get(f"/api/v1/pools/{pool_id}")
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    def donation(self, donation_id: str) -> dict[str, Any]:
        response = self.api.client.get(f"/api/v1/donations/{donation_id}")
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view


@pytest.fixture
def giving(api: Api) -> Giving:
    return Giving(api)


def amounts(answer: dict[str, Any]) -> list[int]:
    return [m["amount"] for m in answer["matches"]]


def test_a_donation_is_matched_by_the_ratio_up_to_the_cap_per_donation(giving: Giving) -> None:
    pool = giving.open_pool(ratio_percent=50, cap_per_donation=3_000)

    small = giving.donate(2_000, payer="a")
    large = giving.donate(10_000, payer="b")

    assert amounts(small) == [1_000]  # 50 %
    assert amounts(large) == [3_000]  # 50 % is 5,000: the cap per donation is 3,000
    view = giving.donation(small["id"])
    [match] = view["matches"]
    assert match["matcher_name"] == "某某科技有限公司"
    assert match["pool_id"] == pool["id"]
    assert match["amount"] == 1_000
    assert not match["reversed"]
    assert "match.made" in [e["kind"] for e in view["timeline"]]
    page = giving.pool(pool["id"])
    assert page["pool"]["spent"] == 4_000
    assert page["pool"]["matches"] == 2
    assert page["pool"]["left"] == 1_000_000 - 4_000
    assert {m["donation_id"] for m in page["recent_matches"]} == {small["id"], large["id"]}


def test_matched_money_is_income_of_the_donations_project(giving: Giving) -> None:
    giving.open_pool()
    answer = giving.donate(10_000)
    money = giving.donation(answer["matches"][0]["id"])
    assert money["amount"] == 5_000
    assert money["project_id"] == giving.project_id
    assert money["channel"] == "match"
    assert money["donor_commitment"] is None
    assert money["matched_by"]["donation_id"] == answer["id"]
    project = giving.api.client.get(f"/api/v1/projects/{giving.project_id}").json()
    [balance] = project["balances"]
    assert balance["received"] == 15_000


def test_a_payer_is_matched_at_most_the_cap_per_day_and_never_in_part(giving: Giving) -> None:
    giving.open_pool(cap_per_payer_per_day=8_000)

    first = giving.donate(10_000, payer="same")
    second = giving.donate(10_000, payer="same")  # 5,000 more would make 10,000 > 8,000
    small = giving.donate(3_000, payer="same")  # 3,000 more makes 8,000: allowed
    other = giving.donate(10_000, payer="other")

    assert amounts(first) == [5_000]
    assert amounts(second) == []
    assert amounts(small) == [3_000]
    assert amounts(other) == [5_000]


def test_a_pool_that_cannot_cover_a_whole_match_makes_none_and_never_overspends(
    giving: Giving,
) -> None:
    pool = giving.open_pool(total=12_000)

    answers = [giving.donate(10_000, payer=f"p{i}") for i in range(3)]
    tail = giving.donate(2_000, payer="p3")

    assert [amounts(a) for a in answers] == [[5_000], [5_000], []]  # 2,000 left: no part
    assert amounts(tail) == [2_000]  # a whole match still fits
    assert giving.pool(pool["id"])["pool"]["spent"] == 12_000
    assert amounts(giving.donate(2, payer="p4")) == []  # 1 left, the pool is spent


def test_donations_outside_the_window_are_not_matched(giving: Giving) -> None:
    now = datetime.now(UTC)
    giving.open_pool(starts_at=iso(now + timedelta(hours=1)), ends_at=iso(now + timedelta(hours=2)))
    giving.open_pool(starts_at=iso(now - timedelta(hours=2)), ends_at=iso(now - timedelta(hours=1)))
    assert amounts(giving.donate()) == []


def test_donations_to_a_project_the_pool_does_not_cover_are_not_matched(giving: Giving) -> None:
    giving.open_pool()
    assert amounts(giving.donate(project_id=giving.other_project)) == []
    assert amounts(giving.donate(project_id=None)) == []  # the general fund


def test_a_payer_faster_than_the_pools_interval_is_not_matched(giving: Giving) -> None:
    giving.open_pool(min_interval_s=15)
    now = datetime.now(UTC)

    first = giving.donate(payer="bot", paid_at=now)
    fast = giving.donate(payer="bot", paid_at=now + timedelta(seconds=5))
    later = giving.donate(payer="bot", paid_at=now + timedelta(seconds=20))
    human = giving.donate(payer="human", paid_at=now + timedelta(seconds=5))

    assert [amounts(a) for a in (first, fast, later, human)] == [[5_000], [], [5_000], [5_000]]


def test_without_a_payer_reference_a_donation_is_not_matched(giving: Giving) -> None:
    giving.open_pool()
    assert amounts(giving.donate(payer=None)) == []


def test_each_open_pool_matches_on_its_own_and_a_payer_has_one_hash_per_pool(
    giving: Giving,
) -> None:
    first = giving.open_pool(cap_per_donation=1_000)
    second = giving.open_pool(cap_per_donation=2_000)
    answer = giving.donate(payer="wx-1")
    again = giving.donate(payer="wx-1")
    assert sorted(amounts(answer)) == [1_000, 2_000]
    with giving.api.store.engine.connect() as connection:
        rows = connection.execute(select(MATCH.c.pool_id, MATCH.c.payer_hash)).all()
    hashes = {pool: {h for p, h in rows if p == pool} for pool in (first["id"], second["id"])}
    assert all(len(h) == 1 for h in hashes.values())  # the same payer within a pool
    assert not hashes[first["id"]] & hashes[second["id"]]  # unlinkable across pools
    assert "wx-1" not in str(rows)
    assert len(again["matches"]) == 2


def test_a_closed_pool_matches_nothing(giving: Giving) -> None:
    pool = giving.open_pool()
    response = giving.api.client.post(
        f"/api/v1/pools/{pool['id']}/close",
        json={"reason": "活动结束"},
        headers=giving.api.platform,
    )
    assert response.status_code == 200, response.text
    assert response.json()["closed"] is True
    assert amounts(giving.donate()) == []
    again = giving.api.client.post(
        f"/api/v1/pools/{pool['id']}/close", json={"reason": "again"}, headers=giving.api.platform
    )
    assert again.status_code == 422
    assert again.headers["content-type"] == PROBLEM_JSON
    assert again.json()["field"] == "pool_id"


def test_refunding_a_matched_donation_reverses_its_match_back_into_the_pool(
    giving: Giving,
) -> None:
    pool = giving.open_pool()
    answer = giving.donate(10_000)
    # Matched money is not refunded to a donor: it goes back to the pool.
    refused = giving.api.client.post(
        f"/api/v1/donations/{answer['matches'][0]['id']}/refunds",
        json={"amount": 1, "reason": "no"},
        headers=giving.api.platform | new_key(),
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert "match.reversed" in refused.json()["detail"]
    response = giving.api.client.post(
        f"/api/v1/donations/{answer['id']}/refunds",
        json={"amount": 10_000, "reason": "捐赠人申请退款"},
        headers=giving.api.platform | new_key(),
    )
    assert response.status_code == 201, response.text
    view = giving.donation(answer["id"])
    assert view["matches"][0]["reversed"] is True
    page = giving.pool(pool["id"])["pool"]
    assert page["spent"] == 0
    assert page["matches"] == 0
    money = giving.donation(answer["matches"][0]["id"])
    assert money["refunded"] == money["amount"] == 5_000


@pytest.mark.parametrize(
    ("rules", "status", "field"),
    [
        ({"project_ids": ["pr_doesnotexist"]}, 422, "project_ids[0]"),
        ({"project_ids": ["not an id"]}, 422, "project_ids[0]"),
        ({"project_ids": []}, 422, "project_ids"),
        ({"ratio_percent": 0}, 422, "ratio_percent"),
        ({"total": 0}, 422, "total"),
        ({"cap_per_donation": 2_000_000}, 422, "cap_per_donation"),
        ({"starts_at": "2026-09-07T00:00:00"}, 422, "starts_at"),
        ({"ends_at": "2020-01-01T00:00:00Z"}, 422, "ends_at"),
        ({"surprise": 1}, 422, "surprise"),
    ],
)
def test_a_pool_breaking_a_rule_is_refused_naming_the_field_and_nothing_is_stored(
    giving: Giving, rules: dict[str, Any], status: int, field: str
) -> None:
    size = giving.api.store.size()
    now = datetime.now(UTC)
    body = {
        "title": "配捐",
        "currency": "CNY",
        "total": 1_000_000,
        "cap_per_donation": 5_000,
        "cap_per_payer_per_day": 10_000,
        "starts_at": iso(now),
        "ends_at": iso(now + timedelta(days=1)),
        "project_ids": [giving.project_id],
    } | rules
    response = giving.api.client.post(
        f"/api/v1/matchers/{giving.matcher_id}/pools", json=body, headers=giving.api.platform
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["field"] == field
    assert giving.api.store.size() == size


def test_only_the_platform_registers_matchers_and_opens_or_closes_pools(giving: Giving) -> None:
    pool = giving.open_pool()
    calls = [
        ("/api/v1/matchers", {"name": "x", "registration_no": "1"}),
        (f"/api/v1/matchers/{giving.matcher_id}/pools", {}),
        (f"/api/v1/pools/{pool['id']}/close", {"reason": "x"}),
    ]
    for path, body in calls:
        for headers in ({}, giving.auth):
            response = giving.api.client.post(path, json=body, headers=headers)
            assert response.status_code in (401, 403), (path, response.text)
            assert response.headers["content-type"] == PROBLEM_JSON


def test_unknown_matchers_and_pools_are_not_found(giving: Giving) -> None:
    missing = giving.api.client.get("/api/v1/pools/mp_nosuchpool")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_JSON
    now = datetime.now(UTC)
    response = giving.api.client.post(
        "/api/v1/matchers/mt_nosuchmatcher/pools",
        json={
            "title": "配捐",
            "currency": "CNY",
            "total": 1_000,
            "cap_per_donation": 500,
            "cap_per_payer_per_day": 1_000,
            "starts_at": iso(now),
            "ends_at": iso(now + timedelta(days=1)),
            "project_ids": [giving.project_id],
        },
        headers=giving.api.platform,
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_a_payer_reference_too_long_is_refused(giving: Giving) -> None:
    body = donation_body(giving.charity_id, giving.project_id) | {"payer_ref": "x" * 201}
    response = giving.api.client.post(
        "/api/v1/donations", json=body, headers=giving.api.platform | new_key()
    )
    assert response.status_code == 422
    assert response.json()["field"] == "payer_ref"


@pytest.mark.postgres
def test_a_crowd_of_donations_never_overspends_a_small_pool(
    make_api: ApiFactory, pg_database: str
) -> None:
    api = make_api(pg_database)
    giving = Giving(api)
    pool = giving.open_pool(total=10 * 5_000 + 4_999)  # ten whole matches, and a part

    def donate(number: int) -> dict[str, Any]:
        return giving.donate(10_000, payer=f"crowd-{number}-{uuid.uuid4().hex[:6]}")

    with ThreadPoolExecutor(64) as threads:
        answers = list(threads.map(donate, range(64)))

    matched = [a for a in answers if a["matches"]]
    assert len(matched) == 10
    assert all(amounts(a) == [5_000] for a in matched)
    page = giving.pool(pool["id"])["pool"]
    assert page["spent"] == 50_000 <= page["total"]
    assert api.store.verify().ok
