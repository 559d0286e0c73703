"""Charities, their keys and their projects."""

from __future__ import annotations

from api import models
from api.routes.deps import (
    ERRORS,
    CharityInPath,
    Fresh,
    NoStore,
    OptionalIdempotencyKey,
    PlatformOnly,
    ServicesDep,
)
from api.routes.guarded import resource_router

router = resource_router(tag="charities", responses=ERRORS)


@router.post("/charities", status_code=201, dependencies=[NoStore])
def register_charity(
    body: models.CharityCreate, services: ServicesDep, principal: PlatformOnly
) -> models.CharityCreated:
    """Register a charity (platform); its API key is in the answer, and only there."""
    return services.register_charity(body, principal)


@router.get("/charities/{charity_id}", dependencies=[Fresh])
def get_charity(charity_id: str, services: ServicesDep) -> models.CharityPublic:
    """A charity, its projects and balances."""
    return services.views.charity_view(charity_id)


@router.post("/charities/{charity_id}/projects", status_code=201)
def open_project(
    charity_id: str,
    body: models.ProjectCreate,
    services: ServicesDep,
    principal: CharityInPath,
    idempotency_key: OptionalIdempotencyKey = None,
) -> models.ProjectPublic:
    """Open a project (that charity, or the platform)."""
    return services.open_project(charity_id, body, principal, idempotency_key)


@router.post(
    "/charities/{charity_id}/keys",
    status_code=201,
    responses={201: {"headers": {"Cache-Control": {"schema": {"type": "string"}}}}},
    dependencies=[NoStore],  # the key: no cache may keep it
)
def rotate_charity_key(
    charity_id: str, services: ServicesDep, principal: CharityInPath
) -> models.CharityKeyIssued:
    """Rotate a charity's key (itself, or the platform): a new key once; older ones refused."""
    services.require_charity(principal, charity_id)
    services.charity(charity_id)  # 404 for a charity that does not exist
    issued = services.keys.rotate_charity(charity_id)
    return models.CharityKeyIssued(
        charity_id=charity_id,
        key_id=issued.key_id,
        api_key=issued.key,
        revoked=list(issued.revoked),
    )


@router.get("/projects/{project_id}", dependencies=[Fresh])
def get_project(project_id: str, services: ServicesDep) -> models.ProjectPublic:
    """A project and its balances."""
    return services.views.project_view(project_id)


# -- charity signatures (ADR 0037) -----------------------------------------------------------


@router.post("/charities/{charity_id}/projects/prepare")
def prepare_project(
    charity_id: str, body: models.ProjectCreate, services: ServicesDep, principal: CharityInPath
) -> models.Prepared:
    """The EIP-712 typed data a charity signs to open a project (nothing is stored)."""
    return services.prepare_project(charity_id, body, principal)


@router.post("/charities/{charity_id}/signer", status_code=201)
def change_signer(
    charity_id: str,
    body: models.SignerChange,
    services: ServicesDep,
    principal: CharityInPath,
    idempotency_key: OptionalIdempotencyKey = None,
) -> models.Recorded:
    """Rotate (or revoke, signer null) a charity's signing key, signed by the one it replaces."""
    return services.change_signer(charity_id, body, principal, idempotency_key)


@router.post("/charities/{charity_id}/signer/prepare")
def prepare_signer_change(
    charity_id: str, body: models.SignerChange, services: ServicesDep, principal: CharityInPath
) -> models.Prepared:
    """The EIP-712 typed data the current signer signs to rotate the key (nothing is stored)."""
    return services.prepare_signer_change(charity_id, body, principal)
