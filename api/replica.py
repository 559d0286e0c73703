"""Reads from a streaming replica, and never a wrong answer from one that lags.

``API_READ_ONLY_DATABASE_URL`` names where the explorer reads: a SELECT-only role on the
primary (ADR 0012) or a PostgreSQL hot standby. The heavy public reads — the explorer's
pages, proof bundles' entries and inclusion proofs, consistency proofs, the journal as
JSON Lines — go there, so a giving day's donors cost the primary little. A standby
replays the primary's WAL a little behind it, so every read that needs the journal up to
a size first checks that the replica has that many entries, and reads from the primary
when it has not; an explorer lookup the replica does not know yet (a donation made a
moment ago) is asked of the primary. A page may show a moment-old status; a proof is
always computed from a tree that has every node it needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from explorer.views import PublicViews
from ledger.errors import NotFoundError
from ledger.store.engine import make_engine, read_only_twin
from ledger.store.journal import Store

REPLAYED_FOR_S = 1.0
"""How long a replica's size, once read, is taken as a lower bound without asking again."""


class Reader:
    """Which store answers a read that needs the journal's first ``size`` entries.

    A standby only ever replays forward, so a size it reported stays a lower bound of
    what it holds: a read within it goes to the standby without asking its size again,
    for ``REPLAYED_FOR_S`` (then it is asked again: a standby rebuilt from an older
    backup is noticed within that second). One query less a proof (ADR 0036).
    """

    def __init__(
        self,
        primary: Store,
        replica: Store | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        lags: bool = True,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.lags = lags
        """False when the replica is the primary's own database read-only (SQLite): it
        holds every committed entry, so no size need be asked."""
        self._clock = clock
        self._replayed = (-1, float("-inf"))

    @classmethod
    def open(cls, primary: Store, url: str | None) -> Reader:
        """Reads on ``url`` (a standby or a read-only role); without it, on a SQLite
        file's read-only twin, whose reads do not queue on the write lock
        (``ledger.store.engine.read_only_twin``), or on the primary itself."""
        if url is not None:
            return cls(primary, Store(make_engine(url, read_only=True)))
        twin = read_only_twin(primary.engine)
        return cls(primary, None if twin is None else Store(twin), lags=False)

    @property
    def any_store(self) -> Store:
        """Where a read that needs no particular size goes: a twin, else the primary
        (a lagging standby may not hold what was just written)."""
        return self.replica if self.replica is not None and not self.lags else self.primary

    def store_for(self, size: int) -> Store:
        """The replica when it has replayed ``size`` entries, else the primary."""
        if self.replica is None:
            return self.primary
        if not self.lags:
            return self.replica
        replayed, seen_at = self._replayed
        now = self._clock()
        if size <= replayed and now - seen_at < REPLAYED_FOR_S:
            return self.replica
        replayed = self.replica.size()
        self._replayed = (replayed, now)
        return self.replica if replayed >= size else self.primary


class _FallbackViews:
    """Views on the replica that ask the primary what the replica does not know yet."""

    def __init__(self, replica: PublicViews, primary: PublicViews) -> None:
        self._replica = replica
        self._primary = primary

    def __getattr__(self, name: str) -> Any:
        first = getattr(self._replica, name)
        if not callable(first):
            return first

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return first(*args, **kwargs)
            except NotFoundError:
                second: Callable[..., Any] = getattr(self._primary, name)
                return second(*args, **kwargs)

        return call


def explorer_views(views: PublicViews, url: str | None) -> PublicViews:
    """The explorer's views: read-only, on ``url`` when set, falling back to the primary."""
    if url is None:
        return views.read_only(None)
    return cast(PublicViews, _FallbackViews(views.read_only(url), views.read_only(None)))
