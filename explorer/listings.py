"""The store's reads as the explorer's public models: totals, latest donations and
disbursements, indexes, matches, allocations and what an entry names.

``explorer.views`` asks the store's read model (``ledger.store.queries``) for the rows;
these functions only turn them into the models the pages and their ``.json`` twins show.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any, TypeVar

from pydantic import BaseModel

from explorer import models
from ledger.accounting import AllocationState, Balance, State
from ledger.entries import format_at
from ledger.errors import NotFoundError
from ledger.store.page_reads import MatchRead
from ledger.store.queries import (
    CharityListed,
    DisbursementListed,
    DonationListed,
    Listing,
    ProjectListed,
    Totals,
)

M = TypeVar("M", bound=BaseModel)
_REF_KEYS: dict[str, models.RefKind] = {
    "charity_id": "charity",
    "project_id": "project",
    "donation_id": "donation",
    "disbursement_id": "disbursement",
    "allocation_id": "allocation",
    "pool_id": "pool",
    "match_id": "donation",
}


def from_state(model: type[M], state: State, **fields: Any) -> M:
    """``model`` filled from a projection's ``state``, and ``fields`` for what it lacks.

    The model's ``id`` is the state's key (``donation_id``, …); every other field the
    state has under the same name is taken from it, unless ``fields`` gives it.
    """
    taken = {
        name: getattr(state, state.key if name == "id" else name)
        for name in model.model_fields.keys() - fields.keys()
        if name == "id" or hasattr(state, name)
    }
    return model(**taken, **fields)


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
        from_state(
            models.DonationSummary,
            listed.donation,
            charity_name=listed.charity_name,
            project_title=listed.project_title,
        )
        for listed in found
    ]


def disbursement_briefs(found: Sequence[DisbursementListed]) -> list[models.DisbursementBrief]:
    return [
        from_state(models.DisbursementBrief, listed.disbursement, at=format_at(listed.at))
        for listed in found
    ]


def charities_page(
    listing: Listing[CharityListed], *, page: int, limit: int
) -> models.CharitiesPage:
    """Raises ``NotFoundError`` for a page past the last (page 1 always exists)."""
    return _index_page(models.CharitiesPage, models.CharityListed, listing, page=page, limit=limit)


def projects_page(listing: Listing[ProjectListed], *, page: int, limit: int) -> models.ProjectsPage:
    """Raises ``NotFoundError`` for a page past the last (page 1 always exists)."""
    return _index_page(models.ProjectsPage, models.ProjectListed, listing, page=page, limit=limit)


def _index_page(
    page_model: type[M],
    row_model: type[BaseModel],
    listing: Listing[CharityListed] | Listing[ProjectListed],
    *,
    page: int,
    limit: int,
) -> M:
    """One page of an index: where it stands (rows in all, its number, how many pages there
    are) and its rows, each from its projection's state (the row's first field) and the counts
    the read model gives beside it under the same names (``donations``, ``received``, …)."""
    return page_model(
        count=listing.count,
        page=page,
        pages=pages(listing.count, limit, page),
        data=[_listed(row_model, row) for row in listing.rows],
    )


def _listed(model: type[M], row: CharityListed | ProjectListed) -> M:
    state, *beside = fields(row)
    return from_state(
        model, getattr(row, state.name), **{f.name: getattr(row, f.name) for f in beside}
    )


def entry_refs(canonical: str) -> list[models.Ref]:
    """What an entry's body names (charity, project, donation…), from its stored text.

    The text may no longer parse (this is where an auditor looks when something is
    wrong): then it names nothing.
    """
    try:
        body = json.loads(canonical).get("body", {})
    except (ValueError, AttributeError):
        return []
    if not isinstance(body, dict):
        return []
    return [
        models.Ref(kind=kind, id=body[key])
        for key, kind in _REF_KEYS.items()
        if isinstance(body.get(key), str)
    ]


def match_public(read: MatchRead) -> models.MatchPublic:
    """A match as the pages show it, with its pool and matcher (ADR 0040)."""
    return from_state(
        models.MatchPublic,
        read.match,
        pool_title=read.pool.title,
        matcher_id=read.matcher.matcher_id,
        matcher_name=read.matcher.name,
        currency=read.pool.currency,
    )


def allocation_public(allocation: AllocationState) -> models.AllocationPublic:
    return from_state(models.AllocationPublic, allocation)
