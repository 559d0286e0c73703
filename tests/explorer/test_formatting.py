"""The formatters are total (issue 12): no value an entry can hold makes a page fail.

``when`` and ``iso`` take every datetime and every string, ``money`` every integer and
currency, ``short_hash`` every string; a value they cannot show as a time or an amount
comes back as it is. The audit report's block times likewise.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.html import _when as block_time
from explorer.formatting import BEIJING, iso, short_hash, when
from explorer.i18n import LANGUAGES
from ledger.currencies import ISO_4217, money
from ledger.entries import MAX_AMOUNT, format_at

offsets = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)),
    st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=5,
)
ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@given(st.one_of(st.datetimes(), st.datetimes(timezones=offsets)), st.sampled_from(LANGUAGES))
def test_when_and_iso_take_every_datetime(moment: datetime, language: str) -> None:
    shown = when(moment, language)
    attribute = iso(moment)

    assert shown
    assert attribute == "" or ISO.fullmatch(attribute)


@given(st.one_of(st.text(), json_values), st.sampled_from([*LANGUAGES, "fr", ""]))
def test_when_and_iso_take_every_string_and_json_value(value: Any, language: str) -> None:
    shown = when(value, language)
    attribute = iso(value)

    assert isinstance(shown, str)
    assert attribute == "" or ISO.fullmatch(attribute)


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_journal_time_is_shown_in_beijing_time_when_it_has_one_and_in_utc_otherwise(
    moment: datetime,
) -> None:
    journal = format_at(moment)
    utc = moment.replace(microsecond=0)
    try:
        beijing: datetime | None = moment.astimezone(BEIJING)
    except OverflowError:
        beijing = None

    zh, en = when(journal, "zh-CN"), when(journal, "en")

    assert en == f"{utc.year:04d}-{utc:%m-%d %H:%M} UTC"
    if beijing is not None:
        assert zh == f"{beijing.year:04d}-{beijing:%m-%d %H:%M} 北京时间"
    else:
        assert zh == en
    assert iso(journal) == f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


@pytest.mark.parametrize(
    ("value", "zh", "en", "attribute"),
    [
        (
            "9999-12-31T23:59:59.999Z",
            "9999-12-31 23:59 UTC",
            "9999-12-31 23:59 UTC",
            "9999-12-31T23:59:59Z",
        ),
        (
            "9999-12-31T15:59:59.999Z",
            "9999-12-31 23:59 北京时间",
            "9999-12-31 15:59 UTC",
            "9999-12-31T15:59:59Z",
        ),
        (
            "0001-01-01T00:00:00.000Z",
            "0001-01-01 08:00 北京时间",
            "0001-01-01 00:00 UTC",
            "0001-01-01T00:00:00Z",
        ),
        (
            "0999-06-01T00:00:00.000Z",
            "0999-06-01 08:00 北京时间",
            "0999-06-01 00:00 UTC",
            "0999-06-01T00:00:00Z",
        ),
        # Not a time (an entry may not hold these, but a page must not fail on them).
        ("2026-02-30T00:00:00.000Z", "2026-02-30T00:00:00.000Z", "2026-02-30T00:00:00.000Z", ""),
        ("0000-01-01T00:00:00.000Z", "0000-01-01T00:00:00.000Z", "0000-01-01T00:00:00.000Z", ""),
        ("0001-01-01T00:00:00+08:00", "0001-01-01T00:00:00+08:00", "0001-01-01T00:00:00+08:00", ""),
        ("<b>", "<b>", "<b>", ""),
        (17, "17", "17", ""),
        (None, "", "", ""),
    ],
)
def test_the_edges_of_time(value: Any, zh: str, en: str, attribute: str) -> None:
    assert (when(value, "zh-CN"), when(value, "en"), iso(value)) == (zh, en, attribute)


@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.sampled_from(sorted(ISO_4217)),
)
def test_money_shows_every_amount_exactly_in_every_currency(amount: int, currency: str) -> None:
    shown = money(amount, currency)

    digits = re.sub(r"[^0-9]", "", shown.removesuffix(currency))
    assert int(digits) == abs(amount)
    assert shown.startswith("-") == (amount < 0)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (MAX_AMOUNT, "CNY", "¥10,000,000,000.00"),
        (1, "CNY", "¥0.01"),
        (MAX_AMOUNT, "JPY", "1,000,000,000,000 JPY"),
        (1, "KWD", "0.001 KWD"),
        (MAX_AMOUNT, "CLF", "100,000,000.0000 CLF"),
    ],
)
def test_money_at_the_limits_of_an_entry(amount: int, currency: str, shown: str) -> None:
    assert money(amount, currency) == shown


@given(json_values, json_values)
def test_money_and_short_hash_take_any_json_value(amount: Any, currency: Any) -> None:
    assert isinstance(money(amount, currency), str)
    assert isinstance(short_hash(amount), str)


@given(st.text())
def test_short_hash_keeps_both_ends_of_any_string(value: str) -> None:
    shown = short_hash(value)

    assert shown == value or (shown.startswith(value[:12]) and shown.endswith(value[-5:]))


@given(st.one_of(st.integers(), json_values))
def test_an_audit_reports_block_times_are_total(unix: Any) -> None:
    shown = block_time(unix)

    if isinstance(unix, int) and 0 <= unix <= 253402300799:  # 9999-12-31T23:59:59Z
        moment = datetime.fromtimestamp(unix, UTC)
        assert shown == f"{moment.year:04d}-{moment:%m-%d %H:%M:%S} UTC"
    else:
        assert shown.endswith((" UTC", "(Unix time)"))
