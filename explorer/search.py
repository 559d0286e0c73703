"""The search box: what a query names, exactly (an id, an entry, a checkpoint) or by name.

``PublicViews.search_page`` cleans the query and builds the page; this module finds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from explorer import models, urls
from ledger.accounting import (
    AllocationState,
    CharityState,
    DisbursementState,
    DonationState,
    PoolState,
    ProjectState,
)
from ledger.entries import HASH, id_spellings
from ledger.store.checkpoints import CheckpointLog
from ledger.store.journal import Store
from ledger.store.queries import ReadModel

SEARCH_LIMIT = 20
"""Charities, projects and disbursements a search by name lists, each."""
_HASH = re.compile(HASH.pattern, re.IGNORECASE)


class _Named(NamedTuple):
    """What an id's prefix names: its projection, and how a result shows and links it."""

    state: type[Any]
    kind: models.RefKind
    label: Callable[[Any], str]
    url: Callable[[Any], str]


_BY_PREFIX: dict[str, _Named] = {
    "ch": _Named(CharityState, "charity", lambda c: c.name, lambda c: urls.charity(c.charity_id)),
    "pr": _Named(ProjectState, "project", lambda p: p.title, lambda p: urls.project(p.project_id)),
    "dn": _Named(
        DonationState,
        "donation",
        lambda d: d.donation_id,
        lambda d: urls.donation(d.donation_id),
    ),
    "db": _Named(
        DisbursementState,
        "disbursement",
        lambda d: d.payee,
        lambda d: urls.disbursement(d.disbursement_id),
    ),
    # An allocation leads to its disbursement.
    "al": _Named(
        AllocationState,
        "allocation",
        lambda a: a.allocation_id,
        lambda a: urls.disbursement(a.disbursement_id),
    ),
    "mp": _Named(PoolState, "pool", lambda p: p.title, lambda p: urls.pool(p.pool_id)),
}


def search(
    store: Store, read: ReadModel, checkpoints: CheckpointLog, q: str
) -> list[models.SearchResult]:
    """What ``q`` names (see ``PublicViews.search_page``); ``q`` is stripped and holds no NUL."""
    if q.isascii() and q.isdigit():
        seq = int(q)
        if seq >= store.size():
            return []
        return [
            models.SearchResult(kind="entry", id=str(seq), label=f"#{seq}", url=urls.entry(seq))
        ]
    if spellings := id_spellings(q):
        return next(filter(None, (_by_id(read, spelling) for spelling in spellings)), [])
    if _HASH.fullmatch(q):
        return [
            models.SearchResult(
                kind="checkpoint", id=str(index), label=f"#{index}", url=urls.checkpoint(index)
            )
            for index in checkpoints.indexes_by_hash(bytes.fromhex(q[2:]))
        ]
    matches = read.search_names(q, SEARCH_LIMIT)
    found = [
        models.SearchResult(kind="charity", id=key, label=name, url=urls.charity(key))
        for key, name in matches.charities
    ]
    found += [
        models.SearchResult(kind="project", id=key, label=title, url=urls.project(key))
        for key, title in matches.projects
    ]
    found += [
        models.SearchResult(
            kind="disbursement", id=key, label=f"{payee} · {purpose}", url=urls.disbursement(key)
        )
        for key, payee, purpose in matches.disbursements
    ]
    return found


def _by_id(read: ReadModel, q: str) -> list[models.SearchResult]:
    """The thing an id names, by its prefix."""
    named = _BY_PREFIX.get(q[:2])
    found = read.get(named.state, q) if named is not None else None
    if named is None or found is None:
        return []
    return [
        models.SearchResult(kind=named.kind, id=q, label=named.label(found), url=named.url(found))
    ]
