"""Donations, their refunds and their proof bundles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from api import models
from api.errors import problem_response
from api.routes.deps import (
    ERRORS,
    WRITE_ERRORS,
    Fresh,
    IdempotencyKey,
    NoStore,
    PlatformOnly,
    ServicesDep,
)
from api.routes.guarded import resource_router
from explorer import caching
from ledger.entries import MAX_SEQ

router = resource_router(responses=ERRORS)


@router.post(
    "/donations",
    status_code=201,
    responses=WRITE_ERRORS,
    tags=["donations"],
    dependencies=[NoStore],  # the receipt secret, also when the answer is replayed
)
async def record_donation(
    body: models.DonationCreate,
    services: ServicesDep,
    principal: PlatformOnly,
    idempotency_key: IdempotencyKey,
) -> models.DonationCreated:
    """Record a paid donation (platform, for the payment channel); returns the receipt.

    `paid_at` must lie from the charity's registration to `API_PAID_AT_LEEWAY_MINUTES`
    (5) after the server's clock: otherwise 422 `outside_window`, with the bounds.
    """
    return await services.record_donation_async(body, principal, idempotency_key)


@router.get("/donations/{donation_id}", tags=["donations"], dependencies=[Fresh])
def get_donation(donation_id: str, services: ServicesDep) -> models.DonationPublic:
    """A donation: status, what it funded, refunds, what is unspent. No personal data."""
    return services.views.donation_view(donation_id)


@router.post(
    "/donations/{donation_id}/refunds", status_code=201, responses=WRITE_ERRORS, tags=["donations"]
)
def refund_donation(
    donation_id: str,
    body: models.RefundCreate,
    services: ServicesDep,
    principal: PlatformOnly,
    idempotency_key: IdempotencyKey,
) -> models.Recorded:
    """Refund (part of) a donation (platform); allocated money must be reversed first."""
    return services.refund(donation_id, body, principal, idempotency_key)


@router.get(
    "/donations/{donation_id}/proof",
    responses={409: problem_response("not anchored yet (`not_anchored_yet`)")},
    tags=["proofs"],
)
def get_proof(
    donation_id: str,
    services: ServicesDep,
    response: Response,
    checkpoint: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_SEQ,
            description="against this anchored checkpoint (its index; it must cover the "
            "donation): settled, and cached as such, once it is confirmed. By default the "
            "latest checkpoint that covers the donation, which changes as checkpoints come.",
        ),
    ] = None,
) -> models.ProofBundle:
    """The donation's proof bundle (DESIGN §6), for `shanlian verify` or the browser."""
    bundle, settled = services.proof_bundle_of(donation_id, checkpoint)
    response.headers["Cache-Control"] = caching.SETTLED if settled else caching.FRESH
    return models.ProofBundle.model_validate(bundle)
