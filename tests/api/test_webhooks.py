"""Webhooks: a charity hears of its money from a real HTTP receiver, signed and retried.

The receiver is a real HTTP server on loopback (so the API runs with
``webhook_allow_private``); every delivery is checked with the ``standardwebhooks``
package, which no one here wrote. The worker's clock is moved by hand to reach retries.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook

from api.disclosure import reports_due
from api.webhooks import RETRY_AFTER_S, WebhookWorker
from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from ledger.store.outbox import Outbox
from tests.api.conftest import Api, ApiFactory, new_key
from tests.api.test_disclosure import build_world


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server that records each POST and answers with the next planned status."""

    url: str
    received: list[Received] = field(default_factory=list)
    plan: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    redirect_to: str | None = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    box = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            box.received.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(box.delay_s)
            status = box.plan.pop(0) if box.plan else 204
            self.send_response(status)
            if 300 <= status < 400 and box.redirect_to:
                self.send_header("Location", box.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooked(make_api: ApiFactory, database_url: str) -> Api:
    """The API on SQLite and on PostgreSQL, allowed to post to the loopback receiver."""
    chain = ChainClient.embedded(chain=EmbeddedChain())
    chain.deploy()
    return make_api(database_url, chain, webhook_allow_private=True, webhook_timeout_s=1.0)


class Clock:
    def __init__(self) -> None:
        self.ms = time.time_ns() // 1_000_000

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def worker_of(api: Api, clock: Clock) -> WebhookWorker:
    return WebhookWorker(Outbox(api.store), api.services.settings, clock=clock)


def register(api: Api, charity_id: str, auth: dict[str, str], url: str, **body: Any) -> Any:
    return api.client.post(
        f"/api/v1/charities/{charity_id}/webhooks",
        json={"url": url, "events": ["donation.received"]} | body,
        headers=auth,
    )


def deliveries(api: Api, charity_id: str, endpoint_id: str, auth: dict[str, str]) -> list[Any]:
    answer = api.client.get(
        f"/api/v1/charities/{charity_id}/webhooks/{endpoint_id}/deliveries", headers=auth
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_a_charity_hears_of_its_donations_refunds_and_allocations_signed(
    hooked: Api, receiver: Receiver
) -> None:
    charity, auth = hooked.register_charity()
    other, other_auth = hooked.register_charity("另一家基金会")
    project = hooked.open_project(charity, auth)
    events = ["donation.received", "donation.refunded", "allocation.made"]
    created = register(hooked, charity, auth, receiver.url, events=events)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    hook = created.json()
    assert hook["secret"].startswith("whsec_")
    assert sorted(hook["events"]) == sorted(events)

    first = hooked.donate(charity, project, amount=10_000)
    second = hooked.donate(charity, None, amount=3_000)
    hooked.donate(other, None, amount=7_000)  # another charity's: not sent here
    refund = hooked.client.post(
        f"/api/v1/donations/{second['id']}/refunds",
        json={"amount": 3_000, "reason": "duplicate payment"},
        headers=hooked.platform | new_key(),
    )
    assert refund.status_code == 201, refund.text
    hooked.disburse(
        charity,
        project,
        auth,
        amount=6_000,
        allocate=[{"donation_id": first["id"], "amount": 6_000}],
    )

    clock = Clock()
    worker = worker_of(hooked, clock)
    assert worker.run_once() == 4
    verifier = Webhook(hook["secret"])
    kinds = []
    for got in receiver.received:
        payload = verifier.verify(got.body, got.headers)  # raises on a bad signature
        assert payload["data"]["charity_id"] == charity
        kinds.append(payload["type"])
        assert got.headers["webhook-id"].startswith("msg_")
    assert kinds == [
        "donation.received",
        "donation.received",
        "donation.refunded",
        "allocation.made",
    ]
    amounts = [json.loads(r.body)["data"]["entry"]["body"].get("amount") for r in receiver.received]
    assert amounts == [10_000, 3_000, 3_000, 6_000]
    assert worker.run_once() == 0  # each once
    log = deliveries(hooked, charity, hook["id"], auth)
    assert {d["state"] for d in log} == {"delivered"}
    assert all(d["last_status"] == 204 for d in log)
    # The other charity sees none of it, and may not look.
    assert (
        hooked.client.get(f"/api/v1/charities/{charity}/webhooks", headers=other_auth).status_code
        == 403
    )
    assert (
        hooked.client.get(
            f"/api/v1/charities/{other}/webhooks/{hook['id']}/deliveries", headers=other_auth
        ).status_code
        == 404
    )
    listed = hooked.client.get(f"/api/v1/charities/{charity}/webhooks", headers=auth).json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]  # shown once, at creation
    worker.close()


def test_failures_are_retried_with_backoff_under_one_id_then_marked_failed(
    hooked: Api, receiver: Receiver
) -> None:
    charity, auth = hooked.register_charity()
    hook = register(hooked, charity, auth, receiver.url).json()
    hooked.donate(charity, None)
    clock = Clock()
    worker = worker_of(hooked, clock)
    receiver.plan = [500, 503]
    assert worker.run_once() == 1
    assert worker.run_once() == 0  # not due yet
    clock.advance(RETRY_AFTER_S[0])
    assert worker.run_once() == 1
    clock.advance(RETRY_AFTER_S[1])
    assert worker.run_once() == 1  # the plan is spent: 204
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 3
    assert len(ids) == 1  # the receiver can tell it is the same delivery
    [delivery] = deliveries(hooked, charity, hook["id"], auth)
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 3

    # An endpoint that never answers 2xx: every retry, then failed.
    hooked.donate(charity, None)
    receiver.plan = [500] * 20
    worker.run_once()
    for pause in RETRY_AFTER_S:
        clock.advance(pause)
        worker.run_once()
    newest = deliveries(hooked, charity, hook["id"], auth)[0]
    assert newest["state"] == "failed"
    assert newest["attempts"] == len(RETRY_AFTER_S) + 1
    assert newest["last_error"] == "the endpoint answered HTTP 500"

    # A replay sends it again, at once, with the same id.
    receiver.plan = []
    replayed = hooked.client.post(
        f"/api/v1/charities/{charity}/webhooks/{hook['id']}/deliveries/{newest['id']}/replay",
        headers=auth,
    )
    assert replayed.status_code == 202, replayed.text
    assert worker.run_once() == 1
    assert receiver.received[-1].headers["webhook-id"] == newest["id"]
    assert deliveries(hooked, charity, hook["id"], auth)[0]["state"] == "delivered"
    worker.close()


def test_a_slow_endpoint_or_a_redirect_is_a_failed_attempt(hooked: Api, receiver: Receiver) -> None:
    charity, auth = hooked.register_charity()
    hook = register(hooked, charity, auth, receiver.url).json()
    worker = worker_of(hooked, Clock())
    receiver.delay_s = 3.0  # over the 1 s the API was given
    hooked.donate(charity, None)
    worker.run_once()
    receiver.delay_s = 0.0
    [slow] = deliveries(hooked, charity, hook["id"], auth)
    assert slow["state"] == "pending"
    assert "Timeout" in slow["last_error"]
    receiver.plan = [302]
    receiver.redirect_to = receiver.url.replace("/hooks", "/elsewhere")
    hooked.donate(charity, None)
    worker.run_once()
    assert [r.path for r in receiver.received].count("/elsewhere") == 0  # not followed
    assert deliveries(hooked, charity, hook["id"], auth)[0]["last_status"] == 302
    worker.close()


def test_removing_an_endpoint_stops_its_deliveries(hooked: Api, receiver: Receiver) -> None:
    charity, auth = hooked.register_charity()
    hook = register(hooked, charity, auth, receiver.url).json()
    hooked.donate(charity, None)
    removed = hooked.client.delete(
        f"/api/v1/charities/{charity}/webhooks/{hook['id']}", headers=auth
    )
    assert removed.status_code == 204
    worker = worker_of(hooked, Clock())
    worker.run_once()
    assert receiver.received == []
    worker.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://example.org/hooks", "https"),
        ("https://127.0.0.1/hooks", "not a public address"),
        ("https://10.1.2.3/hooks", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a public address"),
        ("https://[::1]/hooks", "not a public address"),
        ("https://[::ffff:192.168.0.1]/hooks", "not a public address"),
        ("https://localhost/hooks", "not a public host"),
        ("https://db.internal/hooks", "not a public host"),
        ("https://user:pw@example.org/hooks", "user name or password"),
        ("ftp://example.org/hooks", "https"),
        ("https://example.org:99999/hooks", "not a URL"),
    ],
)
def test_an_endpoint_the_platform_must_not_post_to_is_refused(
    make_api: ApiFactory, sqlite_url: str, url: str, problem: str
) -> None:
    api = make_api(sqlite_url)  # the defaults: public https only
    charity, auth = api.register_charity()
    answer = register(api, charity, auth, url)
    assert answer.status_code == 422, answer.text
    assert problem in answer.json()["detail"]
    assert Outbox(api.store).endpoints(charity) == []


def test_a_name_that_resolves_to_a_private_address_is_not_posted_to(
    make_api: ApiFactory, sqlite_url: str
) -> None:
    api = make_api(sqlite_url)
    host = socket.gethostname()  # resolves to this machine: a private address
    charity, auth = api.register_charity()
    hook = register(api, charity, auth, f"https://{host}/hooks")
    assert hook.status_code == 201, hook.text  # a name is checked when it is posted to
    api.donate(charity, None)
    worker = worker_of(api, Clock())
    worker.run_once()
    [attempt] = deliveries(api, charity, hook.json()["id"], auth)
    assert attempt["last_status"] is None
    assert "not public" in attempt["last_error"] or "does not resolve" in attempt["last_error"]
    worker.close()


def test_who_may_register_what_and_how_many(hooked: Api, receiver: Receiver) -> None:
    charity, auth = hooked.register_charity()
    other, other_auth = hooked.register_charity("另一家基金会")
    assert register(hooked, charity, other_auth, receiver.url).status_code == 403
    assert register(hooked, charity, {}, receiver.url).status_code == 401
    assert (
        register(hooked, charity, auth, receiver.url, events=["donation.made"]).status_code == 422
    )
    assert register(hooked, charity, auth, receiver.url, events=[]).status_code == 422
    assert register(hooked, charity, auth, receiver.url, secret="mine").status_code == 422
    assert register(hooked, "ch_nosuchcharity", hooked.platform, receiver.url).status_code == 404
    made = [register(hooked, charity, auth, receiver.url).status_code for _ in range(10)]
    assert made == [201] * 10
    over = register(hooked, charity, auth, receiver.url)
    assert over.status_code == 409
    assert "API_WEBHOOK_MAX_ENDPOINTS" in over.json()["detail"]
    assert len(Outbox(hooked.store).endpoints(charity)) == 10
    # The platform may act for any charity.
    assert register(hooked, other, hooked.platform, receiver.url).status_code == 201


# -- the report-due webhook event ------------------------------------------------------------


def test_a_charity_is_told_when_a_report_is_due_once_signed(
    make_api: ApiFactory, sqlite_url: str, receiver: Receiver
) -> None:
    chain = ChainClient.embedded(chain=EmbeddedChain())
    chain.deploy()
    api = make_api(sqlite_url, chain, webhook_allow_private=True, webhook_timeout_s=1.0)
    world = build_world(api)
    created = api.client.post(
        f"/api/v1/charities/{world['charity_id']}/webhooks",
        json={"url": receiver.url, "events": ["report.due"]},
        headers=world["auth"],
    )
    assert created.status_code == 201, created.text
    clock = Clock()
    worker = WebhookWorker(
        Outbox(api.store),
        api.services.settings,
        clock=clock,
        reports_due=lambda: reports_due(api.services),
    )
    world["clock"].now = datetime(2026, 11, 5, tzinfo=UTC)  # Q3's deadline (31 Oct) passed
    assert worker.run_once() == 1
    (got,) = receiver.received
    payload = Webhook(created.json()["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "report.due"
    assert payload["data"] | {"report_url": ""} == {
        "charity_id": world["charity_id"],
        "project_id": world["project_id"],
        "period": "2026-Q3",
        "due_by": "2026-10-31",
        "status": "late",
        "report_url": "",
    }
    assert payload["data"]["report_url"].endswith(f"/reports/{world['project_id']}/2026-Q3")
    clock.advance(120)
    assert worker.run_once() == 0  # told once
    worker.close()
