"""Official e-receipts (ADR 0041): attached by the charity that received the donation, shown
to its donor with the receipt code, never to anyone else."""

from __future__ import annotations

from typing import Any

import pytest

from api.official_receipts import REVEAL_BURST, reveal_key
from tests.api.conftest import Api, bearer

V1 = "/api/v1"
RECEIPT = {"code": "11060126", "number": "0000123456", "check_code": "8A3F2C"}


def url(donation_id: str, tail: str = "") -> str:
    return f"{V1}/donations/{donation_id}/official-receipt{tail}"


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    charity_id, owner = api.register_charity("乡村学校基金会")
    _, other = api.register_charity("另一家基金会")
    project_id = api.open_project(charity_id, owner)
    donation = api.donate(charity_id, project_id)
    return {
        "owner": owner,
        "other": other,
        "donation_id": donation["id"],
        "secret": donation["receipt"]["secret"],
    }


def test_the_charity_attaches_it_and_reads_it_back(api: Api, world: dict[str, Any]) -> None:
    answer = api.client.put(url(world["donation_id"]), json=RECEIPT, headers=world["owner"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert {k: body[k] for k in RECEIPT} == RECEIPT
    assert (body["version"], body["reason"], body["earlier"]) == (1, None, [])
    assert body["attached_by"].startswith("charity:")
    read = api.client.get(url(world["donation_id"]), headers=world["owner"])
    assert read.status_code == 200
    assert read.json() == body
    platform = api.client.get(url(world["donation_id"]), headers=api.platform)
    assert platform.json() == body


def test_the_same_receipt_again_changes_nothing_and_a_correction_needs_its_reason(
    api: Api, world: dict[str, Any]
) -> None:
    donation_id, owner = world["donation_id"], world["owner"]
    api.client.put(url(donation_id), json=RECEIPT, headers=owner)
    again = api.client.put(url(donation_id), json=RECEIPT | {"reason": "again"}, headers=owner)
    assert (again.status_code, again.json()["version"]) == (200, 1)
    fixed = RECEIPT | {"check_code": "8A3F2D"}
    before = api.stored()
    refused = api.client.put(url(donation_id), json=fixed, headers=owner)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["code"], refused.json()["field"]) == ("reason_required", "reason")
    assert api.stored() == before
    corrected = api.client.put(
        url(donation_id), json=fixed | {"reason": "check code mistyped"}, headers=owner
    )
    assert corrected.status_code == 200
    body = corrected.json()
    assert (body["version"], body["check_code"], body["reason"]) == (
        2,
        "8A3F2D",
        "check code mistyped",
    )
    assert [e["check_code"] for e in body["earlier"]] == ["8A3F2C"]


def test_a_donation_takes_ten_versions_at_most(api: Api, world: dict[str, Any]) -> None:
    donation_id, owner = world["donation_id"], world["owner"]
    for n in range(10):
        number = f"{n:010d}"
        answer = api.client.put(
            url(donation_id), json=RECEIPT | {"number": number, "reason": "fix"}, headers=owner
        )
        assert answer.status_code == 200, answer.text
    before = api.stored()
    over = api.client.put(
        url(donation_id), json=RECEIPT | {"number": "0000000099", "reason": "fix"}, headers=owner
    )
    assert (over.status_code, over.json()["code"]) == (409, "too_many_corrections")
    assert api.stored() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "1106012"}, "code"),
        ({"code": "110601266"}, "code"),
        ({"code": "１１０６０１２６"}, "code"),  # full-width digits
        ({"code": 11060126}, "code"),
        ({"number": "000012345"}, "number"),
        ({"number": "00001234567"}, "number"),
        ({"number": "000012345a"}, "number"),
        ({"number": "0000123456\n"}, "number"),
        ({"number": "0000\x0023456"}, "number"),
        ({"check_code": "8A3F2"}, "check_code"),
        ({"check_code": "8A3F2C1"}, "check_code"),
        ({"check_code": "8A-F2C"}, "check_code"),
        ({"check_code": "8A3F2\x00"}, "check_code"),
        ({"check_code": "8A3F2Ç"}, "check_code"),
        ({"check_code": "x" * 60_000}, "check_code"),
        ({"reason": "a\x00b"}, "reason"),
        ({"reason": "line\nbreak"}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "r" * 201}, "reason"),
        ({"code": None}, "code"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_bad_receipt_is_refused_naming_its_field_and_nothing_is_stored(
    api: Api, world: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    before = api.stored()
    answer = api.client.put(
        url(world["donation_id"]), json=RECEIPT | change, headers=world["owner"]
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == field, answer.text
    assert api.stored() == before


def test_a_missing_field_is_named(api: Api, world: dict[str, Any]) -> None:
    body = {k: v for k, v in RECEIPT.items() if k != "check_code"}
    answer = api.client.put(url(world["donation_id"]), json=body, headers=world["owner"])
    assert (answer.status_code, answer.json()["field"]) == (422, "check_code")


def test_a_huge_body_is_refused_before_it_is_read(api: Api, world: dict[str, Any]) -> None:
    before = api.stored()
    answer = api.client.put(
        url(world["donation_id"]),
        content=b'{"code": "' + b"1" * (2 << 20) + b'"}',
        headers=world["owner"] | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert api.stored() == before


@pytest.mark.parametrize("who", ["other", "auditor", "nobody", "invalid"])
def test_only_the_charity_that_received_it_or_the_platform_may_attach_or_read(
    api: Api, world: dict[str, Any], who: str
) -> None:
    api.client.put(url(world["donation_id"]), json=RECEIPT, headers=world["owner"])
    headers = {
        "other": world["other"],
        "auditor": bearer(api.services.keys.issue("auditor", "test")),
        "nobody": {},
        "invalid": bearer("sk_" + "0" * 32),
    }[who]
    expected = {"other": 404, "auditor": 403, "nobody": 401, "invalid": 401}[who]
    before = api.stored()
    for bad_body in (RECEIPT | {"number": "9999999999", "reason": "x"}, {"code": "bad"}):
        written = api.client.put(url(world["donation_id"]), json=bad_body, headers=headers)
        assert written.status_code == expected, written.text
        assert "0000123456" not in written.text
    read = api.client.get(url(world["donation_id"]), headers=headers)
    assert read.status_code == expected
    assert "0000123456" not in read.text
    assert api.stored() == before


@pytest.mark.parametrize("donation_id", ["dn_doesnotexist0000", "dn_%00x", "dn_" + "x" * 5000])
def test_an_unknown_donation_is_not_found(
    api: Api, world: dict[str, Any], donation_id: str
) -> None:
    before = api.stored()
    for headers in (world["owner"], api.platform):
        answer = api.client.put(url(donation_id), json=RECEIPT, headers=headers)
        assert answer.status_code == 404, answer.text
        assert api.client.get(url(donation_id), headers=headers).status_code == 404
    assert api.stored() == before


def key_of(secret: str, donation_id: str) -> dict[str, str]:
    """The body the donor's page sends: a key derived from the receipt code, not the code."""
    return {"reveal_key": reveal_key(bytes.fromhex(secret), donation_id).hex()}


def test_the_donor_sees_it_with_a_key_from_the_receipt_code_and_no_one_without(
    api: Api, world: dict[str, Any]
) -> None:
    donation_id, secret = world["donation_id"], world["secret"]
    reveal = url(donation_id, "/reveal")
    none_yet = api.client.post(reveal, json=key_of(secret, donation_id))
    assert none_yet.status_code == 404
    api.client.put(url(donation_id), json=RECEIPT, headers=world["owner"])
    mine = api.client.post(reveal, json=key_of(secret, donation_id))
    assert mine.status_code == 200, mine.text
    assert mine.headers["cache-control"] == "no-store"
    assert {k: mine.json()[k] for k in RECEIPT} == RECEIPT
    assert mine.json()["corrected"] is False
    wrong = "0" * 32 if secret != "0" * 32 else "1" * 32
    for body in (
        key_of(wrong, donation_id),
        key_of(secret, "dn_another"),
        {"reveal_key": secret * 2},  # the code itself is not the key
    ):
        not_mine = api.client.post(reveal, json=body)
        assert not_mine.status_code == 404
        assert not_mine.json()["detail"] == none_yet.json()["detail"]  # no oracle
    good = key_of(secret, donation_id)["reveal_key"]
    for body in (
        {"reveal_key": good.upper()},
        {"reveal_key": good + "\x00"},
        {"reveal_key": good[:-1]},
        {"receipt_secret": secret},
        {},
    ):
        bad = api.client.post(reveal, json=body)
        assert bad.status_code == 422, bad.text
        assert "0000123456" not in bad.text
    unknown = api.client.post(url("dn_nosuchdonation", "/reveal"), json={"reveal_key": good})
    assert unknown.status_code == 404


def test_a_client_asking_too_often_is_refused(api: Api, world: dict[str, Any]) -> None:
    body = key_of(world["secret"], world["donation_id"])
    statuses = [
        api.client.post(url(world["donation_id"], "/reveal"), json=body).status_code
        for _ in range(REVEAL_BURST + 2)
    ]
    assert statuses[:REVEAL_BURST] == [404] * REVEAL_BURST
    assert statuses[-1] == 429
    refused = api.client.post(url(world["donation_id"], "/reveal"), json=body)
    assert int(refused.headers["retry-after"]) >= 1


def test_the_receipt_stays_out_of_the_journal_and_the_public_pages(
    api: Api, world: dict[str, Any]
) -> None:
    donation_id = world["donation_id"]
    before = api.store.size()
    api.client.put(url(donation_id), json=RECEIPT, headers=world["owner"])
    assert api.store.size() == before  # nothing journaled
    api.anchor()
    for path in (
        f"/donations/{donation_id}",
        f"/donations/{donation_id}.json",
        f"{V1}/donations/{donation_id}",
        f"{V1}/donations/{donation_id}/proof",
        f"{V1}/entries?limit=10000",
    ):
        answer = api.client.get(path)
        assert answer.status_code == 200, path
        for value in RECEIPT.values():
            assert value not in answer.text, (path, value)
