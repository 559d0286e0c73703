"""Disclosure reports (ADR 0039): a project's or a charity's figures as of one checkpoint.

Pure: no I/O. ``compute_report`` reads the journal's first ``tree_size`` entries and gives
the report of one scope (a project, or a charity with all its money) for one period; the
explorer's page, the CSV, the PDF and the audit all call it, so they cannot disagree.
``schedule`` says which reports of a project are due or late, by the rules of the
《慈善组织信息公开办法》 as ADR 0039 reads them.

Periods are calendar quarters in China Standard Time (UTC+8, no daylight saving since
1991), and an entry belongs to the period that holds its journal time ``at``: journal time
never runs backwards (ADR 0022), so a period is a contiguous run of ``seq``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ledger.entries import Entry, canonical_bytes, parse_at, to_hex

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Asia/Shanghai: UTC+8 all year (China has kept no daylight saving time since 1991)."""
REPORT_FORMAT: Literal["shanlian-report/v1"] = "shanlian-report/v1"
FINAL = "final"
QUARTER = re.compile(r"(?P<year>[0-9]{4})-Q(?P<quarter>[1-4])")
PROGRESS_AFTER_MONTHS = 6
"""A project that lasts longer than this publishes progress every quarter (第二十一条)."""
FINAL_WITHIN_MONTHS = 3
"""A project's final report is due within this many months after it ends."""
PROGRESS_GRACE_MONTHS = 1
"""A quarter's progress report is due by the end of the month after the quarter."""


class DisclosureError(ValueError):
    """A period or a scope that no report can have; the message says why."""


# -- periods ---------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, kept within the month (31 Aug + 1 → 30 Sep)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _local_midnight(day: date) -> datetime:
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
    return _local_midnight(start), _local_midnight(_add_months(start, 3))


def next_quarter(label: str) -> str:
    """The quarter after ``label``."""
    _, end = quarter_bounds(label)
    return quarter_of(end)


def check_period(period: str) -> None:
    """Raise ``DisclosureError`` unless ``period`` is a quarter or ``final``."""
    if period != FINAL:
        quarter_bounds(period)


# -- the report ------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Flows(_Model):
    """Money of one currency over a stretch of the journal, in minor units.

    ``allocated`` and ``disbursed`` are net of the reversals and voids recorded in the
    same stretch (``reversed``, ``voided``): a correction counts where it is recorded.
    """

    currency: str
    received: int = 0
    donations: int = 0
    refunded: int = 0
    refunds: int = 0
    allocated: int = 0
    reversed: int = 0
    disbursed: int = 0
    disbursements: int = 0
    voided: int = 0

    @property
    def held(self) -> int:
        """Received, not refunded, not allocated (meaningful for a cumulative stretch)."""
        return self.received - self.refunded - self.allocated


class EvidenceRef(_Model):
    sha256: str
    public: bool


class DisbursementLine(_Model):
    disbursement_id: str
    seq: int
    at: str
    project_id: str | None
    payee: str
    purpose: str
    amount: int
    currency: str
    evidence: list[EvidenceRef]
    voided_seq: int | None
    """The ``seq`` of its void, when it was voided before the checkpoint."""


class Category(_Model):
    """Disbursements of the period by purpose (the journal's category), net of voids."""

    purpose: str
    currency: str
    amount: int
    count: int


class RefundLine(_Model):
    seq: int
    at: str
    donation_id: str
    amount: int
    currency: str
    reason: str


class Correction(_Model):
    """A reversing entry: what it corrects, when that was, and why.

    A report lists the corrections recorded in its period and, up to its checkpoint, those
    of what its period recorded (a void in Q3 of a Q2 disbursement is on both reports).

    ``kind`` is ``disbursement.voided``, ``allocation.reversed`` or ``report.published``
    (a report published again for a period, with its reason).
    """

    seq: int
    at: str
    kind: str
    corrects: str
    """The id of the disbursement or allocation, or the report's period."""
    corrected_seq: int | None
    corrected_period: str | None
    amount: int | None
    currency: str | None
    reason: str


class Scope(_Model):
    charity_id: str
    project_id: str | None
    name: str
    """The project's title, or the charity's name."""
    charity_name: str
    opened_seq: int
    opened_at: str
    closed_seq: int | None
    closed_at: str | None


class Report(_Model):
    """A disclosure report: every figure derives from the journal's first ``tree_size``
    entries; ``digest`` is SHA-256 of the RFC 8785 form of the rest."""

    format: Literal["shanlian-report/v1"] = REPORT_FORMAT
    scope: Scope
    period: str
    period_start: str | None
    period_end: str | None
    tree_size: int
    complete: bool
    """The checkpoint holds an entry after the period (or the project's close, for a final
    report): no later entry can change the period's figures."""
    period_flows: list[Flows]
    cumulative_flows: list[Flows]
    """From the start up to the period's end (the whole journal up to the checkpoint for a
    final report)."""
    categories: list[Category]
    disbursements: list[DisbursementLine]
    refunds: list[RefundLine]
    corrections: list[Correction]
    digest: str = ""

    def body(self) -> dict[str, Any]:
        """The report as JSON without its digest: what the digest is of."""
        data = self.model_dump(mode="json")
        data.pop("digest")
        return data

    def with_digest(self) -> Report:
        return self.model_copy(update={"digest": report_digest(self.body())})


def report_digest(body: Mapping[str, Any]) -> str:
    """``0x`` SHA-256 of the RFC 8785 bytes of a report's JSON without its digest."""
    return to_hex(hashlib.sha256(canonical_bytes(dict(body))).digest())


@dataclass
class _Thing:
    charity_id: str
    project_id: str | None
    currency: str
    seq: int
    at: str
    amount: int = 0


def _money_of(entry: Entry, body: Mapping[str, Any]) -> _Thing:
    """A donation or a disbursement: whose, in what currency, when, how much."""
    return _Thing(
        body["charity_id"],
        body["project_id"],
        body["currency"],
        entry.seq,
        entry.at,
        body["amount"],
    )


def _period_of(at: str) -> str:
    return quarter_of(parse_at(at))


class _Pass:
    """One pass over the journal for one scope and period."""

    def __init__(self, charity_id: str | None, project_id: str | None, period: str) -> None:
        self.charity_id = charity_id
        self.project_id = project_id
        self.period = period
        self.start: datetime | None = None
        self.end: datetime | None = None
        if period != FINAL:
            self.start, self.end = quarter_bounds(period)
        self.charities: dict[str, tuple[str, int, str]] = {}
        self.projects: dict[str, _Thing] = {}
        self.titles: dict[str, str] = {}
        self.closed: dict[str, tuple[int, str]] = {}
        self.donations: dict[str, _Thing] = {}
        self.disbursements: dict[str, _Thing] = {}
        self.lines: dict[str, DisbursementLine] = {}
        self.allocations: dict[str, tuple[str, int, int, str]] = {}
        self.period_flows: dict[str, dict[str, int]] = {}
        self.cumulative: dict[str, dict[str, int]] = {}
        self.categories: dict[tuple[str, str], list[int]] = {}
        self.refunds: list[RefundLine] = []
        self.corrections: list[Correction] = []
        self.reports: set[str] = set()
        self.complete = False

    def in_scope(self, charity_id: str, project_id: str | None) -> bool:
        if self.project_id is not None:
            return project_id == self.project_id
        return charity_id == self.charity_id

    def where(self, at: str) -> tuple[bool, bool]:
        """(in the period, up to the period's end) for an entry at ``at``."""
        if self.start is None or self.end is None:
            return True, True
        moment = parse_at(at)
        return self.start <= moment < self.end, moment < self.end

    def add(self, at: str, currency: str, **amounts: int) -> bool:
        in_period, cumulative = self.where(at)
        for flows, wanted in ((self.period_flows, in_period), (self.cumulative, cumulative)):
            if wanted:
                figures = flows.setdefault(currency, {})
                for name, amount in amounts.items():
                    figures[name] = figures.get(name, 0) + amount
        return in_period

    def run(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            if self.end is not None and not self.complete and parse_at(entry.at) >= self.end:
                self.complete = True
            handler = getattr(self, "_" + entry.kind.replace(".", "_"), None)
            if handler is not None:
                handler(entry, entry.body)

    def _charity_registered(self, entry: Entry, body: Mapping[str, Any]) -> None:
        self.charities[body["charity_id"]] = (body["name"], entry.seq, entry.at)

    def _project_opened(self, entry: Entry, body: Mapping[str, Any]) -> None:
        self.projects[body["project_id"]] = _Thing(
            body["charity_id"], body["project_id"], body["currency"], entry.seq, entry.at
        )
        self.titles[body["project_id"]] = body["title"]

    def _project_closed(self, entry: Entry, body: Mapping[str, Any]) -> None:
        self.closed[body["project_id"]] = (entry.seq, entry.at)
        if self.period == FINAL and body["project_id"] == self.project_id:
            self.complete = True

    def _donation_received(self, entry: Entry, body: Mapping[str, Any]) -> None:
        thing = _money_of(entry, body)
        self.donations[body["donation_id"]] = thing
        if self.in_scope(thing.charity_id, thing.project_id):
            self.add(entry.at, thing.currency, received=thing.amount, donations=1)

    def _donation_refunded(self, entry: Entry, body: Mapping[str, Any]) -> None:
        donation = self.donations[body["donation_id"]]
        if not self.in_scope(donation.charity_id, donation.project_id):
            return
        if self.add(entry.at, donation.currency, refunded=body["amount"], refunds=1):
            self.refunds.append(
                RefundLine(
                    seq=entry.seq,
                    at=entry.at,
                    donation_id=body["donation_id"],
                    amount=body["amount"],
                    currency=donation.currency,
                    reason=body["reason"],
                )
            )

    def _disbursement_made(self, entry: Entry, body: Mapping[str, Any]) -> None:
        thing = _money_of(entry, body)
        self.disbursements[body["disbursement_id"]] = thing
        if not self.in_scope(thing.charity_id, thing.project_id):
            return
        if self.add(entry.at, thing.currency, disbursed=thing.amount, disbursements=1):
            self.lines[body["disbursement_id"]] = DisbursementLine(
                disbursement_id=body["disbursement_id"],
                seq=entry.seq,
                at=entry.at,
                project_id=body["project_id"],
                payee=body["payee"],
                purpose=body["purpose"],
                amount=thing.amount,
                currency=thing.currency,
                evidence=[
                    EvidenceRef(sha256=item["sha256"], public=item["public"])
                    for item in body["evidence"]
                ],
                voided_seq=None,
            )
            total = self.categories.setdefault((body["purpose"], thing.currency), [0, 0])
            total[0] += thing.amount
            total[1] += 1

    def _correction(
        self, entry: Entry, corrects: str, thing: _Thing, amount: int, reason: str
    ) -> Correction:
        return Correction(
            seq=entry.seq,
            at=entry.at,
            kind=entry.kind,
            corrects=corrects,
            corrected_seq=thing.seq,
            corrected_period=_period_of(thing.at),
            amount=amount,
            currency=thing.currency,
            reason=reason,
        )

    def _disbursement_voided(self, entry: Entry, body: Mapping[str, Any]) -> None:
        disbursement_id = body["disbursement_id"]
        thing = self.disbursements[disbursement_id]
        if not self.in_scope(thing.charity_id, thing.project_id):
            return
        line = self.lines.get(disbursement_id)
        if line is not None:
            self.lines[disbursement_id] = line.model_copy(update={"voided_seq": entry.seq})
        correction = self._correction(entry, disbursement_id, thing, thing.amount, body["reason"])
        if self.add(entry.at, thing.currency, disbursed=-thing.amount, voided=thing.amount):
            self.note(correction, in_period=True)
            total = self.categories.get((self.line_purpose(disbursement_id), thing.currency))
            if total is not None:
                total[0] -= thing.amount
                total[1] -= 1
        else:
            self.note(correction, in_period=False)

    def note(self, correction: Correction, *, in_period: bool) -> None:
        """Keep a correction recorded in the period, or of something of the period."""
        if in_period or self.period in (FINAL, correction.corrected_period):
            self.corrections.append(correction)

    def line_purpose(self, disbursement_id: str) -> str:
        line = self.lines.get(disbursement_id)
        return "" if line is None else line.purpose

    def _allocation_made(self, entry: Entry, body: Mapping[str, Any]) -> None:
        donation = self.donations[body["donation_id"]]
        self.allocations[body["allocation_id"]] = (
            body["donation_id"],
            body["amount"],
            entry.seq,
            entry.at,
        )
        if self.in_scope(donation.charity_id, donation.project_id):
            self.add(entry.at, donation.currency, allocated=body["amount"])

    def _allocation_reversed(self, entry: Entry, body: Mapping[str, Any]) -> None:
        donation_id, amount, seq, at = self.allocations[body["allocation_id"]]
        donation = self.donations[donation_id]
        if not self.in_scope(donation.charity_id, donation.project_id):
            return
        made = _Thing(donation.charity_id, donation.project_id, donation.currency, seq, at)
        correction = self._correction(entry, body["allocation_id"], made, amount, body["reason"])
        in_period = self.add(entry.at, donation.currency, allocated=-amount, reversed=amount)
        self.note(correction, in_period=in_period)

    # Matching funds (ADR 0040): matched money is the matcher's donation to the matched
    # donation's project, received when the match is made; a reversed match goes back to
    # the pool, as a refund of that money.
    def _match_made(self, entry: Entry, body: Mapping[str, Any]) -> None:
        matched = self.donations[body["donation_id"]]
        money = _Thing(
            matched.charity_id,
            matched.project_id,
            matched.currency,
            entry.seq,
            entry.at,
            body["amount"],
        )
        self.donations[body["match_id"]] = money
        if self.in_scope(money.charity_id, money.project_id):
            self.add(entry.at, money.currency, received=money.amount, donations=1)

    def _match_reversed(self, entry: Entry, body: Mapping[str, Any]) -> None:
        money = self.donations[body["match_id"]]
        if not self.in_scope(money.charity_id, money.project_id):
            return
        if self.add(entry.at, money.currency, refunded=money.amount, refunds=1):
            self.refunds.append(
                RefundLine(
                    seq=entry.seq,
                    at=entry.at,
                    donation_id=body["match_id"],
                    amount=money.amount,
                    currency=money.currency,
                    reason=body["reason"],
                )
            )

    def _report_published(self, entry: Entry, body: Mapping[str, Any]) -> None:
        if body["charity_id"] != (self.charity_id or body["charity_id"]):
            return
        if body["project_id"] != self.project_id:
            return
        if body["period"] != self.period:
            return
        if body["reason"] is not None and body["period"] in self.reports:
            self.corrections.append(
                Correction(
                    seq=entry.seq,
                    at=entry.at,
                    kind=entry.kind,
                    corrects=body["period"],
                    corrected_seq=None,
                    corrected_period=body["period"],
                    amount=None,
                    currency=None,
                    reason=body["reason"],
                )
            )
        self.reports.add(body["period"])


def _flows(figures: Mapping[str, Mapping[str, int]]) -> list[Flows]:
    return [Flows(currency=currency, **figures[currency]) for currency in sorted(figures)]


def _run(entries: Iterable[Entry], tree_size: int, state: _Pass) -> _Pass:
    """Run ``state`` over entries ``0 <= seq < tree_size``, which must all be there."""
    count = 0

    def upto() -> Iterable[Entry]:
        nonlocal count
        for entry in entries:
            if entry.seq >= tree_size:
                return
            if entry.seq != count:
                raise DisclosureError(f"entry {count} is missing (the next one is {entry.seq})")
            count += 1
            yield entry

    state.run(upto())
    if count != tree_size:
        raise DisclosureError(f"the journal has {count} entries, fewer than {tree_size}")
    return state


def corrections_of(
    entries: Iterable[Entry], *, tree_size: int, charity_id: str
) -> list[Correction]:
    """Every correction of a charity's money in the first ``tree_size`` entries."""
    return _run(entries, tree_size, _Pass(charity_id, None, FINAL)).corrections


def compute_report(
    entries: Iterable[Entry],
    *,
    tree_size: int,
    period: str,
    project_id: str | None = None,
    charity_id: str | None = None,
) -> Report:
    """The report of a project (or of a charity, all its money) for ``period``.

    Args:
        entries: the journal from ``seq`` 0, in order; only those below ``tree_size`` count
            (the rest are not read).
        tree_size: the checkpoint's size: the report covers entries ``0 <= seq < tree_size``.
        period: a quarter (``2026-Q3``) or ``final`` (a project's whole life).
        project_id: the project; or None with ``charity_id`` for a charity's report.
        charity_id: the charity, for a charity's report.

    Raises:
        DisclosureError: a bad period, a final report of a charity, a scope that the first
            ``tree_size`` entries do not hold, or fewer entries than ``tree_size``.
    """
    check_period(period)
    if (project_id is None) == (charity_id is None):
        raise DisclosureError("a report is of one project or of one charity")
    if period == FINAL and project_id is None:
        raise DisclosureError("only a project has a final report")
    state = _run(entries, tree_size, _Pass(charity_id, project_id, period))
    if project_id is not None:
        project = state.projects.get(project_id)
        if project is None:
            raise DisclosureError(f"project {project_id!r} is not in the first {tree_size} entries")
        owner = project.charity_id
        name = state.titles[project_id]
        opened_seq, opened_at = project.seq, project.at
        closed = state.closed.get(project_id)
    else:
        assert charity_id is not None
        if charity_id not in state.charities:
            raise DisclosureError(f"charity {charity_id!r} is not in the first {tree_size} entries")
        owner = charity_id
        name, opened_seq, opened_at = state.charities[charity_id]
        closed = None
    charity_name = state.charities[owner][0] if owner in state.charities else owner
    categories = [
        Category(purpose=purpose, currency=currency, amount=total[0], count=total[1])
        for (purpose, currency), total in sorted(state.categories.items())
        if total[1] > 0
    ]
    report = Report(
        scope=Scope(
            charity_id=owner,
            project_id=project_id,
            name=name,
            charity_name=charity_name,
            opened_seq=opened_seq,
            opened_at=opened_at,
            closed_seq=None if closed is None else closed[0],
            closed_at=None if closed is None else closed[1],
        ),
        period=period,
        period_start=None if state.start is None else state.start.isoformat(),
        period_end=None if state.end is None else state.end.isoformat(),
        tree_size=tree_size,
        complete=state.complete,
        period_flows=_flows(state.period_flows),
        cumulative_flows=_flows(state.cumulative),
        categories=categories,
        disbursements=sorted(state.lines.values(), key=lambda line: line.seq),
        refunds=state.refunds,
        corrections=state.corrections,
    )
    return report.with_digest()


def later_corrections(report: Report, corrections: Sequence[Correction]) -> list[Correction]:
    """Corrections recorded after ``report``'s checkpoint that correct what it shows.

    Args:
        report: a report.
        corrections: the corrections of the same scope, from a report of the whole journal
            up to now (``compute_report(..., period=...)`` of a later size, or ``final``).
    """
    return [
        correction
        for correction in corrections
        if correction.seq >= report.tree_size
        and (report.period == FINAL or correction.corrected_period == report.period)
    ]


def compare_reports(expected: Report, claimed: Mapping[str, Any]) -> list[str]:
    """Where a claimed report (decoded JSON) differs from the recomputed one: JSON paths.

    Returns:
        The differing paths, e.g. ``period_flows[0].received``; empty when they match.
    """
    differences: list[str] = []

    def walk(path: str, want: Any, got: Any) -> None:
        if isinstance(want, dict) and isinstance(got, dict):
            for key in sorted(want.keys() | got.keys()):
                walk(f"{path}.{key}" if path else key, want.get(key), got.get(key))
        elif isinstance(want, list) and isinstance(got, list):
            if len(want) != len(got):
                differences.append(f"{path} ({len(got)} items, expected {len(want)})")
                return
            for i, (w, g) in enumerate(zip(want, got, strict=True)):
                walk(f"{path}[{i}]", w, g)
        elif want != got or type(want) is not type(got):
            differences.append(path)

    walk("", expected.model_dump(mode="json"), dict(claimed))
    return differences


# -- the schedule ----------------------------------------------------------------------------

Status = Literal["published", "published_late", "due", "late", "upcoming", "not_required"]


class Publication(_Model):
    """A ``report.published`` entry."""

    seq: int
    at: str
    period: str
    tree_size: int
    digest: str
    reason: str | None


class ScheduleRow(_Model):
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
        last = _add_months(closed.astimezone(CHINA).date(), FINAL_WITHIN_MONTHS)
    else:
        _, end = quarter_bounds(period)
        first_after = _add_months(end.date(), PROGRESS_GRACE_MONTHS)
        last = first_after - timedelta(days=1)
    return _local_midnight(last + timedelta(days=1)), last


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
        _add_months(opened_local.date(), PROGRESS_AFTER_MONTHS), opened_local.timetz()
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
