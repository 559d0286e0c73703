"""A body's timestamps (``paid_at``): RFC 3339 in, UTC with milliseconds and ``Z`` stored.

What the ledger accepts is stored in one form that parses back to the same instant and
validates to itself, for every moment in the years 0001 to 9999 UTC and every offset
RFC 3339 can write (issue 12): nothing it stores can fail to format or parse later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.entries import format_at, parse_at, parse_rfc3339, validate_body
from ledger.errors import EntryError
from tests import factories as f

DONATION = f.donation("ch_a", None).body


def stored(paid_at: Any) -> str:
    return str(validate_body("donation.received", DONATION | {"paid_at": paid_at})["paid_at"])


def refused(paid_at: Any) -> str:
    with pytest.raises(EntryError) as caught:
        stored(paid_at)
    assert caught.value.field == "body.paid_at"
    return caught.value.message


@pytest.mark.parametrize(
    ("paid_at", "utc"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ("0001-01-01T23:59:59+23:59", "0001-01-01T00:00:59.000Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999Z"),
        ("9999-12-31T00:00:00-23:59", "9999-12-31T23:59:00.000Z"),
        ("2026-11-26t10:00:00.123456789z", "2026-11-26T10:00:00.123Z"),
        ("2026-11-26T10:00:00-00:00", "2026-11-26T10:00:00.000Z"),
        ("2024-02-29T10:00:00+08:00", "2024-02-29T02:00:00.000Z"),
    ],
)
def test_the_extremes_rfc_3339_allows_are_stored_in_utc(paid_at: str, utc: str) -> None:
    assert stored(paid_at) == utc


@pytest.mark.parametrize(
    ("paid_at", "message"),
    [
        ("2026-11-26T10:00:00", "needs a time zone offset"),
        ("2026-11-26", "not an RFC 3339 date-time"),
        ("2026-11-26 10:00:00Z", "not an RFC 3339 date-time"),
        ("20261126T100000Z", "not an RFC 3339 date-time"),
        ("2026-W48-4T10:00:00Z", "not an RFC 3339 date-time"),
        ("2026-11-26T10:00Z", "not an RFC 3339 date-time"),
        ("2026-11-26T10:00:00.Z", "not an RFC 3339 date-time"),
        ("2026-11-26T10:00:00.1234567890Z", "not an RFC 3339 date-time"),
        ("2026-11-26T10:00:00+0800", "not an RFC 3339 date-time"),
        ("2026-11-26T10:00:00+08:00:30", "not an RFC 3339 date-time"),
        ("2026-11-26T10:00:00Z\n", "not an RFC 3339 date-time"),
        ("２０２６-11-26T10:00:00Z", "not an RFC 3339 date-time"),
        ("2016-12-31T23:59:60Z", "leap second"),
        ("2026-11-26T10:00:00+24:00", "offset beyond ±23:59"),
        ("2026-11-26T10:00:00-23:60", "offset beyond ±23:59"),
        ("0000-01-01T00:00:00Z", "that exists"),
        ("2025-02-29T00:00:00Z", "that exists"),
        ("2026-11-26T24:00:00Z", "that exists"),
        ("0001-01-01T00:00:00+00:01", "years 0001 to 9999"),
        ("9999-12-31T23:59:59-00:01", "years 0001 to 9999"),
    ],
)
def test_what_is_not_an_rfc_3339_instant_in_years_0001_to_9999_is_refused(
    paid_at: str, message: str
) -> None:
    assert message in refused(paid_at)


@pytest.mark.parametrize("paid_at", [1764151200, 1764151200.5, None, True, [], {}])
def test_a_paid_at_that_is_not_a_string_is_refused(paid_at: Any) -> None:
    refused(paid_at)


offsets = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)


@given(st.datetimes(timezones=offsets))
def test_every_instant_with_any_offset_is_stored_as_its_utc_form_or_refused(
    moment: datetime,
) -> None:
    text = moment.isoformat()
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        assert "years 0001 to 9999" in refused(text)
        return
    assert stored(text) == format_at(utc)
    assert parse_at(stored(text)) == utc.replace(microsecond=utc.microsecond // 1000 * 1000)


@given(st.one_of(st.text(), st.text(alphabet="0123456789-:.TZtz+ ", max_size=40)))
def test_whatever_a_string_holds_it_is_refused_or_stored_in_a_form_that_parses_back(
    text: str,
) -> None:
    try:
        utc = stored(text)
    except EntryError as error:
        refusal: EntryError | None = error
    else:
        refusal = None
    if refusal is not None:
        assert refusal.field == "body.paid_at"
        return
    assert parse_rfc3339(text).astimezone(UTC) >= parse_at(utc)
    assert stored(utc) == utc
    assert format_at(parse_at(utc)) == utc


@given(st.datetimes(), st.booleans())
def test_a_utc_moment_written_with_z_is_stored_as_the_general_path_would_store_it(
    moment: datetime, milliseconds: bool
) -> None:
    # The common shapes (whole seconds or milliseconds, then Z) skip the general parse.
    text = moment.isoformat(timespec="milliseconds" if milliseconds else "seconds") + "Z"
    assert stored(text) == format_at(parse_rfc3339(text))
