"""The journal, its checkpoints and the chain they are anchored on."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from fastapi.responses import StreamingResponse

from api import models
from api.errors import ApiError, NotFoundError
from api.routes.deps import (
    ERRORS,
    Fresh,
    PlatformOnly,
    ServicesDep,
)
from api.routes.guarded import resource_router
from api.services import Services
from api.witnesses import summary as witness_summary
from explorer import caching
from explorer.views import checkpoint_public
from ledger.entries import MAX_SEQ

router = resource_router(tag="journal")


@router.get("/checkpoints", dependencies=[Fresh])
def list_checkpoints(services: ServicesDep) -> models.CheckpointsPublic:
    """Every anchored checkpoint, oldest first."""
    data = [checkpoint_public(c) for c in services.checkpoints.all()]
    return models.CheckpointsPublic(data=data, count=len(data))


@router.get("/checkpoints/latest", responses=ERRORS, dependencies=[Fresh])
def latest_checkpoint(services: ServicesDep) -> models.CheckpointPublic:
    """The latest anchored checkpoint."""
    latest = services.checkpoints.latest()
    if latest is None:
        raise NotFoundError("checkpoint", "latest")
    return checkpoint_public(latest)


@router.get("/checkpoints/consistency", responses=ERRORS)
def consistency(
    services: ServicesDep,
    response: Response,
    first: Annotated[int, Query(ge=0, le=MAX_SEQ + 1, description="the older tree size")],
    second: Annotated[int, Query(ge=0, le=MAX_SEQ + 1, description="the newer tree size")],
) -> models.ConsistencyPublic:
    """The RFC 6962 proof that the tree at `second` extends the tree at `first`."""
    # Both roots and the proof are the journal's, which only grows: they never change.
    response.headers["Cache-Control"] = caching.IMMUTABLE
    return services.consistency(first, second)


@router.get(
    "/entries",
    response_class=StreamingResponse,
    responses={
        **ERRORS,
        200: {"content": {"application/jsonl": {}}, "description": "JSON Lines"},
    },
)
def journal(
    services: ServicesDep,
    # Bounded by the journal's largest seq: past it, after + 1 + limit overflows a BIGINT.
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="start after this seq")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> StreamingResponse:
    """The journal, one entry per line, exactly as hashed (RFC 8785), streamed."""
    return StreamingResponse(
        services.journal_lines(after, limit), media_type="application/jsonl; charset=utf-8"
    )


def witness_fields(services: Services) -> dict[str, Any]:
    """The witnesses' part of ``/chain`` (ADR 0035): the quorum, the witnessed size, each
    witness's key and lag."""
    setup = services.witnesses
    if setup is None:
        return {}
    found = witness_summary(services.committed_store, setup)
    return {
        "witness_quorum": setup.policy.describe(),
        "witnessed_size": found.witnessed_size,
        "witnesses": [
            models.WitnessPublic(
                name=s.name,
                vkey=s.vkey,
                cosigned_size=s.cosigned_size,
                lag_entries=s.lag_entries,
                lag_seconds=round(s.lag_seconds, 3),
                state=s.outcome,
                detail=s.detail,
                attempted_at=s.attempted_at,
                next_attempt_at=s.next_attempt_at,
            )
            for s in found.statuses
        ],
    }


@router.get("/chain", dependencies=[Fresh])
def chain(services: ServicesDep) -> models.ChainPublic:
    """Where the checkpoints are anchored, and a JSON-RPC endpoint a browser may use."""
    if services.chain is None:
        raise ApiError(503, "no_chain", "this server runs without a chain")
    client = services.chain
    settings = services.anchor_settings
    rpc_url = (
        f"{services.settings.public_url}/api/v1/chain/rpc"
        if client.is_embedded
        else services.settings.chain_rpc_public_url
    )
    return models.ChainPublic(
        chain_id=client.chain_id,
        embedded=client.is_embedded,
        ledger_anchor=client.ledger_anchor.address.lower(),
        charity_registry=client.charity_registry.address.lower(),
        rpc_url=rpc_url,
        confirmations=client.confirmations,
        anchor_interval_s=settings.interval_s if settings else 0,
        anchor_max_pending=settings.max_pending if settings else 0,
        log_origin=services.log.origin if services.log else None,
        log_vkey=services.log.vkey if services.log else None,
        **witness_fields(services),
        finality=client.finality_basis(client.finality, client.confirmations),
        anchoring=services.anchoring_status(),
    )


@router.post("/anchor", responses=ERRORS)
def anchor(services: ServicesDep, principal: PlatformOnly) -> models.CheckpointPublic:
    """Anchor the journal now (platform); returns the latest checkpoint."""
    services.require_platform(principal)
    if services.worker is None:
        raise ApiError(503, "no_chain", "this server runs without a chain")
    checkpoint = services.worker.anchor_now()
    if checkpoint is None:
        raise ApiError(409, "nothing_to_anchor", "the journal is empty")
    return checkpoint_public(checkpoint)
