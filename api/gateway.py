"""The gateway: what every HTTP request passes first, in one ASGI layer.

Four duties that used to be four middlewares, each wrapping ``send`` (and ``receive``)
again for every request — on a giving day a quarter of the event loop's time per
donation went to the layers around the route, not to the route (ADR 0045):

- **headers**: ``X-Content-Type-Options: nosniff`` on every answer, the API's and the
  explorer's, so a browser takes each as the type it declares (an evidence file, a CSV
  export or a problem document is never run as script or rendered as HTML);
- **metrics**: every request counted and timed by its route template
  (``api.metrics.RequestMetrics``);
- **write admission**: a write of the journal is refused (429, ``Retry-After``) before
  its body is read when ``write_limit`` writes are in flight — the sequencer's queue is
  bounded, but a request waiting for it would hold its parsed body meanwhile, so
  counting here keeps memory flat however many arrive (ADR 0017);
- **body limit**: a body over its limit is refused (413) before a route reads it, from
  its ``Content-Length`` or, chunked, as it arrives.

Their order is the old stack's: the headers on every answer (the 413 and 429 too), the
metrics around the admission and the limit (so a 429 or 413 is counted), the
admission before the body is read.
"""

from __future__ import annotations

import contextlib
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.metrics import RequestMetrics
from api.slots import Slots

NOT_SEQUENCED = (
    "/api/v1/evidence",
    "/api/v1/chain/rpc",
    "/api/v1/anchor",
    "/api/v1/receipts/transfer-qr",
)
"""POST routes that append nothing to the journal (they are not admitted as writes)."""

NOSNIFF = (b"x-content-type-options", b"nosniff")


class _TooLargeError(Exception):
    pass


class Gateway:
    """Headers, metrics, write admission and the body limit of every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        body_limit: int,
        upload_limit: int,
        write_limit: int,
        metrics: RequestMetrics | None = None,
        retry_after_s: int = 1,
    ) -> None:
        self.app = app
        self.body_limit = body_limit
        self.upload_limit = upload_limit
        self.metrics = metrics
        self.retry_after_s = retry_after_s
        self.writes = Slots(write_limit)
        """Writes of the journal admitted and not yet answered."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        cut_off = answered = False

        async def sending(message: Message) -> None:
            nonlocal status, answered
            # A body without Content-Length (chunked) is cut off while the framework
            # parses it, and FastAPI answers any error of its form parser with a 400:
            # whatever the app made of a body cut off, the answer is ours, the 413.
            if cut_off and not answered:
                return
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                headers = [
                    (k, v)
                    for k, v in message.get("headers", ())
                    if k.lower() != b"x-content-type-options"
                ]
                headers.append(NOSNIFF)
                message = {**message, "headers": headers}
            await send(message)

        try:
            write = self._is_write(scope)
            if write and not self.writes.take():
                await self._refuse_write(scope, receive, sending)
                return
            try:
                limit, setting = self._limit(scope["path"])
                declared = _content_length(scope)
                # More digits than any limit has is over it (int() of thousands raises).
                if declared is not None and (len(declared) > 18 or int(declared) > limit):
                    await _refuse_body(scope, receive, sending, limit, setting)
                    return
                seen = 0

                async def limited() -> Message:
                    nonlocal seen, cut_off
                    message = await receive()
                    if message["type"] == "http.request":
                        seen += len(message.get("body", b""))
                        if seen > limit:
                            cut_off = True
                            raise _TooLargeError
                    return message

                with contextlib.suppress(_TooLargeError):
                    await self.app(scope, limited, sending)
                if cut_off and not answered:
                    cut_off = False  # the refusal goes out
                    await _refuse_body(scope, receive, sending, limit, setting)
            finally:
                if write:
                    self.writes.give_back()
        finally:
            if self.metrics is not None:
                self.metrics.observe(scope, status, time.perf_counter() - started)

    @staticmethod
    def _is_write(scope: Scope) -> bool:
        """A POST that appends to the journal (uploads and the chain's routes do not)."""
        path: str = scope["path"]
        return (
            scope["method"] == "POST"
            and path.startswith("/api/v1/")
            and not path.startswith(NOT_SEQUENCED)
        )

    def _limit(self, path: str) -> tuple[int, str]:
        if path.endswith("/evidence"):
            return self.upload_limit, "API_MAX_UPLOAD_BYTES"
        return self.body_limit, "API_MAX_BODY_BYTES"

    async def _refuse_write(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = errors.problem(
            429,
            "too_many_writes",
            f"{self.writes.taken} writes are already in flight; nothing was stored, try "
            f"again in {self.retry_after_s} s with the same Idempotency-Key",
            headers={"Retry-After": str(self.retry_after_s)},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> bytes | None:
    """The request's ``Content-Length`` if it is all digits (anything else: none)."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return value if value.isdigit() else None
    return None


async def _refuse_body(
    scope: Scope, receive: Receive, send: Send, limit: int, setting: str
) -> None:
    response = errors.problem(
        413,
        "payload_too_large",
        f"request bodies are limited to {limit} bytes ({setting})",
        limit=setting,
        limit_value=limit,
    )
    await response(scope, receive, send)
