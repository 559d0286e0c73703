"""How the pages show times and hashes (the JSON twins keep the raw values).

Amounts are shown by ``ledger.currencies.money``, the one formatter of the whole project.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo


def _parse(value: object) -> datetime | None:
    """A timezone-aware moment, or None for what is not one (never raises)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _in_zone(moment: datetime, zone: tzinfo) -> datetime | None:
    """``moment`` in ``zone``; None when that falls outside the years 0001 to 9999.

    9999-12-31T23:59Z is a valid journal time, but in Beijing it is the year 10000.
    """
    try:
        return moment.astimezone(zone)
    except (OverflowError, ValueError):
        return None


def _date_time(moment: datetime, seconds: bool = False) -> str:
    # Not strftime: %Y writes year 1 as "1" on glibc; the journal writes four digits.
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}"
    )
    return f"{text}:{moment.second:02d}" if seconds else text


BEIJING = timezone(timedelta(hours=8))
"""China Standard Time, UTC+8 all year (China has kept no daylight saving since 1991)."""
_ZONES = {"zh-CN": (BEIJING, "北京时间")}
"""The time zone of each page language but English, and how its pages name it."""


def when(value: str | datetime | None, language: str = "en") -> str:
    """A timestamp as the page's reader keeps time (the text of a ``<time>``).

    ``2026-11-26 22:41 UTC`` on English pages; ``2026-11-27 06:41 北京时间`` (UTC+8) on
    Chinese ones, where donors and charities read Beijing time. Total: a moment that has
    no Beijing time (the last hours of 9999) is shown in UTC, and what is not a moment at
    all is shown as it is.
    """
    if value is None:
        return ""
    moment = _parse(value)
    if moment is None:
        return str(value)
    for zone, name in (_ZONES.get(language, (UTC, "UTC")), (UTC, "UTC")):
        shown = _in_zone(moment, zone)
        if shown is not None:
            return f"{_date_time(shown)} {name}"
    return str(value)


def iso(value: str | datetime | None) -> str:
    """A timestamp as RFC 3339 UTC (the ``datetime`` attribute of a ``<time>``).

    Empty for what is not a moment in the years 0001 to 9999 UTC (the element's text
    still shows the value).
    """
    moment = _parse(value)
    shown = _in_zone(moment, UTC) if moment is not None else None
    if shown is None:
        return ""
    return _date_time(shown, seconds=True).replace(" ", "T") + "Z"


def short_hash(value: str, keep: int = 10) -> str:
    """``0x1234abcd…ef01``: enough to recognize a hash; the full one is in its title."""
    if not isinstance(value, str):
        return str(value)
    if len(value) <= 2 * keep + 2:
        return value
    return f"{value[: keep + 2]}…{value[-keep // 2 :]}"
