"""What the routes depend on: the services, the caller, role guards, headers, responses.

The ``Annotated`` aliases (``ServicesDep``, ``PlatformOnly``, ``IdempotencyKey`` …) are what a
route's signature names; ``GuardedRoute`` (``api.routes.guarded``) checks the role guards
among them before the body is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.errors import TITLES, ForbiddenError, UnauthorizedError, problem_response
from api.keys import PUBLIC, Principal, Role
from api.services import Services
from explorer import caching

bearer = HTTPBearer(auto_error=False, description="platform token, charity key or auditor key")


async def get_services(request: Request) -> Services:
    # async: a plain function would cost every request a trip to the thread pool.
    return services_of(request)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _authenticate(services: Services, token: str | None) -> Principal:
    if token is None:
        return PUBLIC
    principal = services.keys.authenticate(token)
    if principal is None:
        raise UnauthorizedError("the bearer token is not valid (revoked, or never issued)")
    return principal


async def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Who is calling: anyone without a token is the public; a bad token is refused."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:  # GuardedRoute authenticated the caller before the body
        return known
    token = credentials.credentials if credentials else None
    if token is None or services.keys.is_platform(token):
        return _authenticate(services, token)  # no I/O: stay on the event loop
    return await run_in_threadpool(_authenticate, services, token)


def authenticated(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A caller with a valid token (any role)."""
    if principal.role == "public":
        raise UnauthorizedError()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
Authenticated = Annotated[Principal, Depends(authenticated)]

# -- roles before the body ---------------------------------------------------------------------

OwnerOf = Callable[[Services, Mapping[str, str]], str]
"""The charity that owns what a route's path names (its id from the path parameters)."""


class RoleGuard:
    """A dependency that admits only some roles, checked before the request body is read.

    ``GuardedRoute`` runs ``check`` before FastAPI reads, parses or validates the body, so
    a caller without the role gets 401/403 whatever it sends, and learns nothing of the
    body's schema. With ``owner``, a charity key must also be the charity that owns what
    the path names (the platform may act for any charity).
    """

    def __init__(self, *roles: Role, detail: str, owner: OwnerOf | None = None) -> None:
        self.roles = roles
        self.detail = detail
        self.owner = owner

    def check(self, principal: Principal, services: Services, path: Mapping[str, str]) -> None:
        if principal.role == "public":
            raise UnauthorizedError()
        if principal.role not in self.roles:
            raise ForbiddenError(self.detail)
        if self.owner is not None and principal.role == "charity":
            owner = self.owner(services, path)
            if principal.charity_id != owner:
                raise ForbiddenError(f"this key may not write for charity {owner!r}")

    async def __call__(
        self, request: Request, services: ServicesDep, principal: CurrentPrincipal
    ) -> Principal:
        # Through get_principal, the route's OpenAPI names the bearer scheme.
        if not getattr(request.state, "guarded", False):
            # Not under GuardedRoute (a route added elsewhere): check now, still refusing.
            await run_in_threadpool(self.check, principal, services, request.path_params)
        return principal


def _disbursement_owner(services: Services, path: Mapping[str, str]) -> str:
    return services.disbursement(path["disbursement_id"]).charity_id


def _allocation_owner(services: Services, path: Mapping[str, str]) -> str:
    allocation = services.allocation(path["allocation_id"])
    return services.disbursement(allocation.disbursement_id).charity_id


def _charity_or_platform(detail: str, owner: OwnerOf | None = None) -> Any:
    """A charity (the one ``owner`` names, if given), or the platform acting for it."""
    return Depends(RoleGuard("charity", "platform", detail=detail, owner=owner))


DISBURSER_ONLY = "only the charity that made the disbursement, or the platform, may do this"

PlatformOnly = Annotated[
    Principal,
    Depends(RoleGuard("platform", detail="only the platform may do this")),
]
CharityOrPlatform = Annotated[
    Principal, _charity_or_platform("only a charity, or the platform for it, may do this")
]
CharityInPath = Annotated[
    Principal,
    _charity_or_platform(
        "only that charity, or the platform for it, may do this",
        owner=lambda services, path: path["charity_id"],
    ),
]
DisbursementOwner = Annotated[Principal, _charity_or_platform(DISBURSER_ONLY, _disbursement_owner)]
AllocationOwner = Annotated[Principal, _charity_or_platform(DISBURSER_ONLY, _allocation_owner)]
CharityOnly = Annotated[
    Principal,
    Depends(
        RoleGuard("charity", detail="evidence is uploaded by the charity that spent the money")
    ),
]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=100,
        description="same key and body: the same result, once; same key, other body: 409",
    ),
]
OptionalIdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=100)
]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: problem_response(TITLES[status]) for status in (401, 403, 404, 409, 422)
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    428: problem_response("the Idempotency-Key header is missing"),
}
# Any route may answer these: the body limit is checked before routing, and a route that
# needs the chain says when there is none (or it cannot be reached).
ANY_ROUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    413: problem_response("the request body is over the limit"),
    503: problem_response("no chain, or it cannot be reached"),
}

NO_STORE = {"Cache-Control": "no-store"}
"""On every answer that carries a secret (a receipt's, an API key): no cache may keep it."""


def fresh(response: Response) -> None:
    """A public read that can change: cached for seconds, then revalidated (ADR 0036)."""
    response.headers["Cache-Control"] = caching.FRESH


Fresh = Depends(fresh)
"""``dependencies=[Fresh]`` on a public GET route whose answer changes as the journal grows."""


def no_store(response: Response) -> None:
    """An answer that carries a secret: no cache may keep it (``NO_STORE``)."""
    response.headers.update(NO_STORE)


NoStore = Depends(no_store)
"""``dependencies=[NoStore]`` on a route whose answer carries a secret (a receipt's, a key)."""
