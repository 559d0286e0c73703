"""The times a caller sends (issue 12): RFC 3339 with an offset only, ``paid_at`` in a window.

A donation's ``paid_at`` must lie from the ``at`` of its charity's ``charity.registered``
entry to ``API_PAID_AT_LEEWAY_MINUTES`` (default 5) after the server's clock; anything
else is a 422 problem naming ``paid_at``, and nothing is stored. The server's clock is
``Services.clock`` here, set by the test (as the demo sets it), so no test depends on
when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from api.settings import ApiSettings
from ledger.entries import format_at, parse_at
from tests.api.conftest import Api, ApiFactory, donation_body, new_key

REGISTERED = datetime(2026, 6, 1, 8, 0, 0, 123000, tzinfo=UTC)
"""When the charity registers (the server's clock then)."""
NOW = REGISTERED + timedelta(days=30, hours=3)
"""The server's clock when the donations arrive."""
LEEWAY = timedelta(minutes=5)
MS = timedelta(milliseconds=1)
BEIJING = timezone(timedelta(hours=8))
NEW_YORK_WINTER = timezone(timedelta(hours=-5))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    api: Api
    clock: Clock
    charity_id: str
    project_id: str

    def post(self, paid_at: Any, key: dict[str, str] | None = None) -> Any:
        body = donation_body(self.charity_id, self.project_id) | {"paid_at": paid_at}
        return self.api.client.post(
            "/api/v1/donations", json=body, headers=self.api.platform | (key or new_key())
        )


def make_world(make_api: ApiFactory, url: str, **settings: Any) -> World:
    api = make_api(url, **settings)
    clock = Clock(REGISTERED)
    api.services.clock = clock
    charity_id, auth = api.register_charity()
    project_id = api.open_project(charity_id, auth)
    clock.now = NOW
    assert parse_at(api.store.entry(0).at) == REGISTERED
    return World(api, clock, charity_id, project_id)


@pytest.fixture
def world(make_api: ApiFactory, database_url: str) -> World:
    return make_world(make_api, database_url)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat()


# -- outside the window ------------------------------------------------------------------

OUTSIDE: dict[str, str] = {
    "year 0001": "0001-01-01T00:00:00Z",
    "the Unix epoch": "1970-01-01T00:00:00Z",
    "a day before the charity registered": rfc3339(REGISTERED - timedelta(days=1)),
    "a millisecond before the charity registered": rfc3339(REGISTERED - MS),
    "a millisecond before, written in Beijing time": rfc3339((REGISTERED - MS).astimezone(BEIJING)),
    "year 2999": "2999-01-01T00:00:00Z",
    "the last second of 9999": "9999-12-31T23:59:59Z",
    "the last microsecond of 9999": "9999-12-31T23:59:59.999999Z",
    "10 minutes ahead": rfc3339(NOW + timedelta(minutes=10)),
    "a millisecond past the leeway": rfc3339(NOW + LEEWAY + MS),
    "a millisecond past the leeway, in New York": rfc3339(
        (NOW + LEEWAY + MS).astimezone(NEW_YORK_WINTER)
    ),
    "a year ahead": rfc3339(NOW + timedelta(days=365)),
}


@pytest.mark.parametrize("paid_at", OUTSIDE.values(), ids=OUTSIDE.keys())
def test_a_paid_at_outside_the_window_is_refused_with_its_bounds_and_nothing_is_stored(
    world: World, paid_at: str
) -> None:
    before = world.api.stored()

    response = world.post(paid_at)

    problem = response.json()
    assert response.status_code == 422, problem
    assert response.headers["content-type"] == "application/problem+json"
    assert (problem["code"], problem["field"]) == ("outside_window", "paid_at")
    earliest, latest = format_at(REGISTERED), format_at(NOW + LEEWAY)
    assert (problem["earliest"], problem["latest"]) == (earliest, latest)
    assert earliest in problem["detail"]
    assert latest in problem["detail"]
    assert "5 minutes" in problem["detail"]
    assert world.charity_id in problem["detail"]
    assert world.api.stored() == before


# -- not an RFC 3339 date-time with an offset ----------------------------------------------

MALFORMED: dict[str, Any] = {
    "a bare integer (Unix seconds)": int(NOW.timestamp()),
    "a float": NOW.timestamp(),
    "a string of digits": str(int(NOW.timestamp())),
    "true": True,
    "null": None,
    "a list": ["2026-07-01T11:00:00Z"],
    "an object": {"at": "2026-07-01T11:00:00Z"},
    "naive (no offset)": "2026-07-01T11:00:00",
    "a date alone": "2026-07-01",
    "no seconds": "2026-07-01T11:00Z",
    "hours only": "2026-07-01T11Z",
    "a space for T": "2026-07-01 11:00:00Z",
    "ISO 8601 basic form": "20260701T110000Z",
    "an ISO week date": "2026-W27-3T11:00:00Z",
    "a comma for the decimal point": "2026-07-01T11:00:00,5Z",
    "a trailing newline": "2026-07-01T11:00:00Z\n",
    "leading white space": " 2026-07-01T11:00:00Z",
    "full-width digits": "２０２６-07-01T11:00:00Z",
    "a NUL inside": "2026-07-01T11:00:00\x00Z",
    "empty": "",
    "words": "yesterday",
    "ten thousand characters": "2026-07-01T11:00:00Z" + "0" * 10_000,
    "February 30th": "2026-02-30T11:00:00Z",
    "month 13": "2026-13-01T11:00:00Z",
    "hour 24": "2026-07-01T24:00:00Z",
    "year 0000": "0000-01-01T00:00:00Z",
    "a five-digit year": "10000-01-01T00:00:00Z",
    "a leap second": "2016-12-31T23:59:60Z",
    "a leap second inside the window": "2026-07-01T10:59:60Z",
    "offset +24:00": "2026-07-01T11:00:00+24:00",
    "offset -99:99": "2026-07-01T11:00:00-99:99",
    "offset +23:60": "2026-07-01T11:00:00+23:60",
    "offset without a colon": "2026-07-01T11:00:00+0800",
    "offset hours only": "2026-07-01T11:00:00+08",
    "offset with seconds": "2026-07-01T11:00:00+08:00:30",
    "a time-zone name": "2026-07-01T11:00:00 Asia/Shanghai",
    "UTC year 10000 through its offset": "9999-12-31T23:59:59-23:59",
    "UTC year 0 through its offset": "0001-01-01T00:00:00+23:59",
}


@pytest.mark.parametrize("paid_at", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_paid_at_that_is_not_rfc_3339_with_an_offset_is_refused_and_nothing_is_stored(
    world: World, paid_at: Any
) -> None:
    before = world.api.stored()

    response = world.post(paid_at)

    problem = response.json()
    assert response.status_code == 422, problem
    assert (problem["code"], problem["field"]) == ("invalid_field", "paid_at")
    assert problem["detail"].startswith("paid_at: ")
    assert world.api.stored() == before


@pytest.mark.parametrize(
    ("paid_at", "words"),
    [
        (1764151200, "not a JSON number"),
        (1764151200.5, "not a JSON number"),
        (True, "not a JSON boolean"),
        (None, "not null"),
        ([], "not a JSON array"),
        ({}, "not a JSON object"),
        ("2026-07-01T11:00:00", "needs a time zone offset"),
        ("2016-12-31T23:59:60Z", "leap second"),
        ("2026-07-01T11:00:00+24:00", "offset beyond ±23:59"),
        ("9999-12-31T23:59:59-23:59", "years 0001 to 9999"),
        ("2026-02-30T11:00:00Z", "that exists"),
        ("2026-07-01", "e.g. 2026-11-26T10:00:00Z"),
    ],
)
def test_the_refusal_says_what_is_wrong(world: World, paid_at: Any, words: str) -> None:
    assert words in world.post(paid_at).json()["detail"]


def test_a_refused_paid_at_leaves_the_idempotency_key_unused(world: World) -> None:
    key = new_key()
    assert world.post("9999-12-31T23:59:59Z", key).status_code == 422
    assert world.post(rfc3339(NOW), key).status_code == 201


# -- inside the window: both edges ---------------------------------------------------------

INSIDE: dict[str, tuple[str, str]] = {
    "the moment the charity registered": (
        "2026-06-01T08:00:00.123Z",
        "2026-06-01T08:00:00.123Z",
    ),
    "that moment in Beijing time": ("2026-06-01T16:00:00.123+08:00", "2026-06-01T08:00:00.123Z"),
    "that moment, with nanoseconds and lowercase t and z": (
        "2026-06-01t08:00:00.123000000z",
        "2026-06-01T08:00:00.123Z",
    ),
    "now": (rfc3339(NOW), format_at(NOW)),
    "the leeway's last millisecond": (rfc3339(NOW + LEEWAY), format_at(NOW + LEEWAY)),
    "that millisecond in New York": (
        rfc3339((NOW + LEEWAY).astimezone(NEW_YORK_WINTER)),
        format_at(NOW + LEEWAY),
    ),
    "an offset of -23:59": (
        rfc3339((NOW + LEEWAY).astimezone(timezone(-timedelta(hours=23, minutes=59)))),
        format_at(NOW + LEEWAY),
    ),
}


@pytest.mark.parametrize(("paid_at", "stored"), INSIDE.values(), ids=INSIDE.keys())
def test_a_paid_at_on_the_edges_of_the_window_is_recorded_in_utc(
    world: World, paid_at: str, stored: str
) -> None:
    response = world.post(paid_at)

    assert response.status_code == 201, response.text
    donation = world.api.client.get(f"/api/v1/donations/{response.json()['id']}").json()
    assert donation["paid_at"] == stored


@pytest.mark.parametrize(
    ("leeway", "inside", "outside"),
    [
        (0, NOW, NOW + MS),
        (60, NOW + timedelta(minutes=60), NOW + timedelta(minutes=60) + MS),
    ],
)
def test_the_leeway_is_a_setting(
    make_api: ApiFactory,
    sqlite_url: str,
    leeway: int,
    inside: datetime,
    outside: datetime,
) -> None:
    world = make_world(make_api, sqlite_url, paid_at_leeway_minutes=leeway)

    refused = world.post(rfc3339(outside)).json()

    assert world.post(rfc3339(inside)).status_code == 201
    assert refused["latest"] == format_at(inside)
    assert f"plus {leeway} minutes" in refused["detail"]


@pytest.mark.parametrize("leeway", [-1, 24 * 60 + 1, "five"])
def test_a_leeway_outside_0_to_a_day_is_a_settings_error(leeway: Any) -> None:
    with pytest.raises(ValueError, match="paid_at_leeway_minutes"):
        ApiSettings(paid_at_leeway_minutes=leeway)


def test_the_window_follows_the_services_clock(world: World) -> None:
    """The demo replays history with a clock: its "now" is the clock's, not the machine's."""
    paid_at = rfc3339(NOW + timedelta(days=2))
    assert world.post(paid_at).status_code == 422

    world.clock.now = NOW + timedelta(days=2)

    assert world.post(paid_at).status_code == 201


def test_each_charity_has_its_own_lower_bound(world: World) -> None:
    world.clock.now = NOW + timedelta(days=1)
    later_id, _auth = world.api.register_charity("后来的基金会")
    donation = donation_body(later_id, None) | {"paid_at": rfc3339(NOW)}

    refused = world.api.client.post(
        "/api/v1/donations", json=donation, headers=world.api.platform | new_key()
    )

    assert refused.json()["earliest"] == format_at(NOW + timedelta(days=1))
    assert world.post(rfc3339(NOW)).status_code == 201  # the first charity's window


# -- the CSV export's period ---------------------------------------------------------------

BAD_PERIODS: dict[str, str] = {
    "Unix seconds": "1764151200",
    "a date alone": "2026-07-01",
    "naive": "2026-07-01T11:00:00",
    "a space for T": "2026-07-01 11:00:00Z",
    "offset +24:00": "2026-07-01T11:00:00+24:00",
    "UTC year 10000": "9999-12-31T23:59:59-23:59",
    "a leap second": "2016-12-31T23:59:60Z",
    "words": "last week",
}


@pytest.mark.parametrize("bound", ["from", "to"])
@pytest.mark.parametrize("value", BAD_PERIODS.values(), ids=BAD_PERIODS.keys())
def test_an_export_period_that_is_not_rfc_3339_with_an_offset_is_refused(
    world: World, bound: str, value: str
) -> None:
    response = world.api.client.get(
        "/api/v1/exports/donations.csv", params={bound: value}, headers=world.api.platform
    )

    problem = response.json()
    assert response.status_code == 422, problem
    assert (problem["code"], problem["field"]) == ("invalid_field", bound)


def test_an_export_period_in_rfc_3339_with_any_offset_is_taken(world: World) -> None:
    recorded = world.post(rfc3339(NOW)).json()["id"]

    def export(**period: str) -> str:
        response = world.api.client.get(
            "/api/v1/exports/donations.csv", params=period, headers=world.api.platform
        )
        assert response.status_code == 200, response.text
        return response.text

    # Recorded at NOW (the clock): from NOW in Beijing time it is in, from a ms later out.
    assert recorded in export(**{"from": rfc3339(NOW.astimezone(BEIJING))})
    assert recorded not in export(**{"from": rfc3339(NOW + MS)})
    assert recorded in export(to="9999-12-31T23:59:59.999Z")
    assert recorded in export(**{"from": "0001-01-01T00:00:00Z"})
