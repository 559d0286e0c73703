"""Webhooks for charities: endpoints, their delivery log, replays, and the delivery worker.

A charity registers an endpoint (a URL and the events it wants: ``donation.received``,
``donation.refunded``, ``allocation.made``) and is given its signing secret once. The
worker (a thread of ``shanlian serve``) reads new journal entries into the outbox
(``ledger.store.outbox``), then posts each due delivery as Standard Webhooks say: the
headers ``webhook-id`` (the delivery's id, the same on every retry: the receiver's dedup
key), ``webhook-timestamp`` and ``webhook-signature`` (``v1,`` base64 HMAC-SHA256 of
``id.timestamp.body`` under the secret). A 2xx answer delivers it; anything else (or no
answer within ``API_WEBHOOK_TIMEOUT_S``) is retried after 5 s, 5 min, 30 min, 2 h, 5 h,
10 h and 10 h, then marked failed; the charity can replay any delivery.

The URL is the charity's choice, so the worker never becomes a way into the platform's
network: only ``https`` to public addresses (every address the name resolves to is
checked before each attempt), no redirects followed, the answer's body not read, unless
``API_WEBHOOK_ALLOW_PRIVATE`` is set (tests, a private deployment).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

import httpx
import sqlalchemy.exc
from fastapi import Query, Response
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field

from api.errors import ApiError, NotFoundError
from api.keys import Principal
from api.outbound import UnsafeUrlError, check_url
from api.outbound_worker import OutboundWorker
from api.routes.deps import ERRORS, CharityInPath, ServicesDep
from api.routes.guarded import resource_router
from api.services import Services
from api.settings import ApiSettings
from ledger.store.outbox import (
    EVENTS,
    Delivery,
    Endpoint,
    Outbox,
    ReportDue,
    queue_reports_due,
)

log = logging.getLogger("shanlian.webhooks")

ATTEMPTS = Counter(
    "shanlian_webhook_attempts_total",
    "Webhook delivery attempts, by outcome (delivered, retry, failed)",
    ["result"],
)

RETRY_AFTER_S = (5, 300, 1_800, 7_200, 18_000, 36_000, 36_000)
"""Pauses after each failed attempt (Standard Webhooks' example schedule); then failed."""

USER_AGENT = "shanlian-webhooks/1"
REPORT_DUE_EVERY_MS = 60_000
"""How often the worker asks the disclosure schedule which reports are due (ADR 0039)."""

Event = Literal["donation.received", "donation.refunded", "allocation.made", "report.due"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _moment(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


# -- signing -------------------------------------------------------------------------------------


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of Standard Webhooks (one ``v1`` signature)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


# -- the worker ----------------------------------------------------------------------------------


class WebhookWorker(OutboundWorker):
    """Moves new events into the outbox and delivers what is due (one thread, any process)."""

    name = "webhooks"

    def __init__(
        self,
        outbox: Outbox,
        settings: ApiSettings,
        clock: Callable[[], int] = now_ms,
        poll_s: float = 1.0,
        reports_due: Callable[[], Sequence[ReportDue]] | None = None,
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self.poll_s = poll_s
        self.reports_due = reports_due
        """The disclosure schedule's reports due (ADR 0039), asked every REPORT_DUE_EVERY_MS."""
        self._reports_checked_ms: int | None = None
        super().__init__(settings, timeout_s=settings.webhook_timeout_s, user_agent=USER_AGENT)

    def run_once(self) -> int:
        """Queue new events and attempt every due delivery once; how many were attempted."""
        # Another process may queue the same events first: they are in the outbox then.
        with contextlib.suppress(sqlalchemy.exc.IntegrityError):
            self.outbox.queue(self.clock())
        self.queue_reports_due()
        attempted = 0
        for delivery, endpoint in self.outbox.due(self.clock()):
            self.attempt(delivery, endpoint)
            attempted += 1
        return attempted

    def queue_reports_due(self) -> int:
        """Queue a ``report.due`` event for each report newly due (ADR 0039), at most once
        every REPORT_DUE_EVERY_MS: the schedule changes by the day, not by the second."""
        now = self.clock()
        last = self._reports_checked_ms
        if self.reports_due is None or (last is not None and now - last < REPORT_DUE_EVERY_MS):
            return 0
        self._reports_checked_ms = now
        # Another process may queue the same events first: the unique (endpoint, seq) says so.
        with contextlib.suppress(sqlalchemy.exc.IntegrityError):
            return queue_reports_due(self.outbox, now, self.reports_due())
        return 0

    def attempt(self, delivery: Delivery, endpoint: Endpoint) -> None:
        status: int | None = None
        error: str | None = None
        try:
            check_url(endpoint.url, allow_private=self.settings.webhook_allow_private, resolve=True)
            body = delivery.payload.encode("utf-8")
            timestamp = int(time.time())  # the receiver checks it against its own clock
            headers = {
                "Content-Type": "application/json",
                "webhook-id": delivery.delivery_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(endpoint.secret, delivery.delivery_id, timestamp, body),
            }
            with self._http.stream("POST", endpoint.url, content=body, headers=headers) as answer:
                status = answer.status_code  # the body is not read: nothing of it is kept
            if not 200 <= status < 300:
                error = f"the endpoint answered HTTP {status}"
        except UnsafeUrlError as refused:
            error = f"not sent: {refused}"
        except httpx.HTTPError as failed:
            error = f"{type(failed).__name__}: {failed}" if str(failed) else type(failed).__name__
        done = status is not None and 200 <= status < 300
        retry_at = None
        if not done and delivery.attempts < len(RETRY_AFTER_S):
            retry_at = self.clock() + RETRY_AFTER_S[delivery.attempts] * 1000
        self.outbox.record(
            delivery, now_ms=self.clock(), status=status, error=error, retry_at_ms=retry_at
        )
        ATTEMPTS.labels("delivered" if done else "retry" if retry_at else "failed").inc()
        log.info(
            "webhook %s seq %d to %s: %s",
            delivery.delivery_id,
            delivery.seq,
            endpoint.endpoint_id,
            "delivered" if done else (error or "failed"),
        )

    def pause_s(self) -> float:
        return self.poll_s


def start_worker(services: Services, stop: threading.Event) -> threading.Thread:
    """The delivery worker of ``services``, in a daemon thread, until ``stop`` is set."""
    from api.disclosure import reports_due  # it imports the routes' dependencies

    worker = WebhookWorker(
        Outbox(services.store), services.settings, reports_due=lambda: reports_due(services)
    )
    return worker.start(stop)


# -- the routes ----------------------------------------------------------------------------------


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://charity.example.org/shanlian-hook",
                    "events": ["donation.received", "allocation.made"],
                }
            ]
        },
    )
    url: Annotated[str, Field(min_length=8, max_length=2_000)]
    events: Annotated[list[Event], Field(min_length=1, max_length=len(EVENTS))]


class WebhookPublic(BaseModel):
    id: str
    charity_id: str
    url: str
    events: list[str]
    created_at: datetime
    disabled_at: datetime | None


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="the signing secret (Standard Webhooks, whsec_…): shown only now"
    )


class DeliveryPublic(BaseModel):
    id: str = Field(description="the webhook-id header: the same on every attempt and replay")
    seq: int
    event: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None


class DeliveriesPublic(BaseModel):
    data: list[DeliveryPublic]


def _public_endpoint(endpoint: Endpoint) -> WebhookPublic:
    return WebhookPublic(
        id=endpoint.endpoint_id,
        charity_id=endpoint.charity_id,
        url=endpoint.url,
        events=list(endpoint.events),
        created_at=_moment(endpoint.created_ms),  # type: ignore[arg-type]
        disabled_at=_moment(endpoint.disabled_ms),
    )


def _public_delivery(delivery: Delivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=delivery.delivery_id,
        seq=delivery.seq,
        event=delivery.event,
        state=delivery.state,  # type: ignore[arg-type]
        attempts=delivery.attempts,
        created_at=_moment(delivery.created_ms),  # type: ignore[arg-type]
        last_attempt_at=_moment(delivery.last_ms),
        next_attempt_at=_moment(delivery.next_ms) if delivery.state == "pending" else None,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
    )


def _charity(services: Services, principal: Principal, charity_id: str) -> None:
    """403 for another charity's key; 404 for a charity that does not exist (any id)."""
    services.require_charity(principal, charity_id)
    services.charity(charity_id)


def outbox_of(services: Services) -> Outbox:
    return Outbox(services.store)


def _own_endpoint(services: Services, charity_id: str, endpoint_id: str) -> Endpoint:
    # No id holds a NUL (PostgreSQL text cannot even be asked for one).
    endpoint = None if "\x00" in endpoint_id else outbox_of(services).endpoint(endpoint_id)
    # Another charity's endpoint is "not found" to this one: ids are not confirmed.
    if endpoint is None or endpoint.charity_id != charity_id:
        raise NotFoundError("webhook", endpoint_id)
    return endpoint


router = resource_router(tag="webhooks", responses=ERRORS)


@router.post("/charities/{charity_id}/webhooks", status_code=201)
def create_webhook(
    charity_id: str,
    body: WebhookCreate,
    services: ServicesDep,
    principal: CharityInPath,
    response: Response,
) -> WebhookCreated:
    """Register an endpoint for the charity's events (the charity's key, or the platform).

    The answer holds the signing secret, once: keep it to check each delivery's
    ``webhook-signature``.
    """
    _charity(services, principal, charity_id)
    try:
        check_url(body.url, allow_private=services.settings.webhook_allow_private, resolve=False)
    except UnsafeUrlError as error:
        raise ApiError(422, "validation_error", f"url: {error}", field="url") from None
    outbox = outbox_of(services)
    limit = services.settings.webhook_max_endpoints
    if outbox.count_endpoints(charity_id) >= limit:
        raise ApiError(
            409,
            "too_many_webhooks",
            f"a charity may have {limit} webhook endpoints (API_WEBHOOK_MAX_ENDPOINTS): "
            "remove one first",
        )
    events = sorted(set(body.events))
    endpoint = outbox.add_endpoint(charity_id, body.url, events, now_ms())
    response.headers["Cache-Control"] = "no-store"  # the secret
    return WebhookCreated(**_public_endpoint(endpoint).model_dump(), secret=endpoint.secret)


@router.get("/charities/{charity_id}/webhooks")
def list_webhooks(
    charity_id: str, services: ServicesDep, principal: CharityInPath
) -> list[WebhookPublic]:
    """The charity's endpoints, removed ones included (secrets are never shown again)."""
    _charity(services, principal, charity_id)
    return [_public_endpoint(e) for e in outbox_of(services).endpoints(charity_id)]


@router.delete("/charities/{charity_id}/webhooks/{endpoint_id}", status_code=204)
def remove_webhook(
    charity_id: str, endpoint_id: str, services: ServicesDep, principal: CharityInPath
) -> Response:
    """Stop sending to an endpoint (its log stays; what was pending is not sent)."""
    _charity(services, principal, charity_id)
    _own_endpoint(services, charity_id, endpoint_id)
    outbox_of(services).disable(endpoint_id, now_ms())
    return Response(status_code=204)


@router.get("/charities/{charity_id}/webhooks/{endpoint_id}/deliveries")
def list_deliveries(
    charity_id: str,
    endpoint_id: str,
    services: ServicesDep,
    principal: CharityInPath,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveriesPublic:
    """The endpoint's delivery log, newest first: state, attempts, last answer."""
    _charity(services, principal, charity_id)
    _own_endpoint(services, charity_id, endpoint_id)
    deliveries = outbox_of(services).deliveries(endpoint_id, limit)
    return DeliveriesPublic(data=[_public_delivery(d) for d in deliveries])


@router.post(
    "/charities/{charity_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay",
    status_code=202,
)
def replay_delivery(
    charity_id: str,
    endpoint_id: str,
    delivery_id: str,
    services: ServicesDep,
    principal: CharityInPath,
) -> DeliveryPublic:
    """Send a delivery again at once, with the same id and body (any state)."""
    _charity(services, principal, charity_id)
    endpoint = _own_endpoint(services, charity_id, endpoint_id)
    if endpoint.disabled_ms is not None:
        raise ApiError(409, "webhook_removed", f"webhook {endpoint_id} was removed")
    outbox = outbox_of(services)
    delivery = None if "\x00" in delivery_id else outbox.delivery(delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFoundError("delivery", delivery_id)
    outbox.replay(delivery_id, now_ms())
    replayed = outbox.delivery(delivery_id)
    assert replayed is not None
    return _public_delivery(replayed)
