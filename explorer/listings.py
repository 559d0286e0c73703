"""The explorer's lists as public models: totals, latest donations and disbursements, indexes.

``explorer.views`` asks the store's read model (``ledger.store.queries``) for the rows;
these functions only turn them into the models the pages and their ``.json`` twins show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from explorer import models
from ledger.accounting import Balance, CharityState, ProjectState
from ledger.entries import format_at
from ledger.errors import NotFoundError
from ledger.store.queries import (
    CharityListed,
    DisbursementListed,
    DonationListed,
    Listing,
    ProjectListed,
    Totals,
)


def charity_facts(charity: CharityState) -> dict[str, Any]:
    """The fields of ``models.CharityFacts``, from the charity's state."""
    return {
        "id": charity.charity_id,
        "seq": charity.seq,
        "name": charity.name,
        "registration_no": charity.registration_no,
    }


def project_facts(project: ProjectState, charity_name: str) -> dict[str, Any]:
    """The fields of ``models.ProjectFacts``, from the project's state and its charity's name."""
    return {
        "id": project.project_id,
        "seq": project.seq,
        "charity_id": project.charity_id,
        "charity_name": charity_name,
        "title": project.title,
        "goal_amount": project.goal_amount,
        "currency": project.currency,
    }


def pages(count: int, limit: int, page: int) -> int:
    """How many pages ``count`` rows make (at least one); refuses a page past the last."""
    pages = max(1, -(-count // limit))
    if not 1 <= page <= pages:
        raise NotFoundError("page", str(page))
    return pages


def balances(found: Sequence[Balance]) -> list[Balance]:
    return list(found)


def totals(found: Totals, *, entries: int) -> models.Totals:
    return models.Totals(
        charities=found.charities,
        projects=found.projects,
        donations=found.donations,
        disbursements=found.disbursements,
        entries=entries,
        balances=balances(found.balances),
    )


def donation_summaries(found: Sequence[DonationListed]) -> list[models.DonationSummary]:
    return [
        models.DonationSummary(
            id=d.donation_id,
            seq=d.seq,
            charity_id=d.charity_id,
            charity_name=listed.charity_name,
            project_id=d.project_id,
            project_title=listed.project_title,
            amount=d.amount,
            currency=d.currency,
            paid_at=d.paid_at,
            refunded=d.refunded,
            allocated=d.allocated,
        )
        for listed in found
        for d in (listed.donation,)
    ]


def disbursement_briefs(found: Sequence[DisbursementListed]) -> list[models.DisbursementBrief]:
    return [
        models.DisbursementBrief(
            at=format_at(listed.at),
            id=d.disbursement_id,
            seq=d.seq,
            charity_id=d.charity_id,
            project_id=d.project_id,
            payee=d.payee,
            purpose=d.purpose,
            amount=d.amount,
            currency=d.currency,
            allocated=d.allocated,
            voided=d.voided,
        )
        for listed in found
        for d in (listed.disbursement,)
    ]


def charities_page(
    listing: Listing[CharityListed], *, page: int, limit: int
) -> models.CharitiesPage:
    """Raises ``NotFoundError`` for a page past the last (page 1 always exists)."""
    return models.CharitiesPage(
        **_paged(listing, page=page, limit=limit),
        data=[
            models.CharityListed(
                **charity_facts(row.charity),
                projects=row.projects,
                donations=row.donations,
                balances=balances(row.balances),
            )
            for row in listing.rows
        ],
    )


def projects_page(listing: Listing[ProjectListed], *, page: int, limit: int) -> models.ProjectsPage:
    """Raises ``NotFoundError`` for a page past the last (page 1 always exists)."""
    return models.ProjectsPage(
        **_paged(listing, page=page, limit=limit),
        data=[
            models.ProjectListed(
                **project_facts(row.project, row.charity_name),
                donations=row.donations,
                received=row.received,
            )
            for row in listing.rows
        ],
    )


def _paged(listing: Listing[Any], *, page: int, limit: int) -> dict[str, int]:
    """Where an index page stands: rows in all, its number, how many pages there are."""
    return {"count": listing.count, "page": page, "pages": pages(listing.count, limit, page)}
