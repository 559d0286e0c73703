"""Disbursements: fund use with its evidence, and voiding one."""

from __future__ import annotations

from fastapi import APIRouter

from api import models
from api.routes.deps import (
    ERRORS,
    WRITE_ERRORS,
    CharityOrPlatform,
    DisbursementOwner,
    IdempotencyKey,
    ServicesDep,
)
from api.routes.guarded import GuardedRoute

router = APIRouter(route_class=GuardedRoute)


@router.post("/disbursements", status_code=201, responses=WRITE_ERRORS, tags=["fund use"])
def record_disbursement(
    body: models.DisbursementCreate,
    services: ServicesDep,
    principal: CharityOrPlatform,
    idempotency_key: IdempotencyKey,
) -> models.DisbursementPublic:
    """Record fund use with its evidence; `allocate` funds it ("fifo" or a list)."""
    return services.record_disbursement(body, principal, idempotency_key)


@router.get("/disbursements/{disbursement_id}", responses=ERRORS, tags=["fund use"])
def get_disbursement(disbursement_id: str, services: ServicesDep) -> models.DisbursementPublic:
    """A disbursement: payee, purpose, public evidence, the donations that funded it."""
    return services.views.disbursement_view(disbursement_id)


@router.post(
    "/disbursements/{disbursement_id}/void",
    status_code=201,
    responses=WRITE_ERRORS,
    tags=["fund use"],
)
def void_disbursement(
    disbursement_id: str,
    body: models.Reason,
    services: ServicesDep,
    principal: DisbursementOwner,
    idempotency_key: IdempotencyKey,
) -> models.DisbursementPublic:
    """Void a disbursement booked in error; its allocations are reversed first."""
    return services.void_disbursement(disbursement_id, body, principal, idempotency_key)
