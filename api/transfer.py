"""The QR codes that move a donor's list of receipts to another of their devices.

The list lives in the donor's browser only (``explorer/static/history.js``, the "My
donations" page). To move it to a phone, the page shows QR codes of links
``<public URL>/my#import=1~<donation id>.<receipt secret>~…``, a few receipts each; the
browser has no QR encoder, so it asks here. The body is only what follows ``#import=``,
checked against its exact shape; the link is made on this site's own public URL (no QR
code of any other text is made here). Nothing is stored or logged, and no cache may keep
the answer. A code costs a tenth to a quarter of a second of CPU, so each client has a
small rate and one code is drawn at a time per process, in a thread: the endpoint cannot
hold the event loop, and a flood is refused, not queued.
"""

from __future__ import annotations

import json
import math
import re
import threading
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api import receipts
from api.errors import problem, problem_response
from api.per_app import per_app
from api.rpc import RateLimiter, client_of
from api.services import Services
from explorer import history, urls
from ledger.entries import ID_PATTERNS

TRANSFER = re.compile(
    rf"1(?:~{ID_PATTERNS['donation'].pattern}\.[0-9a-f]{{32}}){{1,{history.PER_CODE}}}"
)
"""What follows ``#import=``: a version, then up to PER_CODE ``id.secret`` (history.js)."""

MAX_BODY = 1024
"""Bytes of a request body: PER_CODE receipts take under 600."""

RATE_PER_S = 2.0
BURST = history.MAX_CODES
"""A page asks for at most MAX_CODES codes at once, then seldom again."""

NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(prefix="/api/v1")


class _Gate:
    """Per process: each client's rate, and one code drawn at a time."""

    def __init__(self) -> None:
        self.rates = RateLimiter(RATE_PER_S, BURST, max_wait=0.0, max_clients=10_000)
        self.drawing = threading.Semaphore(1)


def _gate(request: Request) -> _Gate:
    return per_app(request.app, "transfer_gate", _Gate)


async def _body(request: Request) -> bytes | None:
    """The body, or None when it is over MAX_BODY (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


def _payload(body: bytes) -> str | JSONResponse:
    """The ``import`` text of ``{"import": "1~…"}``, or the problem that names what is wrong."""
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        return problem(422, "validation_error", "the body is not JSON", field="body")
    if not isinstance(data, dict) or set(data) != {"import"}:
        return problem(
            422, "validation_error", 'the body is {"import": "1~<id>.<secret>~…"}', field="body"
        )
    text = data["import"]
    if not isinstance(text, str) or not TRANSFER.fullmatch(text):
        return problem(
            422,
            "validation_error",
            f"import must be 1 then 1 to {history.PER_CODE} receipts, each "
            "~<donation id>.<32 lowercase hex receipt secret>",
            field="import",
        )
    return text


def _draw(gate: _Gate, link: str) -> bytes | None:
    if not gate.drawing.acquire(blocking=False):
        return None
    try:
        return receipts.qr_svg(link, small=True)
    finally:
        gate.drawing.release()


@router.post(
    "/receipts/transfer-qr",
    tags=["receipts"],
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}, "description": "the QR code of the link"},
        413: problem_response(f"the body is over {MAX_BODY} bytes"),
        415: problem_response("the body is not application/json"),
        422: problem_response("the body is not one link's worth of receipts"),
        429: problem_response("this client is over its rate (see Retry-After)"),
        503: problem_response("a code is being drawn: retry in a second (see Retry-After)"),
    },
)
async def transfer_qr(request: Request) -> Response:
    """A QR code of the link that adds these receipts to a donor's list on another device.

    Public: the receipts are the asker's own (the page sends what its browser keeps).
    The body is ``{"import": "1~<donation id>.<receipt secret>~…"}``, up to eight
    receipts; the answer is an SVG of ``<public URL>/my#import=…``, never cached.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return problem(415, "unsupported_media_type", "send Content-Type: application/json")
    body = await _body(request)
    if body is None:
        return problem(413, "payload_too_large", f"the body is over {MAX_BODY} bytes")
    payload = _payload(body)
    if isinstance(payload, JSONResponse):
        return payload
    gate = _gate(request)
    served, wait = gate.rates.reserve(client_of(request), 1)
    if not served:
        seconds = max(1, math.ceil(wait))
        return problem(
            429,
            "rate_limited",
            f"rate limit: {BURST} codes at once, then {RATE_PER_S:g} a second; "
            f"retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
            retry_after_s=seconds,
        )
    services: Services = request.app.state.services
    link = urls.absolute(services.settings.public_url, urls.my()) + "#import=" + payload
    svg = await run_in_threadpool(_draw, gate, link)
    if svg is None:
        return problem(
            503,
            "busy",
            "another code is being drawn; retry in a second",
            headers={"Retry-After": "1"},
            retry_after_s=1,
        )
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)
