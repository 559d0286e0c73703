"""Disclosure reports through the API (ADR 0039): publish one, close a project, and a report
as CSV or PDF.

The figures are ``ledger.disclosure.compute_report``'s, through the explorer's
``ReportViews`` (the page, its ``.json`` twin, these files and the audit share it).
Publishing appends a ``report.published`` entry carrying the report's checkpoint size and
digest, so the publication itself is anchored with the next checkpoint.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Response
from pydantic import BaseModel, Field

from api import models, report_pdf
from api.errors import ApiError
from api.keys import Principal
from api.routes.deps import ERRORS, CharityInPath, OptionalIdempotencyKey, ServicesDep
from api.routes.guarded import resource_router
from api.services import Services
from api.spreadsheet import safe_row
from explorer import urls
from explorer.reports import ReportPage
from ledger.accounting import ProjectState
from ledger.currencies import money
from ledger.disclosure import FINAL, DisclosureError, check_period, quarter_bounds, schedule
from ledger.entries import MAX_SEQ, parse_at
from ledger.errors import NotFoundError
from ledger.store.outbox import Outbox, ReportDue, report_due_listeners
from ledger.store.requests import Draft

router = resource_router(tag="disclosure", responses=ERRORS)

ReportAt = Annotated[
    int | None, Query(ge=1, le=MAX_SEQ, description="the anchored checkpoint's tree size")
]


class ReportPublish(models.Closed):
    project_id: Annotated[str | None, Field(max_length=43)] = None
    """The project; none for the charity's own report of all its money."""
    period: Annotated[str, Field(min_length=1, max_length=7)]
    """A quarter in Beijing time (``2026-Q3``) or ``final`` (a closed project's)."""
    reason: Annotated[str | None, Field(max_length=500), models.OptionalHumanText] = None
    """Why a period is published again (required then): the correction note."""

    model_config = models.with_example(
        {"project_id": "pr_3k9x2m4q8w7e", "period": "2026-Q3", "reason": None}
    )


class ReportPublished(BaseModel):
    seq: int
    charity_id: str
    project_id: str | None
    period: str
    tree_size: int
    digest: str
    url: str


class ProjectClose(models.Closed):
    reason: Annotated[str, Field(min_length=1, max_length=500), models.HumanText]
    """Why it ends (finished, goal reached, cancelled …)."""

    model_config = models.with_example({"reason": "all textbooks delivered"})


def _now(services: Services) -> datetime:
    return services.clock() if services.clock is not None else datetime.now(UTC)


def publish_report(
    services: Services,
    charity_id: str,
    body: ReportPublish,
    principal: Principal,
    key: str | None = None,
) -> ReportPublished:
    """Publish a report at the latest anchored checkpoint (ADR 0039)."""
    services.require_charity(principal, charity_id)
    services.charity(charity_id)
    reports = services.views.reports
    try:
        check_period(body.period)
    except DisclosureError as error:
        raise ApiError(422, "invalid_field", f"period: {error}", field="period") from None
    scope = reports.scope(body.project_id or charity_id)
    if scope.charity_id != charity_id:
        raise ApiError(
            422,
            "invalid_field",
            f"project_id: project {body.project_id!r} belongs to another charity",
            field="project_id",
        )
    if body.period != FINAL and _now(services) < quarter_bounds(body.period)[1]:
        raise ApiError(
            422,
            "period_not_over",
            f"period: {body.period} is not over yet; a report is of a period that has ended",
            field="period",
        )
    if body.period == FINAL and scope.closed_at is None:
        raise ApiError(
            422,
            "project_not_closed",
            "period: a final report is of a closed project; close it first",
            field="period",
        )
    checkpoint = services.views.checkpoints.latest()
    if checkpoint is None:
        raise ApiError(409, "nothing_anchored", "nothing is anchored yet: anchor, then publish")
    report = reports.report(scope, body.period, checkpoint.tree_size)
    if not report.complete:
        raise ApiError(
            409,
            "checkpoint_before_period_end",
            f"the latest checkpoint ({checkpoint.tree_size} entries) does not reach past the "
            "end of the period: anchor again (POST /api/v1/anchor), then publish",
        )
    earlier = reports.publications(scope, body.period)
    if earlier and earlier[-1].tree_size == checkpoint.tree_size:
        raise ApiError(
            409,
            "already_published",
            f"{body.period} is published at this checkpoint already (entry {earlier[-1].seq})",
        )
    if earlier and body.reason is None:
        raise ApiError(
            422,
            "reason_required",
            f"reason: {body.period} was published before (entry {earlier[-1].seq}); say why "
            "it is published again: the reason is its correction note",
            field="reason",
        )
    published = {
        "charity_id": charity_id,
        "project_id": body.project_id,
        "period": body.period,
        "tree_size": checkpoint.tree_size,
        "digest": report.digest,
    }
    result = services._append(
        [Draft("report.published", {**published, "reason": body.reason}, actor=principal.actor)],
        **services._idempotency(f"POST /charities/{charity_id}/reports", principal, key, body),
    )
    return ReportPublished.model_validate(
        {
            **published,
            "seq": result.entries[0].seq,
            "url": urls.report(scope.id, body.period, at=checkpoint.tree_size),
        }
    )


@router.post("/charities/{charity_id}/reports", status_code=201)
def publish(
    charity_id: str,
    body: ReportPublish,
    services: ServicesDep,
    principal: CharityInPath,
    idempotency_key: OptionalIdempotencyKey = None,
) -> ReportPublished:
    """Publish a disclosure report at the latest anchored checkpoint (the charity or platform)."""
    return publish_report(services, charity_id, body, principal, idempotency_key)


@router.post("/charities/{charity_id}/projects/{project_id}/close")
def close_project(
    charity_id: str,
    project_id: str,
    body: ProjectClose,
    services: ServicesDep,
    principal: CharityInPath,
    idempotency_key: OptionalIdempotencyKey = None,
) -> models.ProjectPublic:
    """Close a project: its final report is due within three months (the charity or platform)."""
    return end_project(services, charity_id, project_id, body, principal, idempotency_key)


def end_project(
    services: Services,
    charity_id: str,
    project_id: str,
    body: ProjectClose,
    principal: Principal,
    key: str | None = None,
) -> models.ProjectPublic:
    """Close a project of ``charity_id`` (a ``project.closed`` entry with its reason)."""
    services.require_charity(principal, charity_id)
    project = services.views.read.project(project_id)
    if project.charity_id != charity_id:
        raise NotFoundError("project", project_id)
    route = f"POST /charities/{charity_id}/projects/{project_id}/close"
    services._append(
        [
            Draft(
                "project.closed",
                {"project_id": project_id, "reason": body.reason},
                actor=principal.actor,
            )
        ],
        **services._idempotency(route, principal, key, body),
    )
    return services.views.project_view(project_id)


# -- the report-due webhook event -----------------------------------------------------------


def reports_due(services: Services) -> list[ReportDue]:
    """The reports due or late, not yet published, of the charities that listen for them."""
    views = services.views.reports
    now = _now(services)
    due: list[ReportDue] = []
    for charity_id in sorted(report_due_listeners(Outbox(services.store))):
        for project in services.views.read.find(ProjectState, charity_id=charity_id):
            scope = views.scope(project.project_id)
            rows = schedule(
                opened_at=scope.opened_at,
                closed_at=scope.closed_at,
                publications=views.publications(scope),
                now=now,
            )
            due += [
                ReportDue(
                    charity_id=charity_id,
                    project_id=project.project_id,
                    project_seq=project.seq,
                    period=row.period,
                    due_by=row.due_by or "",
                    status=row.status,
                    url=urls.absolute(
                        services.settings.public_url, urls.report(project.project_id, row.period)
                    ),
                )
                for row in rows
                if row.status in ("due", "late")
            ]
    return due


# -- files -----------------------------------------------------------------------------------


def report_csv(page: ReportPage) -> str:
    """A report as CSV: one section a table, each row neutralized for spreadsheets."""
    report = page.report
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def row(*cells: object) -> None:
        writer.writerow(safe_row(cells))

    scope = report.scope
    row("report", report.format)
    row("charity_id", scope.charity_id, scope.charity_name)
    row("project_id", scope.project_id or "", scope.name if scope.project_id else "")
    row("period", report.period, report.period_start or "", report.period_end or "")
    row("tree_size", report.tree_size)
    row("root_hash", page.checkpoint.root_hash)
    row("checkpoint_index", page.checkpoint.index)
    row("complete", "yes" if report.complete else "no")
    row("digest", report.digest)
    row()
    figures = (
        *("received", "donations", "refunded", "refunds", "allocated", "reversed"),
        *("disbursed", "disbursements", "voided"),
    )
    row("flows", "currency", *figures, "held")
    for name, flows in (("period", report.period_flows), ("cumulative", report.cumulative_flows)):
        for f in flows:
            row(name, f.currency, *(getattr(f, field) for field in figures), f.held)
    row()
    row("category", "purpose", "currency", "amount", "count")
    for g in report.categories:
        row("category", g.purpose, g.currency, g.amount, g.count)
    row()
    row("disbursement", "id", "seq", "at", "payee", "purpose", "amount", "currency")
    row("", "voided_seq", "evidence_sha256")
    for d in report.disbursements:
        evidence = " ".join(e.sha256 for e in d.evidence)
        row("disbursement", d.disbursement_id, d.seq, d.at, d.payee, d.purpose, d.amount,
            d.currency, "" if d.voided_seq is None else d.voided_seq, evidence)  # fmt: skip
    row()
    row("refund", "seq", "at", "donation_id", "amount", "currency", "reason")
    for r in report.refunds:
        row("refund", r.seq, r.at, r.donation_id, r.amount, r.currency, r.reason)
    row()
    row("correction", "seq", "at", "kind", "corrects", "corrected_seq", "amount", "reason")
    for c in [*report.corrections, *page.later_corrections]:
        row("correction", c.seq, c.at, c.kind, c.corrects,
            "" if c.corrected_seq is None else c.corrected_seq,
            "" if c.amount is None else c.amount, c.reason)  # fmt: skip
    return out.getvalue()


def _page(services: Services, scope_id: str, period: str, at: int | None) -> ReportPage:
    return services.views.reports.report_page(scope_id, period, at)


def _filename(page: ReportPage, suffix: str) -> str:
    report = page.report
    scope = report.scope.project_id or report.scope.charity_id
    return f"report-{scope}-{report.period}-{report.tree_size}.{suffix}"


@dataclass(frozen=True)
class ReportFile:
    """A disclosure report as a file: how it is made, and how a browser takes it."""

    media_type: str
    disposition: str
    """``attachment`` (saved) or ``inline`` (shown)."""
    render: Callable[[ReportPage], bytes]
    description: str
    """The route's OpenAPI text."""


REPORT_FILES = {
    "csv": ReportFile(
        "text/csv; charset=utf-8",
        "attachment",
        lambda page: ("\ufeff" + report_csv(page)).encode("utf-8"),
        "A disclosure report as CSV (UTF-8 with a BOM, cells safe for spreadsheets).",
    ),
    "pdf": ReportFile(
        "application/pdf",
        "inline",
        lambda page: report_pdf.render(page, money=money, parse_at=parse_at),
        "A disclosure report as PDF, in Chinese and English (its CJK font embedded).",
    ),
}
"""The report's files by suffix: a route each, ``/reports/{scope_id}/{period}.<suffix>``."""


def _file_route(suffix: str, file: ReportFile) -> Callable[..., Response]:
    def report_as_file(
        scope_id: str, period: str, services: ServicesDep, at: ReportAt = None
    ) -> Response:
        page = _page(services, scope_id, period, at)
        filename = _filename(page, suffix)
        return Response(
            file.render(page),
            media_type=file.media_type,
            headers={"Content-Disposition": f'{file.disposition}; filename="{filename}"'},
        )

    return report_as_file


for suffix, file in REPORT_FILES.items():
    router.add_api_route(
        f"/reports/{{scope_id}}/{{period}}.{suffix}",
        _file_route(suffix, file),
        methods=["GET"],
        name=f"report_as_{suffix}",
        description=file.description,
        responses={200: {"content": {file.media_type.split(";")[0]: {}}}},
    )
