"""Fund use: disbursements with their evidence, voiding one, and the allocations of
donations to them (and their reversal)."""

from __future__ import annotations

from api import models
from api.routes.deps import (
    ERRORS,
    WRITE_ERRORS,
    AllocationOwner,
    CharityOrPlatform,
    DisbursementOwner,
    Fresh,
    IdempotencyKey,
    ServicesDep,
)
from api.routes.guarded import resource_router

router = resource_router(tag="fund use", responses=ERRORS)


@router.post("/disbursements", status_code=201, responses=WRITE_ERRORS)
def record_disbursement(
    body: models.DisbursementCreate,
    services: ServicesDep,
    principal: CharityOrPlatform,
    idempotency_key: IdempotencyKey,
) -> models.DisbursementPublic:
    """Record fund use with its evidence; `allocate` funds it ("fifo" or a list)."""
    return services.record_disbursement(body, principal, idempotency_key)


@router.get(
    "/disbursements/{disbursement_id}",
    dependencies=[Fresh],
)
def get_disbursement(disbursement_id: str, services: ServicesDep) -> models.DisbursementPublic:
    """A disbursement: payee, purpose, public evidence, the donations that funded it."""
    return services.views.disbursement_view(disbursement_id)


@router.post(
    "/disbursements/{disbursement_id}/void",
    status_code=201,
    responses=WRITE_ERRORS,
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


@router.post("/allocations", status_code=201, responses=WRITE_ERRORS)
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


# -- charity signatures (ADR 0037): what the charity signs for each request ------------------


@router.post("/disbursements/prepare")
def prepare_disbursement(
    body: models.DisbursementCreate, services: ServicesDep, principal: CharityOrPlatform
) -> models.Prepared:
    """The EIP-712 typed data a charity signs for a disbursement (nothing is stored)."""
    return services.prepare_disbursement(body, principal)


@router.post("/disbursements/{disbursement_id}/void/prepare")
def prepare_void(
    disbursement_id: str,
    body: models.Reason,
    services: ServicesDep,
    principal: DisbursementOwner,
) -> models.Prepared:
    """The EIP-712 typed data a charity signs to void a disbursement (nothing is stored)."""
    return services.prepare_void(disbursement_id, body, principal)


@router.post("/allocations/prepare")
def prepare_allocation(
    body: models.AllocationCreate, services: ServicesDep, principal: CharityOrPlatform
) -> models.Prepared:
    """The EIP-712 typed data a charity signs for an allocation (nothing is stored)."""
    return services.prepare_allocation(body, principal)


@router.post("/allocations/{allocation_id}/reversal/prepare")
def prepare_reversal(
    allocation_id: str, body: models.Reason, services: ServicesDep, principal: AllocationOwner
) -> models.Prepared:
    """The EIP-712 typed data a charity signs to reverse an allocation (nothing is stored)."""
    return services.prepare_reversal(allocation_id, body, principal)
