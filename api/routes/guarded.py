"""The route class of ``/api/v1``: roles checked before the body, JSON read strictly."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from api.routes.deps import RoleGuard, _authenticate, services_of

PREFIX = "/api/v1"
"""Where the API's routes are."""


def _bearer_token(request: Request) -> str | None:
    # As HTTPBearer(auto_error=False) reads it: another scheme, or none, is the public.
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" and token else None


def _guards(dependant: Dependant) -> Iterator[RoleGuard]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleGuard):
            yield dependency.call
        yield from _guards(dependency)


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKeyError(key)
        obj[key] = value
    return obj


def strict_json(body: bytes) -> Any:
    """Parse a JSON request body, refusing a key given twice in one object (at any depth).

    With duplicates, parsers disagree on which value counts (Python's keeps the last, others
    the first): ``{"amount": 100, "amount": 999999}`` must not mean what one of them says.

    Raises:
        json.JSONDecodeError: not JSON (FastAPI's own answer, ``invalid_json``, follows).
        ApiError: 422 ``duplicate_key``, or ``invalid_json`` for numbers of thousands of
            digits and nesting deeper than the parser's recursion limit.
    """
    try:
        return json.loads(body, object_pairs_hook=_refuse_duplicate_keys)
    except DuplicateKeyError as error:
        raise ApiError(
            422,
            "duplicate_key",
            f"{error.key}: the key appears twice in one JSON object; send each key once",
            field=error.key,
        ) from None
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise ApiError(
            422, "invalid_json", f"the body is not JSON this service reads: {error}", field="body"
        ) from None


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("application/") and (
        media == "application/json" or media.endswith("+json")
    )


class GuardedRoute(APIRoute):
    """A route that authorizes before it reads the body, and reads JSON strictly.

    FastAPI reads and validates the body before it solves any dependency; this runs the
    route's ``RoleGuard`` dependencies first (a wrong role gets 401/403, never 422), then
    parses a JSON body with ``strict_json`` and leaves the result where FastAPI reads it.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards = list(_guards(self.dependant))

        in_memory = all(guard.owner is None for guard in guards)

        async def guarded(request: Request) -> Response:
            if guards:
                token = _bearer_token(request)
                if in_memory and (token is None or services_of(request).keys.is_platform(token)):
                    _authorize(request, guards)  # no I/O: no trip to the thread pool
                else:
                    await run_in_threadpool(_authorize, request, guards)
            if request.method in ("POST", "PUT", "PATCH") and _is_json(
                request.headers.get("content-type")
            ):
                body = await request.body()
                if body:
                    # Not JSON: FastAPI parses it again and answers invalid_json.
                    with contextlib.suppress(json.JSONDecodeError):
                        request._json = strict_json(body)
            return await handler(request)

        return guarded


def _authorize(request: Request, guards: list[RoleGuard]) -> None:
    services = services_of(request)
    principal = _authenticate(services, _bearer_token(request))
    for guard in guards:
        guard.check(principal, services, request.path_params)
    request.state.principal = principal
    request.state.guarded = True


def resource_router(
    *, tag: str | None = None, responses: dict[int | str, dict[str, Any]] | None = None
) -> APIRouter:
    """The router of one resource's routes: under ``/api/v1``, each a ``GuardedRoute``.

    The prefix is the resource router's own, not the including router's: FastAPI keeps an
    included router's routes as they are, and the metrics label a request by its route's
    path (``/api/v1/donations/{donation_id}``). ``tag`` and ``responses`` are every
    route's: a route adds its own to them.
    """
    return APIRouter(
        prefix=PREFIX,
        route_class=GuardedRoute,
        tags=None if tag is None else [tag],
        responses=responses,
    )
