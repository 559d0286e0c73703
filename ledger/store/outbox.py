"""Webhooks' durable side: charities' endpoints, and the outbox of deliveries to them.

The journal is the source of events: a delivery is made for an entry that concerns the
endpoint's charity and is of a kind the endpoint asked for. Each endpoint keeps a cursor
(the next ``seq`` to look at); ``queue`` reads the journal from the cursors onward and, in
one transaction, adds a delivery row per event and moves the cursors. Appending never
touches these tables, so webhooks cannot slow ingest, and a crash between the journal and
the outbox loses nothing: the cursor is where the outbox stopped.

Deliveries are at least once: each keeps its id (``msg_…``, the receiver's dedup key)
across attempts and replays. Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field

from ledger.entries import Entry
from ledger.store.journal import Store
from ledger.store.requests import new_id
from ledger.store.rows import all_rows, first_row, record_of
from ledger.store.tables import DONATION, Table, big_integer, table_of

EVENTS: dict[str, str] = {
    "donation.received": "a donation to the charity is recorded",
    "donation.refunded": "a donation to the charity is refunded",
    "allocation.made": "a donation is allocated to one of the charity's disbursements",
    "report.due": "a disclosure report of one of the charity's projects is due (ADR 0039)",
}
"""The events a charity may subscribe to: each is the journal entry kind of that name, but
``report.due``, which the disclosure schedule raises (``queue_reports_due``)."""
REPORT_DUE = "report.due"

PAGE = 500
"""Entries ``queue`` reads at a time."""

LEASE_MS = 60_000
"""How long a delivery taken for an attempt is left to its taker (then due again)."""


class WebhookEndpoint(Table, table=True):
    __tablename__ = "webhook_endpoint"
    endpoint_id: str = Field(primary_key=True, max_length=43)
    charity_id: str = Field(index=True, max_length=43)
    url: str = Field(sa_column=Column(Text, nullable=False))
    events: str = Field(max_length=200)
    """Comma-separated event names."""
    secret: str = Field(max_length=80)
    """``whsec_`` and base64 of 32 random bytes: the HMAC key of Standard Webhooks."""
    created_ms: int = big_integer()
    disabled_ms: int | None = big_integer(nullable=True)
    next_seq: int = big_integer()
    """The journal's next ``seq`` this endpoint has not been looked at for."""


class WebhookDelivery(Table, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "seq"),
        Index("ix_webhook_delivery_state_next_ms", "state", "next_ms"),
        Index("ix_webhook_delivery_endpoint_id_created_ms", "endpoint_id", "created_ms"),
    )
    delivery_id: str = Field(primary_key=True, max_length=44)
    endpoint_id: str = Field(max_length=43)
    seq: int = big_integer()
    event: str = Field(max_length=40)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    """The JSON body sent, fixed when queued (every attempt and replay sends the same)."""
    state: str = Field(max_length=12)
    """``pending``, ``delivered`` or ``failed`` (retries exhausted)."""
    attempts: int
    next_ms: int = big_integer()
    created_ms: int = big_integer()
    last_ms: int | None = big_integer(nullable=True)
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=300)


ENDPOINT = table_of(WebhookEndpoint)
DELIVERY = table_of(WebhookDelivery)


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    charity_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_ms: int
    disabled_ms: int | None
    next_seq: int


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    endpoint_id: str
    seq: int
    event: str
    payload: str
    state: str
    attempts: int
    next_ms: int
    created_ms: int
    last_ms: int | None
    last_status: int | None
    last_error: str | None


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        endpoint_id=row.endpoint_id,
        charity_id=row.charity_id,
        url=row.url,
        events=tuple(row.events.split(",")),
        secret=row.secret,
        created_ms=row.created_ms,
        disabled_ms=row.disabled_ms,
        next_seq=row.next_seq,
    )


def _delivery(row: Any) -> Delivery:
    return record_of(Delivery, row)


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: ``whsec_`` + base64 of 32 bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class Outbox:
    """Endpoints and deliveries, on the journal's database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine: Engine = store.engine

    # -- endpoints -----------------------------------------------------------------------------

    def add_endpoint(
        self, charity_id: str, url: str, events: Sequence[str], now_ms: int
    ) -> Endpoint:
        """A new endpoint, which hears of what is appended from now on."""
        endpoint = Endpoint(
            endpoint_id=new_id("wh"),
            charity_id=charity_id,
            url=url,
            events=tuple(events),
            secret=new_secret(),
            created_ms=now_ms,
            disabled_ms=None,
            next_seq=self.store.size(),
        )
        with self.engine.begin() as connection:
            connection.execute(
                ENDPOINT.insert().values(
                    endpoint_id=endpoint.endpoint_id,
                    charity_id=charity_id,
                    url=url,
                    events=",".join(events),
                    secret=endpoint.secret,
                    created_ms=now_ms,
                    disabled_ms=None,
                    next_seq=endpoint.next_seq,
                )
            )
        return endpoint

    def count_endpoints(self, charity_id: str) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(ENDPOINT)
                    .where(ENDPOINT.c.charity_id == charity_id, ENDPOINT.c.disabled_ms.is_(None))
                ).scalar_one()
            )

    def endpoints(self, charity_id: str) -> list[Endpoint]:
        query = (
            select(ENDPOINT)
            .where(ENDPOINT.c.charity_id == charity_id)
            .order_by(ENDPOINT.c.created_ms, ENDPOINT.c.endpoint_id)
        )
        return all_rows(self.engine, query, _endpoint)

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        query = select(ENDPOINT).where(ENDPOINT.c.endpoint_id == endpoint_id)
        return first_row(self.engine, query, _endpoint)

    def disable(self, endpoint_id: str, now_ms: int) -> None:
        """No more events for this endpoint; what is pending for it is not sent."""
        with self.engine.begin() as connection:
            connection.execute(
                update(ENDPOINT)
                .where(ENDPOINT.c.endpoint_id == endpoint_id, ENDPOINT.c.disabled_ms.is_(None))
                .values(disabled_ms=now_ms)
            )
            connection.execute(
                update(DELIVERY)
                .where(DELIVERY.c.endpoint_id == endpoint_id, DELIVERY.c.state == "pending")
                .values(state="failed", last_error="the endpoint was disabled")
            )

    # -- the outbox ------------------------------------------------------------------------------

    def queue(self, now_ms: int, page: int = PAGE) -> int:
        """Add a delivery for every new event of every live endpoint; how many were added.

        Reads first, then writes the deliveries and moves the cursors in one transaction;
        a cursor moved meanwhile by another process makes the transaction add nothing
        (the unique (endpoint, seq) refuses a delivery twice).
        """
        with self.engine.connect() as connection:
            live = [
                _endpoint(row)
                for row in connection.execute(
                    select(ENDPOINT).where(ENDPOINT.c.disabled_ms.is_(None))
                )
            ]
        if not live:
            return 0
        start = min(endpoint.next_seq for endpoint in live)
        stop = min(self.store.size(), start + page)
        if start >= stop:
            return 0
        entries = [e for e in self.store.entries(start, stop) if e.kind in EVENTS]
        with self.engine.connect() as connection:
            owners = _owners(connection, entries)
        rows = [
            _queued(endpoint, entry, now_ms)
            for endpoint in live
            for entry in entries
            if entry.seq >= endpoint.next_seq
            and entry.kind in endpoint.events
            and owners.get(entry.seq) == endpoint.charity_id
        ]
        with self.engine.begin() as connection:
            if rows:
                connection.execute(DELIVERY.insert(), rows)
            for endpoint in live:
                if endpoint.next_seq < stop:
                    connection.execute(
                        update(ENDPOINT)
                        .where(ENDPOINT.c.endpoint_id == endpoint.endpoint_id)
                        .values(next_seq=stop)
                    )
        return len(rows)

    def due(self, now_ms: int, limit: int = 50) -> list[tuple[Delivery, Endpoint]]:
        """Pending deliveries whose time has come, oldest first, each taken for one attempt.

        Several processes may ask at once: each delivery is taken by one (for LEASE_MS).
        """
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(DELIVERY, ENDPOINT.c.url, ENDPOINT.c.secret, ENDPOINT.c.charity_id)
                .join(ENDPOINT, ENDPOINT.c.endpoint_id == DELIVERY.c.endpoint_id)
                .where(
                    DELIVERY.c.state == "pending",
                    DELIVERY.c.next_ms <= now_ms,
                    ENDPOINT.c.disabled_ms.is_(None),
                )
                .order_by(DELIVERY.c.next_ms, DELIVERY.c.seq)
                .limit(limit)
            ).all()
        out = []
        for row in rows:
            if not self._claim(row.delivery_id, row.next_ms, now_ms + LEASE_MS):
                continue  # another process took it
            endpoint = Endpoint(
                endpoint_id=row.endpoint_id,
                charity_id=row.charity_id,
                url=row.url,
                events=(),
                secret=row.secret,
                created_ms=0,
                disabled_ms=None,
                next_seq=0,
            )
            out.append((_delivery(row), endpoint))
        return out

    def _claim(self, delivery_id: str, next_ms: int, lease_ms: int) -> bool:
        """Take a due delivery for one attempt (its time moved to the lease's end)."""
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(DELIVERY)
                .where(
                    DELIVERY.c.delivery_id == delivery_id,
                    DELIVERY.c.state == "pending",
                    DELIVERY.c.next_ms == next_ms,
                )
                .values(next_ms=lease_ms)
            )
            return taken.rowcount == 1

    def record(
        self,
        delivery: Delivery,
        *,
        now_ms: int,
        status: int | None,
        error: str | None,
        retry_at_ms: int | None,
    ) -> None:
        """One attempt's outcome: delivered (2xx), or retried at ``retry_at_ms``, or failed."""
        delivered = status is not None and 200 <= status < 300
        state = "delivered" if delivered else ("pending" if retry_at_ms is not None else "failed")
        with self.engine.begin() as connection:
            connection.execute(
                update(DELIVERY)
                .where(DELIVERY.c.delivery_id == delivery.delivery_id)
                .values(
                    state=state,
                    attempts=DELIVERY.c.attempts + 1,
                    next_ms=retry_at_ms if retry_at_ms is not None else delivery.next_ms,
                    last_ms=now_ms,
                    last_status=status,
                    last_error=None if error is None else error[:300],
                )
            )

    def deliveries(self, endpoint_id: str, limit: int = 100) -> list[Delivery]:
        """An endpoint's delivery log, newest first."""
        query = (
            select(DELIVERY)
            .where(DELIVERY.c.endpoint_id == endpoint_id)
            .order_by(DELIVERY.c.created_ms.desc(), DELIVERY.c.seq.desc())
            .limit(limit)
        )
        return all_rows(self.engine, query, _delivery)

    def delivery(self, delivery_id: str) -> Delivery | None:
        query = select(DELIVERY).where(DELIVERY.c.delivery_id == delivery_id)
        return first_row(self.engine, query, _delivery)

    def replay(self, delivery_id: str, now_ms: int) -> None:
        """Send a delivery again, now (same id and body), whatever became of it."""
        with self.engine.begin() as connection:
            connection.execute(
                update(DELIVERY)
                .where(DELIVERY.c.delivery_id == delivery_id)
                .values(state="pending", next_ms=now_ms, attempts=0)
            )


# -- report due (ADR 0039) ------------------------------------------------------------------


@dataclass(frozen=True)
class ReportDue:
    """A disclosure report the schedule says is due (or late) and not yet published."""

    charity_id: str
    project_id: str
    project_seq: int
    """The ``seq`` of the project's ``project.opened`` entry: with the period, the event's key."""
    period: str
    due_by: str
    status: str
    url: str


def report_due_key(project_seq: int, period: str) -> int:
    """The delivery's ``seq`` for a report-due event: negative, so it never meets an entry's.

    ``-(project_seq * 1024 + n + 1)``, ``n`` the quarter's number since 2000-Q1 (``final``:
    1023); the unique (endpoint, seq) keeps each event to one delivery an endpoint.
    """
    if period == "final":
        number = 1023
    else:
        year, quarter = period.split("-Q")
        number = min((int(year) - 2000) * 4 + int(quarter) - 1, 1022)
    return -(project_seq * 1024 + number + 1)


def queue_reports_due(outbox: Outbox, now_ms: int, due: Sequence[ReportDue]) -> int:
    """Add a ``report.due`` delivery for each report due, to each endpoint that asked, once."""
    with outbox.engine.connect() as connection:
        live = [
            _endpoint(row)
            for row in connection.execute(select(ENDPOINT).where(ENDPOINT.c.disabled_ms.is_(None)))
        ]
        listening = [e for e in live if REPORT_DUE in e.events]
        if not listening or not due:
            return 0
        sent = {
            (row.endpoint_id, row.seq)
            for row in connection.execute(
                select(DELIVERY.c.endpoint_id, DELIVERY.c.seq).where(
                    DELIVERY.c.endpoint_id.in_([e.endpoint_id for e in listening]),
                    DELIVERY.c.seq < 0,
                )
            )
        }
    rows = []
    for endpoint in listening:
        for report in due:
            key = report_due_key(report.project_seq, report.period)
            if report.charity_id != endpoint.charity_id or (endpoint.endpoint_id, key) in sent:
                continue
            payload = {
                "type": REPORT_DUE,
                "timestamp": datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(),
                "data": {
                    "charity_id": report.charity_id,
                    "project_id": report.project_id,
                    "period": report.period,
                    "due_by": report.due_by,
                    "status": report.status,
                    "report_url": report.url,
                },
            }
            rows.append(_pending(endpoint, key, REPORT_DUE, payload, now_ms))
    if rows:
        with outbox.engine.begin() as connection:
            connection.execute(DELIVERY.insert(), rows)
    return len(rows)


def report_due_listeners(outbox: Outbox) -> set[str]:
    """The charities with a live endpoint that asked for ``report.due``."""
    with outbox.engine.connect() as connection:
        return {
            row.charity_id
            for row in connection.execute(
                select(ENDPOINT.c.charity_id, ENDPOINT.c.events).where(
                    ENDPOINT.c.disabled_ms.is_(None)
                )
            )
            if REPORT_DUE in row.events.split(",")
        }


# -- end of report due -----------------------------------------------------------------------


def _owners(connection: Connection, entries: Iterable[Entry]) -> dict[int, str]:
    """Which charity each entry concerns (refunds and allocations: through the donation)."""
    owners: dict[int, str] = {}
    donations: dict[int, str] = {}
    for entry in entries:
        body = entry.body
        if entry.kind == "donation.received":
            owners[entry.seq] = str(body["charity_id"])
        else:
            donations[entry.seq] = str(body["donation_id"])
    if donations:
        rows = connection.execute(
            select(DONATION.c.donation_id, DONATION.c.charity_id).where(
                DONATION.c.donation_id.in_(set(donations.values()))
            )
        )
        found = {donation_id: charity_id for donation_id, charity_id in rows}
        for seq, donation_id in donations.items():
            if donation_id in found:
                owners[seq] = found[donation_id]
    return owners


def _queued(endpoint: Endpoint, entry: Entry, now_ms: int) -> dict[str, Any]:
    payload = {
        "type": entry.kind,
        "timestamp": entry.at,
        "data": {"charity_id": endpoint.charity_id, "entry": entry.to_json()},
    }
    return _pending(endpoint, entry.seq, entry.kind, payload, now_ms)


def _pending(
    endpoint: Endpoint, seq: int, event: str, payload: dict[str, Any], now_ms: int
) -> dict[str, Any]:
    """A delivery row, due now: its body fixed (every attempt and replay sends the same)."""
    return {
        "delivery_id": new_id("msg"),
        "endpoint_id": endpoint.endpoint_id,
        "seq": seq,
        "event": event,
        "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        "state": "pending",
        "attempts": 0,
        "next_ms": now_ms,
        "created_ms": now_ms,
        "last_ms": None,
        "last_status": None,
        "last_error": None,
    }
