"""Matching funds (配捐, ADR 0040): matchers and their pools, opened and closed by the platform."""

from __future__ import annotations

from api import models
from api.errors import ApiError
from api.keys import Principal
from api.services.base import ServiceCore
from ledger.accounting import MatcherState, PoolState
from ledger.store.requests import Draft, new_id


class MatchingWrites(ServiceCore):
    """Registering matchers, opening and closing their pools."""

    def register_matcher(
        self, body: models.MatcherCreate, principal: Principal, key: str | None = None
    ) -> models.MatcherCreated:
        """Register a matcher (a company or foundation that matches donations): platform."""
        self.require_platform(principal)
        matcher_id = new_id("mt")
        result = self._append(
            [
                Draft(
                    "matcher.registered",
                    {"matcher_id": matcher_id}
                    | body.model_dump(include={"name", "registration_no"}),
                )
            ],
            **self._idempotency("POST /matchers", principal, key, body),
        )
        entry = result.entries[0]
        return models.MatcherCreated(
            id=str(entry.body["matcher_id"]), seq=entry.seq, name=str(entry.body["name"])
        )

    def open_pool(
        self,
        matcher_id: str,
        body: models.PoolCreate,
        principal: Principal,
        key: str | None = None,
    ) -> models.PoolPublic:
        """Open a matching pool of ``matcher_id`` (platform): its rules are the entry's."""
        self.require_platform(principal)
        self.accept_currency(body.currency)
        self.read.require(MatcherState, matcher_id)
        if body.ends_at <= body.starts_at:
            raise ApiError(
                422, "invalid_field", "ends_at: must be after starts_at", field="ends_at"
            )
        pool_id = new_id("mp")
        route = f"POST /matchers/{matcher_id}/pools"
        result = self._append(
            [
                Draft(
                    "match_pool.opened",
                    {
                        "pool_id": pool_id,
                        "matcher_id": matcher_id,
                        "title": body.title,
                        "currency": body.currency,
                        "total": body.total,
                        "ratio_percent": body.ratio_percent,
                        "cap_per_donation": body.cap_per_donation,
                        "cap_per_payer_per_day": body.cap_per_payer_per_day,
                        "min_interval_s": body.min_interval_s,
                        "starts_at": body.starts_at.isoformat(),
                        "ends_at": body.ends_at.isoformat(),
                        "day_offset_minutes": body.day_offset_minutes,
                        "project_ids": body.project_ids,
                    },
                )
            ],
            **self._idempotency(route, principal, key, body),
        )
        return self.views.pool_view(str(result.entries[0].body["pool_id"]))

    def close_pool(
        self, pool_id: str, body: models.PoolClose, principal: Principal, key: str | None = None
    ) -> models.PoolPublic:
        """Close a matching pool (platform): it matches no more donations."""
        self.require_platform(principal)
        self.read.require(PoolState, pool_id)
        route = f"POST /pools/{pool_id}/close"
        self._append(
            [Draft("match_pool.closed", {"pool_id": pool_id, "reason": body.reason})],
            **self._idempotency(route, principal, key, body),
        )
        return self.views.pool_view(pool_id)
