"""Disclosure reports (ADR 0039): a project's or a charity's figures as of one checkpoint.

Pure: no I/O. ``compute_report`` reads the journal's first ``tree_size`` entries and gives
the report of one scope (a project, or a charity with all its money) for one period; the
explorer's page, the CSV, the PDF and the audit all call it, so they cannot disagree.

The periods are in ``ledger.periods``, the report's model in ``ledger.reports`` and which
reports a project owes in ``ledger.disclosure_schedule``; their names are re-exported here,
where callers take them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Re-exported (``X as X``): callers take every name of disclosure from here.
from ledger.disclosure_schedule import FINAL_WITHIN_MONTHS as FINAL_WITHIN_MONTHS
from ledger.disclosure_schedule import PROGRESS_AFTER_MONTHS as PROGRESS_AFTER_MONTHS
from ledger.disclosure_schedule import PROGRESS_GRACE_MONTHS as PROGRESS_GRACE_MONTHS
from ledger.disclosure_schedule import Publication as Publication
from ledger.disclosure_schedule import ScheduleRow as ScheduleRow
from ledger.disclosure_schedule import Status as Status
from ledger.disclosure_schedule import publication_of as publication_of
from ledger.disclosure_schedule import schedule as schedule
from ledger.entries import Entry, parse_at
from ledger.periods import CHINA as CHINA
from ledger.periods import FINAL as FINAL
from ledger.periods import QUARTER as QUARTER
from ledger.periods import DisclosureError as DisclosureError
from ledger.periods import check_period as check_period
from ledger.periods import next_quarter as next_quarter
from ledger.periods import quarter_bounds as quarter_bounds
from ledger.periods import quarter_of as quarter_of
from ledger.reports import REPORT_FORMAT as REPORT_FORMAT
from ledger.reports import Category as Category
from ledger.reports import Correction as Correction
from ledger.reports import DisbursementLine as DisbursementLine
from ledger.reports import EvidenceRef as EvidenceRef
from ledger.reports import Flows as Flows
from ledger.reports import RefundLine as RefundLine
from ledger.reports import Report as Report
from ledger.reports import Scope as Scope
from ledger.reports import compare_reports as compare_reports
from ledger.reports import later_corrections as later_corrections
from ledger.reports import report_digest as report_digest


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
        self.refund(entry, body["donation_id"], body["amount"], body["reason"])

    def refund(self, entry: Entry, donation_id: str, amount: int, reason: str) -> None:
        """Count money given back (a refund, or matched money back to its pool) and list it."""
        donation = self.donations[donation_id]
        if not self.in_scope(donation.charity_id, donation.project_id):
            return
        if self.add(entry.at, donation.currency, refunded=amount, refunds=1):
            self.refunds.append(
                RefundLine(
                    seq=entry.seq,
                    at=entry.at,
                    donation_id=donation_id,
                    amount=amount,
                    currency=donation.currency,
                    reason=reason,
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
        self.refund(entry, body["match_id"], money.amount, body["reason"])

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
