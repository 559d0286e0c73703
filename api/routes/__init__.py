"""The HTTP routes under ``/api/v1``: parse, authorize, call a service, return a model.

One module a resource, each with its own router; ``deps`` holds what they depend on (the
services, the caller, role guards, the Idempotency-Key header, the error responses) and
``guarded`` the route class that checks roles before the body is read. The order below is
the order of the OpenAPI document.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    charities,
    disbursements,
    donations,
    evidence,
    exports,
    journal,
    matching,
    receipts,
)
from api.routes.deps import ANY_ROUTE_ERRORS, NO_STORE, PlatformOnly
from api.routes.guarded import GuardedRoute, _is_json, strict_json

__all__ = ["NO_STORE", "PlatformOnly", "_is_json", "router", "strict_json"]

router = APIRouter(responses=ANY_ROUTE_ERRORS, route_class=GuardedRoute)
for resource in (
    charities,
    donations,
    receipts,
    evidence,
    disbursements,
    exports,
    journal,
    matching,
):
    router.include_router(resource.router)
