"""Matching funds (配捐, ADR 0040): matchers, their pools, and what a pool matched."""

from __future__ import annotations

from api import models
from api.routes.deps import ERRORS, NoStore, OptionalIdempotencyKey, PlatformOnly, ServicesDep
from api.routes.guarded import resource_router

router = resource_router(tag="matching", responses=ERRORS)


@router.post("/matchers", status_code=201, dependencies=[NoStore])
def register_matcher(
    body: models.MatcherCreate,
    services: ServicesDep,
    principal: PlatformOnly,
    idempotency_key: OptionalIdempotencyKey = None,
) -> models.MatcherCreated:
    """Register a matcher: a company or foundation that matches donations (platform)."""
    return services.register_matcher(body, principal, idempotency_key)


@router.post("/matchers/{matcher_id}/pools", status_code=201, dependencies=[NoStore])
def open_pool(
    matcher_id: str,
    body: models.PoolCreate,
    services: ServicesDep,
    principal: PlatformOnly,
    idempotency_key: OptionalIdempotencyKey = None,
) -> models.PoolPublic:
    """Open a matching pool (platform): ratio, caps, total, window and projects, in the journal.

    Donations recorded with a `payer_ref` are matched by every open pool whose rules allow
    the whole match, in the same append as the donation.
    """
    return services.open_pool(matcher_id, body, principal, idempotency_key)


@router.get("/pools/{pool_id}")
def get_pool(pool_id: str, services: ServicesDep) -> models.PoolPage:
    """A matching pool: its rules, what it spent and its latest matches."""
    return services.views.pool_page(pool_id)


@router.post("/pools/{pool_id}/close", dependencies=[NoStore])
def close_pool(
    pool_id: str,
    body: models.PoolClose,
    services: ServicesDep,
    principal: PlatformOnly,
    idempotency_key: OptionalIdempotencyKey = None,
) -> models.PoolPublic:
    """Close a matching pool (platform): it matches no more donations."""
    return services.close_pool(pool_id, body, principal, idempotency_key)
