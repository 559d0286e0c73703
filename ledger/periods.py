"""Disclosure periods (ADR 0039): calendar quarters in China Standard Time, and ``final``.

Pure: no I/O. Periods are calendar quarters in China Standard Time (UTC+8, no daylight
saving since 1991), and an entry belongs to the period that holds its journal time ``at``:
journal time never runs backwards (ADR 0022), so a period is a contiguous run of ``seq``.
A project's ``final`` period is its whole life.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Asia/Shanghai: UTC+8 all year (China has kept no daylight saving time since 1991)."""
FINAL = "final"
"""The period of a project's final report: its whole life, up to the checkpoint."""
QUARTER = re.compile(r"(?P<year>[0-9]{4})-Q(?P<quarter>[1-4])")
"""A quarter's label (``fullmatch``), e.g. ``2026-Q3``."""


class DisclosureError(ValueError):
    """A period or a scope that no report can have; the message says why."""


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, kept within the month (31 Aug + 1 → 30 Sep)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def local_midnight(day: date) -> datetime:
    """The first instant of ``day`` in China Standard Time."""
    return datetime.combine(day, time(), CHINA)


def quarter_of(moment: datetime) -> str:
    """The quarter (``2026-Q3``) that holds ``moment``, in China Standard Time."""
    local = moment.astimezone(CHINA)
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}"


def quarter_bounds(label: str) -> tuple[datetime, datetime]:
    """The first instant of quarter ``label`` and the first instant after it (UTC+8).

    Raises:
        DisclosureError: ``label`` is no quarter.
    """
    match = QUARTER.fullmatch(label)
    if match is None:
        raise DisclosureError(f"{label!r} is not a quarter such as 2026-Q3")
    year, quarter = int(match["year"]), int(match["quarter"])
    if year < 2000:
        raise DisclosureError(f"{label!r} is before the year 2000")
    start = date(year, 3 * quarter - 2, 1)
    return local_midnight(start), local_midnight(add_months(start, 3))


def next_quarter(label: str) -> str:
    """The quarter after ``label``."""
    _, end = quarter_bounds(label)
    return quarter_of(end)


def check_period(period: str) -> None:
    """Raise ``DisclosureError`` unless ``period`` is a quarter or ``final``."""
    if period != FINAL:
        quarter_bounds(period)
