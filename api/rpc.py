"""A read-only JSON-RPC endpoint onto the embedded chain, for browsers and auditors.

It answers exactly what verification reads (the in-browser verifier, ``shanlian verify``
and ``shanlian audit``), and nothing else; what that is, and asking the chain, is
``chain.rpc``'s (the allow-list, the checks and the reads). This module is the HTTP side:

- ``eth_chainId``, ``eth_blockNumber``, ``eth_getBlockByNumber``,
  ``eth_getTransactionReceipt``;
- ``eth_getLogs`` of the LedgerAnchor or the CharityRegistry, over at most
  ``API_RPC_LOGS_MAX_BLOCKS`` blocks;
- ``eth_call`` to the LedgerAnchor or the CharityRegistry of one of their view functions,
  with its gas lowered to ``API_RPC_GAS_CAP``.

Anything else is refused with a JSON-RPC error that says what is offered. The endpoint is
public and CORS-open (a page of another origin may verify), so every request is bounded:
only ``Content-Type: application/json`` (a ``text/plain`` POST skips the browser's CORS
preflight), a batch limit, a per-client token bucket, a bound on the chain reads running
or waiting at once, and a time limit. Chain work runs on a small thread pool, never on the
event loop, so no request of any kind holds up the others.

A refusal of the whole HTTP request is a problem document, as the API's others: 415
``unsupported_media_type``, 429 ``rate_limited`` and 503 ``rpc_busy`` (both with
``Retry-After``). Everything else, a malformed request or batch included, is a JSON-RPC
error in a 200 answer, as a node gives it.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.errors import ApiError, problem, problem_response
from api.per_app import per_app
from api.services import Services
from api.settings import ApiSettings
from api.slots import Slots
from chain.rpc import (
    INVALID_REQUEST,
    PARSE_ERROR,
    Call,
    Limits,
    Readable,
    RpcError,
    check_params,
    error_answer,
    execute,
    parse_call,
    time_limit_error,
)

_PARSE_ERROR = object()


def limits_of(settings: ApiSettings) -> Limits:
    """The endpoint's limits, from its ``API_RPC_*`` settings."""
    return Limits(
        max_batch=settings.rpc_max_batch,
        gas_cap=settings.rpc_gas_cap,
        logs_max_blocks=settings.rpc_logs_max_blocks,
        time_limit_s=settings.rpc_time_limit_s,
    )


# -- who may ask how much ----------------------------------------------------------------


class RateLimiter:
    """A token bucket per client, in memory: ``rate`` calls a second, ``burst`` at once.

    A client over its rate is held (``reserve`` says how long) when its calls fit within
    ``max_wait`` seconds, so a client asking one call after another (an audit) is slowed,
    not failed; beyond, it is refused. The ``max_clients`` most recently seen are kept.
    """

    def __init__(self, rate: float, burst: int, max_wait: float, max_clients: int) -> None:
        self.rate = rate
        self.burst = burst
        self.max_wait = max_wait
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def reserve(self, client: str, cost: int, now: float | None = None) -> tuple[bool, float]:
        """Take ``cost`` calls for ``client``: (served, seconds to wait first or to retry)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, stamp = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            wait = max(0.0, (cost - tokens) / self.rate)
            served = wait <= self.max_wait
            if served:
                tokens -= cost
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return served, wait


def client_of(request: Request) -> str:
    """Who is asking: the peer's address, an IPv6 one by its /64 (one host's network).

    The peer is the TCP peer, or the address uvicorn took from ``X-Forwarded-For`` when
    the peer is a proxy it trusts (``--forwarded-allow-ips`` / ``FORWARDED_ALLOW_IPS``,
    by default only 127.0.0.1); no header is trusted here.
    """
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Gate:
    """The endpoint's shared state: its thread pool, what is admitted, and the rates."""

    def __init__(self, settings: ApiSettings) -> None:
        self.limits = limits_of(settings)
        self.max_pending = settings.rpc_max_pending
        self.rates = RateLimiter(
            settings.rpc_rate_per_s,
            settings.rpc_burst,
            settings.rpc_rate_max_wait_s,
            settings.rpc_max_clients,
        )
        self._pool = ThreadPoolExecutor(settings.rpc_threads, thread_name_prefix="chain-rpc")
        self.slots = Slots(self.max_pending)

    @property
    def admitted(self) -> int:
        """Requests whose chain work runs or waits (abandoned ones until they end)."""
        return self.slots.taken

    @property
    def full(self) -> bool:
        """As many requests are admitted as may be."""
        return self.slots.taken >= self.max_pending

    def admit(self) -> bool:
        """Take a slot for one request's chain work; False when none is free."""
        return self.slots.take()

    async def run(
        self, work: Callable[[], list[dict[str, Any]]], deadline: float
    ) -> list[Any] | None:
        """``work`` on the pool (call ``admit`` first); None when the deadline passes.

        Work still running at the deadline is left to end on its own (its gas cap and
        its chunks bound it) and counts as admitted until then.
        """
        future = self._pool.submit(work)
        future.add_done_callback(self.slots.give_back)
        try:
            return await asyncio.wait_for(
                asyncio.wrap_future(future), max(0.0, deadline - time.monotonic()) + 0.05
            )
        except TimeoutError:
            future.cancel()  # if it has not started, it never will
            return None


def _gate(request: Request, settings: ApiSettings) -> Gate:
    return per_app(request.app, "rpc_gate", lambda: Gate(settings))


# -- the route ---------------------------------------------------------------------------

router = APIRouter(
    prefix="/api/v1",
    responses={
        404: problem_response("a real node serves: use the rpc_url of /chain"),
        413: problem_response("the request body is over the limit"),
    },
)


def _refusal(status: int, code: str, detail: str, retry_after: float | None) -> JSONResponse:
    """A refusal of the whole HTTP request: a problem document, as the API's others."""
    if retry_after is None:
        return problem(status, code, detail)
    seconds = max(1, math.ceil(retry_after))
    return problem(
        status, code, detail, headers={"Retry-After": str(seconds)}, retry_after_s=seconds
    )


def _busy(gate: Gate) -> JSONResponse:
    return _refusal(
        503,
        "rpc_busy",
        f"busy: at most {gate.max_pending} requests read the chain at once "
        "(API_RPC_MAX_PENDING); retry in a second",
        1.0,
    )


@router.post(
    "/chain/rpc",
    tags=["journal"],
    responses={
        200: {"description": "a JSON-RPC 2.0 response (or a batch of them)"},
        415: problem_response("the body is not application/json"),
        429: problem_response("this client is over its rate (see Retry-After)"),
        503: problem_response("too many requests read the chain at once (see Retry-After)"),
    },
)
async def rpc(request: Request) -> JSONResponse:
    """Read-only JSON-RPC onto the embedded chain: what verification reads (limits: API_RPC_*)."""
    services: Services = request.app.state.services
    chain = services.chain
    if chain is None or not chain.is_embedded:
        raise ApiError(
            404, "not_found", "this server's chain is a real node: use the rpc_url of /chain"
        )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _refusal(
            415,
            "unsupported_media_type",
            "send Content-Type: application/json (other media types are refused, so that "
            "no page can post here without the browser's CORS preflight)",
            None,
        )
    settings = services.settings
    gate = _gate(request, settings)
    limits = gate.limits
    if gate.full:  # refused before the body is even read: a flood costs next to nothing
        return _busy(gate)
    try:
        payload = json.loads(await request.body())
    except (ValueError, RecursionError):
        payload = _PARSE_ERROR
    batch = isinstance(payload, list)
    cost = max(1, min(len(payload), limits.max_batch) if batch else 1)
    served, wait = gate.rates.reserve(client_of(request), cost)
    if not served:
        return _refusal(
            429,
            "rate_limited",
            f"rate limit: each client may make {settings.rpc_rate_per_s:g} calls a second "
            f"and {settings.rpc_burst} at once (API_RPC_RATE_PER_S, API_RPC_BURST; a batch "
            f"costs one per request in it); retry in {math.ceil(wait)} s",
            wait,
        )
    if wait > 0:
        await asyncio.sleep(wait)  # a little over the rate: slowed, not refused
    if payload is _PARSE_ERROR:
        return JSONResponse(error_answer(None, PARSE_ERROR, "parse error: the body is not JSON"))
    if batch and not 1 <= len(payload) <= limits.max_batch:
        return JSONResponse(
            error_answer(
                None,
                INVALID_REQUEST,
                f"a batch holds 1 to {limits.max_batch} requests (API_RPC_MAX_BATCH)",
            )
        )
    readable = Readable.of(chain)
    answers: list[dict[str, Any] | None] = []
    work: list[tuple[Call, list[Any]]] = []
    for obj in payload if batch else [payload]:
        call = parse_call(obj)
        if isinstance(call, dict):
            answers.append(call)
            continue
        try:
            work.append((call, check_params(readable, limits, call)))
            answers.append(None)
        except RpcError as error:
            answers.append(error_answer(call.request_id, error.code, error.message))
    if work:
        if not gate.admit():
            return _busy(gate)
        deadline = time.monotonic() + limits.time_limit_s
        done = await gate.run(functools.partial(execute, chain, limits, work, deadline), deadline)
        if done is None:
            late = time_limit_error(limits)
            done = [error_answer(call.request_id, late.code, late.message) for call, _ in work]
        results = iter(done)
        answers = [answer if answer is not None else next(results) for answer in answers]
    return JSONResponse(answers if batch else answers[0])
