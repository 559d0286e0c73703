"""The donation fast path: ``POST /api/v1/donations`` without FastAPI's per-request machinery.

On a giving day nearly every request is a donation from the payment channel, and most of
the CPU a donation cost went to routing, solving seven dependencies and hopping threads,
not to recording it (ADR 0017). This ASGI layer takes exactly the requests the route
would accept without a question — the platform's token, a JSON body, an
``Idempotency-Key`` — and calls the same service (``Services.record_donation_async``),
answering with the same model and headers. Everything else goes on, untouched, to the
FastAPI route: another token or none, another content type, a missing or bad key, a body
that does not parse or validate. That decision is made before anything is stored, so
every refusal is the route's own answer. An error the service raises is answered by the
app's own exception handlers, exactly as the route would.

It sits inside the body limit, the write admission, the metrics and the headers
middleware, so every limit and header applies to it as to the route.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import models
from api.keys import PLATFORM
from api.routes import NO_STORE, _is_json, strict_json
from api.services import Services

PATH = "/api/v1/donations"
MAX_KEY_LENGTH = 100
"""The route's own bound on ``Idempotency-Key`` (``routes.IdempotencyKey``)."""


def _every_route(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes of an app, those of its included routers too (FastAPI keeps an included
    router as one entry that holds the router it was given)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _every_route(included.routes)
        else:
            yield route


class DonationFastPath:
    """Record a well-formed donation from the platform without FastAPI's routing."""

    def __init__(self, app: ASGIApp, *, services: Services, api: FastAPI) -> None:
        self.app = app
        self.services = services
        self.api = api
        self._route: BaseRoute | None = None
        self.answered = 0
        """Requests this layer answered itself (the rest went on to the route)."""

    @property
    def route(self) -> BaseRoute | None:
        """The FastAPI route this stands in for: the metrics label requests by it."""
        if self._route is None:
            self._route = next(
                (
                    route
                    for route in _every_route(self.api.routes)
                    if getattr(route, "path", None) == PATH
                    and "POST" in getattr(route, "methods", ())
                ),
                None,
            )
        return self._route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != PATH
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        key = headers.get("idempotency-key")
        if (
            not _is_json(headers.get("content-type"))
            or key is None
            or not 0 < len(key) <= MAX_KEY_LENGTH
            or not self.services.keys.is_platform(_bearer(headers.get("authorization")))
        ):
            await self.app(scope, receive, send)  # nothing read yet: the route answers
            return
        body = await _read(receive)
        try:
            donation = models.DonationCreate.model_validate(strict_json(body))
        except Exception:
            # Not JSON, a duplicate key, a field out of bounds: nothing is stored yet.
            await self.app(scope, _replay(body, receive), send)
            return
        scope["route"] = self.route
        request = Request(scope)
        self.answered += 1
        try:
            created = await self.services.record_donation_async(donation, PLATFORM, key)
        except Exception as error:  # answered as the route's exception handlers answer it
            handler = _handler(self.api, error)
            if handler is None:
                raise
            response = await handler(request, error)
            await response(scope, receive, send)
            return
        payload = created.model_dump_json().encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *((k.lower().encode(), v.encode()) for k, v in NO_STORE.items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope.get("headers") or []
        if name in (b"content-type", b"idempotency-key", b"authorization")
    }


def _bearer(authorization: str | None) -> str:
    scheme, token = get_authorization_scheme_param(authorization)  # as HTTPBearer reads it
    return token if scheme.lower() == "bearer" else ""


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands over ``body`` first (it was read), then the rest as it comes."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _handler(app: FastAPI, error: Exception) -> Any:
    for kind in type(error).__mro__:
        handler = app.exception_handlers.get(kind)
        if handler is not None:
            return handler
    return None
