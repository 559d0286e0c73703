"""Which disclosure reports a project owes, and where each stands (ADR 0039).

Pure: no I/O. ``schedule`` says which reports of a project are due or late, by the rules of
the 《慈善组织信息公开办法》 as ADR 0039 reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Literal

from ledger.entries import Entry, parse_at
from ledger.periods import (
    CHINA,
    FINAL,
    add_months,
    local_midnight,
    next_quarter,
    quarter_bounds,
    quarter_of,
)
from ledger.reports import DisclosureModel

PROGRESS_AFTER_MONTHS = 6
"""A project that lasts longer than this publishes progress every quarter (第二十一条)."""
FINAL_WITHIN_MONTHS = 3
"""A project's final report is due within this many months after it ends."""
PROGRESS_GRACE_MONTHS = 1
"""A quarter's progress report is due by the end of the month after the quarter."""

Status = Literal["published", "published_late", "due", "late", "upcoming", "not_required"]


class Publication(DisclosureModel):
    """A ``report.published`` entry."""

    seq: int
    at: str
    period: str
    tree_size: int
    digest: str
    reason: str | None


class ScheduleRow(DisclosureModel):
    """One report a project owes (or may publish), and where it stands."""

    period: str
    start: str | None
    end: str | None
    due_by: str | None
    """The last day (China Standard Time) to publish it on time; None if not required."""
    required: bool
    status: Status
    publication: Publication | None
    """The latest publication of the period, if any."""
    publications: int


def _due_end(period: str, closed: datetime | None) -> tuple[datetime, date]:
    """The first instant after a report's deadline, and the deadline's day (UTC+8)."""
    if period == FINAL:
        assert closed is not None
        last = add_months(closed.astimezone(CHINA).date(), FINAL_WITHIN_MONTHS)
    else:
        _, end = quarter_bounds(period)
        first_after = add_months(end.date(), PROGRESS_GRACE_MONTHS)
        last = first_after - timedelta(days=1)
    return local_midnight(last + timedelta(days=1)), last


def schedule(
    *,
    opened_at: str,
    closed_at: str | None,
    publications: Sequence[Publication],
    now: datetime,
    owes: bool = True,
) -> list[ScheduleRow]:
    """The reports of a project, from the quarter it opened in to now, and where they stand.

    A quarter's progress report is required when, by its deadline (the end of the month
    after the quarter), the project has lasted more than six months and had not closed
    within that quarter (its final report covers it). A closed project owes a final report
    within three months of closing. ``published_late`` is a report first published after
    its deadline; ``due``: the period is over and the deadline not passed; ``late``: the
    deadline passed without it; ``upcoming``: the period is not over. With ``owes`` False
    (a charity's own reports, which no rule requires) nothing is required.
    """
    opened = parse_at(opened_at)
    closed = None if closed_at is None else parse_at(closed_at)
    opened_local = opened.astimezone(CHINA)
    six_months = datetime.combine(
        add_months(opened_local.date(), PROGRESS_AFTER_MONTHS), opened_local.timetz()
    )
    by_period: dict[str, list[Publication]] = {}
    for publication in sorted(publications, key=lambda p: p.seq):
        by_period.setdefault(publication.period, []).append(publication)
    rows: list[ScheduleRow] = []
    last = quarter_of(min(now, closed) if closed is not None else now)
    period = quarter_of(opened)
    while True:
        start, end = quarter_bounds(period)
        due_end, due_day = _due_end(period, closed)
        lasted = min(due_end, closed) if closed is not None else due_end
        closed_within = closed is not None and closed < end
        required = owes and lasted > six_months and not closed_within
        row = _row(period, start, end, due_end, due_day, required, by_period, now)
        if closed_within and row.publication is None:
            row = row.model_copy(update={"status": "not_required"})  # the final report's
        rows.append(row)
        if period == last:
            break
        period = next_quarter(period)
    if closed is not None:
        due_end, due_day = _due_end(FINAL, closed)
        rows.append(_row(FINAL, None, closed, due_end, due_day, True, by_period, now))
    return rows


def _row(
    period: str,
    start: datetime | None,
    end: datetime,
    due_end: datetime,
    due_day: date,
    required: bool,
    by_period: Mapping[str, Sequence[Publication]],
    now: datetime,
) -> ScheduleRow:
    published = by_period.get(period, [])
    status: Status
    if published:
        first = parse_at(published[0].at)
        status = "published" if not required or first < due_end else "published_late"
    elif now < end:
        status = "upcoming"
    elif not required:
        status = "not_required"
    elif now < due_end:
        status = "due"
    else:
        status = "late"
    return ScheduleRow(
        period=period,
        start=None if start is None else start.isoformat(),
        end=end.astimezone(CHINA).isoformat(),
        due_by=due_day.isoformat() if required else None,
        required=required,
        status=status,
        publication=published[-1] if published else None,
        publications=len(published),
    )


def publication_of(entry: Entry) -> Publication:
    """A ``report.published`` entry as a ``Publication``."""
    body = entry.body
    return Publication(
        seq=entry.seq,
        at=entry.at,
        period=str(body["period"]),
        tree_size=int(body["tree_size"]),  # type: ignore[arg-type]
        digest=str(body["digest"]),
        reason=None if body["reason"] is None else str(body["reason"]),
    )
