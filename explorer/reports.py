"""Disclosure reports' pages (ADR 0039): a scope's reports and schedule, and one report.

The figures come from ``ledger.disclosure.compute_report`` over the journal up to an
anchored checkpoint; the page, its ``.json`` twin, the CSV and the PDF (``api``) and the
audit all use that one function. A report of a size is the same forever, so it is cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar, cast

from pydantic import BaseModel

from explorer import models, urls
from explorer.models import CorrectionNote
from ledger.accounting import AllocationState, DisbursementState, ProjectState
from ledger.disclosure import (
    FINAL,
    Correction,
    DisclosureError,
    Publication,
    Report,
    ScheduleRow,
    check_period,
    compute_report,
    corrections_of,
    later_corrections,
    publication_of,
    schedule,
)
from ledger.entries import ID_PATTERNS, Entry
from ledger.errors import NotFoundError
from ledger.store.checkpoints import AnchoredCheckpoint, CheckpointLog
from ledger.store.journal import Store
from ledger.store.queries import ReadModel

NOTES_ON_A_PAGE = 20
"""Correction notes shown on a charity's or a project's page (the newest)."""


class ScopePublic(BaseModel):
    kind: str
    """``project`` or ``charity``."""
    id: str
    name: str
    charity_id: str
    charity_name: str
    opened_at: str
    closed_at: str | None


class ReportsPage(BaseModel):
    """A project's (or a charity's) reports: the schedule, and where each stands."""

    scope: ScopePublic
    checkpoint: models.CheckpointPublic | None
    """The latest anchored checkpoint: the one a report not yet published would use."""
    schedule: list[ScheduleRow]
    corrections: list[Correction]
    """Every correction of the scope up to that checkpoint, newest first."""


class ReportPage(BaseModel):
    """One report, the checkpoint it is computed at, and what was corrected since."""

    report: Report
    checkpoint: models.CheckpointPublic
    publication: Publication | None
    """The publication of this report at this checkpoint, if it was published."""
    publications: list[Publication]
    """Every publication of the period, oldest first."""
    digest_matches: bool | None
    """Whether the publication's digest is the recomputed one (None: not published)."""
    later_corrections: list[Correction]
    """Corrections recorded after the checkpoint of what the report shows."""
    csv_url: str
    pdf_url: str


def _checkpoint_public(checkpoint: AnchoredCheckpoint) -> models.CheckpointPublic:
    from explorer.views import checkpoint_public  # views imports this module

    return checkpoint_public(checkpoint)


class ReportViews:
    """Reports of one journal (on the explorer's read-only store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.read = ReadModel(store.engine)
        self.checkpoints = CheckpointLog(store.engine)

    # -- what a page asks ------------------------------------------------------------------

    def scope(self, scope_id: str) -> ScopePublic:
        """The project or charity ``scope_id`` names.

        Raises:
            NotFoundError: no such project or charity.
        """
        if ID_PATTERNS["project"].fullmatch(scope_id):
            project = self.read.project(scope_id)
            charity = self.read.charity(project.charity_id)
            closed = self._closed_entry(project)
            return ScopePublic(
                kind="project",
                id=scope_id,
                name=project.title,
                charity_id=charity.charity_id,
                charity_name=charity.name,
                opened_at=self.store.entry(project.seq).at,
                closed_at=None if closed is None else closed.at,
            )
        if ID_PATTERNS["charity"].fullmatch(scope_id):
            charity = self.read.charity(scope_id)
            return ScopePublic(
                kind="charity",
                id=scope_id,
                name=charity.name,
                charity_id=scope_id,
                charity_name=charity.name,
                opened_at=self.store.entry(charity.seq).at,
                closed_at=None,
            )
        raise NotFoundError("project", scope_id)

    def _closed_entry(self, project: ProjectState) -> Entry | None:
        if not project.closed:
            return None
        return next(
            (
                e
                for e in self._kind_entries("project.closed")
                if e.body["project_id"] == project.project_id
            ),
            None,
        )

    def _kind_entries(self, kind: str) -> Iterator[Entry]:
        yield from self.read.entries_of_kind(kind)

    def publications(self, scope: ScopePublic, period: str | None = None) -> list[Publication]:
        """The scope's ``report.published`` entries (of one period), oldest first."""
        project_id = scope.id if scope.kind == "project" else None
        return [
            publication_of(entry)
            for entry in self._kind_entries("report.published")
            if entry.body["charity_id"] == scope.charity_id
            and entry.body["project_id"] == project_id
            and (period is None or entry.body["period"] == period)
        ]

    def report(self, scope: ScopePublic, period: str, tree_size: int) -> Report:
        """The report of ``scope`` for ``period`` as of the first ``tree_size`` entries."""
        return _report(self.store, scope.kind, scope.id, period, tree_size)

    def checkpoint_of_size(
        self, tree_size: int | None, scope: ScopePublic, period: str
    ) -> AnchoredCheckpoint:
        """The checkpoint a report page uses: the one of ``tree_size`` if given, else the
        latest publication's, else the latest anchored one.

        Raises:
            NotFoundError: no anchored checkpoint of that size, or none at all.
        """
        if tree_size is None:
            published = self.publications(scope, period)
            if published:
                tree_size = published[-1].tree_size
        if tree_size is None:
            latest = self.checkpoints.latest()
            if latest is None:
                raise NotFoundError("checkpoint", "any: nothing is anchored yet")
            return latest
        found = next((c for c in self.checkpoints.all() if c.tree_size == tree_size), None)
        if found is None:
            raise NotFoundError("checkpoint", f"of size {tree_size}")
        return found

    # -- pages -----------------------------------------------------------------------------

    def reports_page(self, scope_id: str, now: datetime | None = None) -> ReportsPage:
        """A project's or a charity's reports and schedule.

        Raises:
            NotFoundError: no such project or charity.
        """
        scope = self.scope(scope_id)
        latest = self.checkpoints.latest()
        rows = schedule(
            opened_at=scope.opened_at,
            closed_at=scope.closed_at,
            publications=self.publications(scope),
            now=now or datetime.now(UTC),
            owes=scope.kind == "project",
        )
        corrections: list[Correction] = []
        if latest is not None and scope.kind == "project":
            corrections = self.report(scope, FINAL, latest.tree_size).corrections
        elif latest is not None:
            corrections = _corrections(self.store, scope.id, latest.tree_size)
        return ReportsPage(
            scope=scope,
            checkpoint=None if latest is None else _checkpoint_public(latest),
            schedule=rows,
            corrections=sorted(corrections, key=lambda c: -c.seq),
        )

    def report_page(self, scope_id: str, period: str, tree_size: int | None = None) -> ReportPage:
        """One report as of an anchored checkpoint.

        Raises:
            NotFoundError: no such scope, period or checkpoint, or a final report of a
                project that is not closed.
        """
        scope = self.scope(scope_id)
        try:
            check_period(period)
        except DisclosureError:
            raise NotFoundError("report", period) from None
        if period == FINAL and scope.closed_at is None:
            raise NotFoundError("report", f"{period} (the project is not closed)")
        checkpoint = self.checkpoint_of_size(tree_size, scope, period)
        try:
            report = self.report(scope, period, checkpoint.tree_size)
        except DisclosureError as error:
            raise NotFoundError("report", str(error)) from None
        publications = self.publications(scope, period)
        publication = next(
            (p for p in reversed(publications) if p.tree_size == checkpoint.tree_size), None
        )
        later: list[Correction] = []
        newest = self.checkpoints.latest()
        if newest is not None and newest.tree_size > checkpoint.tree_size:
            everything = (
                self.report(scope, FINAL, newest.tree_size).corrections
                if scope.kind == "project"
                else _corrections(self.store, scope.id, newest.tree_size)
            )
            later = later_corrections(report, everything)
        return ReportPage(
            report=report,
            checkpoint=_checkpoint_public(checkpoint),
            publication=publication,
            publications=publications,
            digest_matches=None if publication is None else publication.digest == report.digest,
            later_corrections=later,
            csv_url=urls.api_report_file(scope_id, period, "csv", checkpoint.tree_size),
            pdf_url=urls.api_report_file(scope_id, period, "pdf", checkpoint.tree_size),
        )

    # -- notes on the pages a correction affects -------------------------------------------

    def correction_notes(
        self, *, charity_id: str | None = None, project_id: str | None = None
    ) -> list[CorrectionNote]:
        """The voids of a charity's or a project's disbursements, with their reasons."""
        where = {"project_id": project_id} if project_id else {"charity_id": charity_id}
        voided = self.read.find(DisbursementState, voided=True, **where)
        return [
            note
            for d in sorted(voided, key=lambda d: -d.seq)[:NOTES_ON_A_PAGE]
            for note in self.disbursement_notes(d.disbursement_id)
            if note.kind == "disbursement.voided"
        ]

    def disbursement_notes(self, disbursement_id: str) -> list[CorrectionNote]:
        """The void of a disbursement, with its reason; or, for one not voided, the
        reversals of its allocations (a void reverses them all: its note says it once, and
        the page's allocations show each one reversed)."""
        entries = list(self.store.entries_about(disbursement_id))
        if not any(e.kind == "disbursement.voided" for e in entries):
            for allocation in self.read.find(
                AllocationState, disbursement_id=disbursement_id, reversed=True
            ):
                entries += self.store.entries_about(allocation.allocation_id)
        return _notes(entries)

    def donation_notes(self, donation_id: str) -> list[CorrectionNote]:
        """The corrections of what a donation paid for: the reversals of its allocations,
        and the voids of the disbursements they funded, with their reasons."""
        entries: list[Entry] = []
        for allocation in self.read.find(AllocationState, donation_id=donation_id, reversed=True):
            entries += self.store.entries_about(allocation.allocation_id)
            entries += self.store.entries_about(allocation.disbursement_id)
        return _notes(entries)


def _notes(entries: list[Entry]) -> list[CorrectionNote]:
    """The voids and reversals among ``entries``, once each, oldest first, as notes."""
    return [
        CorrectionNote(
            seq=e.seq,
            at=e.at,
            kind=e.kind,
            corrects=str(e.body.get("disbursement_id") or e.body.get("allocation_id")),
            reason=str(e.body["reason"]),
        )
        for e in sorted({e.seq: e for e in entries}.values(), key=lambda e: e.seq)
        if e.kind in ("disbursement.voided", "allocation.reversed")
    ]


_CACHED: OrderedDict[tuple[str, str, str, int, bytes], object] = OrderedDict()
CACHED_REPORTS = 64
"""Reports kept, keyed by what they are of and the root of the entries they read: a report
of one journal prefix never changes, and no store is kept alive by the cache."""
_CACHE_LOCK = threading.Lock()


def _report(store: Store, kind: str, scope_id: str, period: str, tree_size: int) -> Report:
    return _cached(
        (kind, scope_id, period, tree_size, store.root(tree_size)),
        lambda: compute_report(
            store.entries(0, tree_size),
            tree_size=tree_size,
            period=period,
            project_id=scope_id if kind == "project" else None,
            charity_id=scope_id if kind == "charity" else None,
        ),
    )


def _corrections(store: Store, charity_id: str, tree_size: int) -> list[Correction]:
    """Every correction of a charity up to ``tree_size`` (a charity has no final report)."""
    key = ("charity", charity_id, "corrections", tree_size, store.root(tree_size))
    return _cached(
        key,
        lambda: corrections_of(
            store.entries(0, tree_size), tree_size=tree_size, charity_id=charity_id
        ),
    )


_T = TypeVar("_T")


def _cached(key: tuple[str, str, str, int, bytes], compute: Callable[[], _T]) -> _T:
    with _CACHE_LOCK:
        if key in _CACHED:
            _CACHED.move_to_end(key)
            return cast(_T, _CACHED[key])
    value = compute()
    with _CACHE_LOCK:
        _CACHED[key] = value
        while len(_CACHED) > CACHED_REPORTS:
            _CACHED.popitem(last=False)
    return value
