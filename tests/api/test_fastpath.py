"""The donation fast path (``api/fastpath.py``) answers exactly as the route would.

Every case runs twice, on an app with the fast path and on one without it
(``API_DONATION_FAST_PATH=false``), each on its own journal: the status, the problem's
``code`` and ``field``, the headers a client relies on and the shape of the answer must be
the same. The well-formed donation must really be answered by the fast path (else these
tests would compare the route with itself).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.fastpath import DonationFastPath
from tests.api.conftest import PLATFORM_TOKEN, Api, ApiFactory, bearer, donation_body, new_key

V1 = "/api/v1"


@dataclass
class Side:
    api: Api
    charity_id: str
    project_id: str
    charity_key: dict[str, str]

    def fast_path(self) -> DonationFastPath | None:
        layer: Any = self.api.client.app
        layer = getattr(layer, "middleware_stack", None) or layer
        while layer is not None:
            if isinstance(layer, DonationFastPath):
                return layer
            layer = getattr(layer, "app", None)
        return None


def side(make_api: ApiFactory, database_url: str, **settings: Any) -> Side:
    api = make_api(database_url, **settings)
    charity_id, key = api.register_charity()
    project_id = api.open_project(charity_id, key)
    api.client.get("/healthz")  # builds the middleware stack
    return Side(api, charity_id, project_id, key)


Call = Callable[[Side], tuple[dict[str, str], bytes]]
"""A request: its headers and its body, for one side's charity."""


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def donation(**change: Any) -> Call:
    def call(s: Side) -> tuple[dict[str, str], bytes]:
        body = donation_body(s.charity_id, s.project_id) | change
        return bearer(PLATFORM_TOKEN) | new_key(), _json(body)

    return call


def raw(headers: dict[str, str], body: bytes) -> Call:
    return lambda s: (headers, body)


def ahead(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


CASES: dict[str, Call] = {
    "well formed": donation(),
    "general fund": donation(project_id=None),
    "unknown charity": donation(charity_id="ch_doesnotexist0000000"),
    "another charity's project": donation(project_id="pr_doesnotexist0000000"),
    "paid in the future": donation(paid_at=ahead(60)),
    "a test currency": donation(currency="XTS"),
    "amount zero": donation(amount=0),
    "amount too big": donation(amount=10**13),
    "bidi override in the name": donation(donor={"name": "王\u202e小明"}),
    "unknown field": donation(tip=1),
    "duplicate key": raw(
        bearer(PLATFORM_TOKEN) | new_key(),
        b'{"amount": 100, "amount": 999999, "currency": "CNY"}',
    ),
    "not JSON": raw(bearer(PLATFORM_TOKEN) | new_key(), b"{not json"),
    "empty body": raw(bearer(PLATFORM_TOKEN) | new_key(), b""),
    "no token": lambda s: (new_key(), donation()(s)[1]),
    "a charity's key": lambda s: (s.charity_key | new_key(), donation()(s)[1]),
    "an invalid token": lambda s: (bearer("sk_" + "x" * 43) | new_key(), donation()(s)[1]),
    "no Idempotency-Key": lambda s: (bearer(PLATFORM_TOKEN), donation()(s)[1]),
    "an Idempotency-Key of 101 characters": lambda s: (
        bearer(PLATFORM_TOKEN) | {"Idempotency-Key": "k" * 101},
        donation()(s)[1],
    ),
}


def post(s: Side, headers: dict[str, str], body: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return s.api.client.post(
        f"{V1}/donations", content=body, headers={"Content-Type": content_type} | headers
    )


def same_answer(fast: Any, slow: Any) -> None:
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    for header in ("content-type", "cache-control", "x-content-type-options"):
        assert fast.headers.get(header) == slow.headers.get(header), header
    if fast.status_code >= 400:
        problem, expected = fast.json(), slow.json()
        assert (problem["code"], problem.get("field")) == (expected["code"], expected.get("field"))
    else:
        answer, expected = fast.json(), slow.json()
        assert answer.keys() == expected.keys()
        assert answer["receipt"].keys() == expected["receipt"].keys()


@pytest.fixture
def sides(make_api: ApiFactory, database_url: str, tmp_path: Any) -> tuple[Side, Side]:
    other = f"sqlite:///{tmp_path}/slow-{uuid.uuid4().hex}.db"
    return side(make_api, database_url), side(make_api, other, donation_fast_path=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_fast_path_answers_every_request_as_the_route_does(
    sides: tuple[Side, Side], case: str
) -> None:
    fast, slow = sides
    assert fast.fast_path() is not None
    assert slow.fast_path() is None
    post(fast, *donation()(fast))  # the charity's registration time is known from now on
    post(slow, *donation()(slow))
    same_answer(post(fast, *CASES[case](fast)), post(slow, *CASES[case](slow)))


def test_the_fast_path_is_taken_for_well_formed_donations_only(sides: tuple[Side, Side]) -> None:
    fast, _ = sides
    layer = fast.fast_path()
    assert layer is not None
    for _ in range(3):
        assert post(fast, *donation()(fast)).status_code == 201
    taken = layer.answered
    assert taken >= 2  # the first may go the route's way, to learn the registration time
    for case in ("no token", "a charity's key", "not JSON", "unknown field", "empty body"):
        post(fast, *CASES[case](fast))
    assert layer.answered == taken  # refused by the route, never by the fast path
    headers, body = donation()(fast)
    assert post(fast, headers, body, content_type="text/plain").status_code >= 400
    assert layer.answered == taken


def test_a_replay_and_a_conflict_through_the_fast_path(sides: tuple[Side, Side]) -> None:
    for s in sides:
        post(s, *donation()(s))
        headers, body = donation()(s)
        first, again = post(s, headers, body), post(s, headers, body)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        other = donation(amount=1)(s)[1]
        conflict = post(s, headers, other)
        assert conflict.status_code == 409
        assert conflict.json()["code"] == "idempotency_conflict"
    fast, slow = sides
    assert fast.api.stored().size == slow.api.stored().size  # the same entries made
