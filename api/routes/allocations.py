"""Allocations of donations to disbursements, and their reversal."""

from __future__ import annotations

from fastapi import APIRouter

from api import models
from api.routes.deps import (
    WRITE_ERRORS,
    AllocationOwner,
    CharityOrPlatform,
    IdempotencyKey,
    ServicesDep,
)
from api.routes.guarded import GuardedRoute

router = APIRouter(route_class=GuardedRoute)


@router.post("/allocations", status_code=201, responses=WRITE_ERRORS, tags=["fund use"])
def allocate(
    body: models.AllocationCreate,
    services: ServicesDep,
    principal: CharityOrPlatform,
    idempotency_key: IdempotencyKey,
) -> models.AllocationPublic:
    """Allocate (part of) a donation to a disbursement of the same charity."""
    return services.allocate(body, principal, idempotency_key)


@router.post(
    "/allocations/{allocation_id}/reversal",
    status_code=201,
    responses=WRITE_ERRORS,
    tags=["fund use"],
)
def reverse_allocation(
    allocation_id: str,
    body: models.Reason,
    services: ServicesDep,
    principal: AllocationOwner,
    idempotency_key: IdempotencyKey,
) -> models.AllocationPublic:
    """Reverse an allocation: the money is the donation's again."""
    return services.reverse_allocation(allocation_id, body, principal, idempotency_key)
