"""A page reads in one connection and one read transaction, in a few queries (ADR 0044)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from explorer.views import PublicViews
from tests.explorer.conftest import World


@contextmanager
def counted(views: PublicViews) -> Iterator[dict[str, int]]:
    """Pool checkouts and statements on the views' engine while the block runs."""
    counts = {"checkouts": 0, "statements": 0}

    def checkout(*_: Any) -> None:
        counts["checkouts"] += 1

    def statement(*_: Any) -> None:
        counts["statements"] += 1

    engine = views.store.engine
    event.listen(engine.pool, "checkout", checkout)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield counts
    finally:
        event.remove(engine.pool, "checkout", checkout)
        event.remove(engine, "before_cursor_execute", statement)


def _views(world: World) -> PublicViews:
    return PublicViews(store=world.store, public_url="http://testserver").read_only()


def test_a_donation_page_is_one_connection_and_six_queries(world: World) -> None:
    views = _views(world)
    views.donation_page(world.general)  # the pool's first connection opens here
    with counted(views) as counts:
        page = views.donation_page(world.general)
    assert page.donation.funded  # a disbursement, its entry, its charity's signer
    assert counts["checkouts"] == 1
    # The four reads of the donation, its checkpoint, its correction notes (none: each
    # reversal would read its entries), and SQLite's BEGIN, which the engine issues.
    assert counts["statements"] <= 7


PAGES: list[tuple[str, Callable[[PublicViews, World], object]]] = [
    ("home", lambda v, w: v.home_page()),
    ("charities", lambda v, w: v.charities_page()),
    ("projects", lambda v, w: v.projects_page()),
    ("charity", lambda v, w: v.charity_page(w.charity_id)),
    ("project", lambda v, w: v.project_page(w.project_id)),
    ("donation", lambda v, w: v.donation_page(w.earmarked)),
    ("disbursement", lambda v, w: v.disbursement_page(w.disbursement_id)),
    ("checkpoints", lambda v, w: v.checkpoints_page()),
    ("entry", lambda v, w: v.entry_page(5)),
    ("search", lambda v, w: v.search_page("校服")),
]


@pytest.mark.parametrize("draw", [d for _, d in PAGES], ids=[name for name, _ in PAGES])
def test_every_page_reads_in_one_connection(
    world: World, draw: Callable[[PublicViews, World], object]
) -> None:
    views = _views(world)
    with counted(views) as counts:
        draw(views, world)
    assert counts["checkouts"] == 1
