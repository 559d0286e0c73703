"""The write sequencer behind the API (ADR 0017): batches, refusals alone, backpressure, metrics."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import models
from api.app import create_app
from api.gateway import Gateway
from api.keys import PLATFORM
from api.services import Services
from ledger.entries import Entry
from ledger.errors import EntryError
from ledger.store.journal import Store
from ledger.store.requests import AppendRequest, AppendResult
from ledger.store.sequencer import (
    BatchReport,
    Sequencer,
    SequencerBusyError,
    SequencerClosedError,
)
from tests import factories as f
from tests.api.conftest import Api, ApiFactory, donation_body, new_key

CLIENTS = 64
DONATIONS_EACH = 8


def sequencer_of(api: Api) -> Sequencer:
    sequencer = api.services.sequencer
    assert sequencer is not None, "the app appends through a sequencer"
    return sequencer


@contextmanager
def batches_seen(api: Api) -> Iterator[list[BatchReport]]:
    """The batches the sequencer appends meanwhile."""
    sequencer = sequencer_of(api)
    seen: list[BatchReport] = []
    observe = sequencer.on_batch

    def record(report: BatchReport) -> None:
        seen.append(report)
        if observe is not None:
            observe(report)

    sequencer.on_batch = record
    try:
        yield seen
    finally:
        sequencer.on_batch = observe


def in_one_batch(
    api: Api, calls: list[Callable[[], httpx.Response]], queued: int
) -> tuple[list[httpx.Response], list[BatchReport]]:
    """Send ``calls`` while the sequencer holds still: the first ``queued`` of them one
    after another, each once the one before waits in the queue (so the batch holds them
    in this order), then the others; then let the sequencer take them (as one batch)."""
    sequencer = sequencer_of(api)
    with batches_seen(api) as seen, ThreadPoolExecutor(len(calls)) as pool:
        sequencer.pause()
        try:
            pending = []
            for number, call in enumerate(calls):
                pending.append(pool.submit(call))
                if number < queued:
                    sequencer.wait_until_queued(number + 1)
            extra = [p.result(timeout=60) for p in pending[queued:]]
        finally:
            sequencer.resume()
        responses = [p.result(timeout=60) for p in pending[:queued]] + extra
    return responses, seen


def post(api: Api, path: str, body: dict[str, Any], headers: dict[str, str]) -> Callable[[], Any]:
    return lambda: api.client.post(path, json=body, headers=headers)


@pytest.fixture
def plain_api(make_api: ApiFactory, database_url: str) -> Api:
    """The app on SQLite and on PostgreSQL, without a chain."""
    return make_api(database_url)


def test_64_clients_each_get_their_own_gapless_seq(plain_api: Api) -> None:
    api = plain_api
    charity_id, auth = api.register_charity()
    project_id = api.open_project(charity_id, auth)
    before = api.store.size()

    def client(number: int) -> list[dict[str, Any]]:
        answers = []
        for i in range(DONATIONS_EACH):
            response = api.client.post(
                "/api/v1/donations",
                json=donation_body(charity_id, project_id, 100 * number + i + 1),
                headers=api.platform | new_key(),
            )
            assert response.status_code == 201, response.text
            answers.append(response.json())
        return answers

    with batches_seen(api) as seen, ThreadPoolExecutor(CLIENTS) as pool:
        answers = [a for answers in pool.map(client, range(CLIENTS)) for a in answers]

    total = CLIENTS * DONATIONS_EACH
    assert sorted(a["seq"] for a in answers) == list(range(before, before + total))
    assert len({a["id"] for a in answers}) == total
    assert api.store.size() == before + total
    for answer in answers:
        entry = api.store.entry(answer["seq"])
        assert entry.kind == "donation.received"
        assert entry.body["donation_id"] == answer["id"]
    assert sum(report.accepted for report in seen) == total
    assert all(report.refused == 0 for report in seen)
    report = api.store.verify()
    assert report.ok, report.problems[:3]


def test_a_burst_of_good_bad_and_conflicting_writes_refuses_each_bad_one_alone(
    plain_api: Api,
) -> None:
    api = plain_api
    charity_id, auth = api.register_charity()
    project_id = api.open_project(charity_id, auth)
    refundable = api.donate(charity_id, project_id, 10_000)["id"]
    spendable = api.donate(charity_id, project_id, 5_000)["id"]
    disbursement = api.disburse(charity_id, project_id, auth, 20_000)["id"]
    before = api.stored()

    good = [
        post(
            api,
            "/api/v1/donations",
            donation_body(charity_id, project_id, 100 + i),
            api.platform | new_key(),
        )
        for i in range(3)
    ]
    refund = f"/api/v1/donations/{refundable}/refunds"
    refunds = [
        post(api, refund, {"amount": 8_000, "reason": "the donor asked"}, api.platform | new_key())
        for _ in range(2)
    ]
    overspend = post(
        api,
        "/api/v1/allocations",
        {"donation_id": spendable, "disbursement_id": disbursement, "amount": 5_001},
        auth | new_key(),
    )
    overspent_disbursement = post(
        api,
        "/api/v1/disbursements",
        {
            "charity_id": charity_id,
            "project_id": project_id,
            "amount": 9_000,
            "currency": "CNY",
            "payee": "昆明新华书店",
            "purpose": "textbooks, grade 4",
            "allocate": [
                {"donation_id": spendable, "amount": 3_000},
                {"donation_id": spendable, "amount": 3_000},
            ],
        },
        auth | new_key(),
    )
    unknown_project = post(
        api,
        "/api/v1/donations",
        donation_body(charity_id, "pr_doesnotexist", 100),
        api.platform | new_key(),
    )
    invalid = post(
        api, "/api/v1/donations", donation_body(charity_id, project_id, 0), api.platform | new_key()
    )
    calls = [*good, *refunds, overspend, overspent_disbursement, unknown_project, invalid]
    # Everything but the invalid donation (refused before it queues) waits for the batch.
    responses, seen = in_one_batch(api, calls, queued=len(calls) - 1)

    assert [r.requests for r in seen] == [len(calls) - 1]
    statuses = [r.status_code for r in responses]
    assert statuses[:5] == [201, 201, 201, 201, 422]
    problems = responses[4:]
    assert [p.status_code for p in problems] == [422] * 5
    assert all(p.headers["content-type"] == "application/problem+json" for p in problems)
    bodies = [p.json() for p in problems]
    assert [(b["code"], b.get("field")) for b in bodies] == [
        ("accounting_rule", "amount"),
        ("accounting_rule", "amount"),
        ("accounting_rule", "allocate[1].amount"),
        ("accounting_rule", "project_id"),
        ("invalid_field", "amount"),
    ]
    assert "refund of 8000 exceeds the 2000 not yet refunded" in bodies[0]["detail"]
    assert "allocation of 5001 exceeds the 5000 left" in bodies[1]["detail"]
    # The accepted ones, and only they, are in the journal: 3 donations and a refund.
    assert api.store.size() == before.size + 4
    after = api.stored()
    assert after.rows["donor"] == before.rows["donor"] + 3
    assert after.rows["disbursement"] == before.rows["disbursement"]
    assert after.rows["idempotency"] == before.rows["idempotency"] + 4
    seqs = [r.json()["seq"] for r in responses[:3]] + responses[3].json()["seqs"]
    assert seqs == list(range(before.size, before.size + 4))
    assert api.store.verify().ok


def test_one_key_twice_in_a_batch_gives_one_donation_and_two_identical_answers(
    plain_api: Api,
) -> None:
    api = plain_api
    charity_id, _ = api.register_charity()
    body = donation_body(charity_id, None, 2_500)
    key = new_key()
    same = post(api, "/api/v1/donations", body, api.platform | key)
    other_body = post(api, "/api/v1/donations", body | {"amount": 2_501}, api.platform | key)
    before = api.store.size()

    responses, seen = in_one_batch(api, [same, same, other_body], queued=3)

    assert [r.requests for r in seen] == [3]
    assert [r.status_code for r in responses] == [201, 201, 409]
    created = [r.json() for r in responses[:2]]
    assert created[0] == created[1]
    assert responses[2].json()["code"] == "idempotency_conflict"
    assert api.store.size() == before + 1
    assert len(api.donors()) == 1
    # In a later batch the key still answers the same, and still refuses another body.
    again = api.client.post("/api/v1/donations", json=body, headers=api.platform | key)
    assert again.status_code == 201
    assert again.json() == created[0]
    refused = api.client.post(
        "/api/v1/donations", json=body | {"amount": 1}, headers=api.platform | key
    )
    assert refused.status_code == 409
    assert api.store.size() == before + 1


def test_a_full_queue_answers_429_with_retry_after_and_stores_nothing(
    make_api: ApiFactory, database_url: str
) -> None:
    api = make_api(database_url, write_queue=2)
    charity_id, _ = api.register_charity()
    sequencer = sequencer_of(api)
    held = [
        post(
            api,
            "/api/v1/donations",
            donation_body(charity_id, None, 100 + i),
            api.platform | new_key(),
        )
        for i in range(2)
    ]
    refused_key = new_key()
    refused_body = donation_body(charity_id, None, 777)
    with ThreadPoolExecutor(2) as pool:
        sequencer.pause()
        try:
            pending = [pool.submit(call) for call in held]
            sequencer.wait_until_queued(2)
            before = api.stored()
            responses = [
                api.client.post(
                    "/api/v1/donations", json=refused_body, headers=api.platform | refused_key
                ),
                api.client.post(
                    f"/api/v1/charities/{charity_id}/projects",
                    json={"title": "Books", "goal_amount": 100, "currency": "CNY"},
                    headers=api.platform,
                ),
            ]
            assert api.stored() == before
        finally:
            sequencer.resume()
        assert [p.result(timeout=60).status_code for p in pending] == [201, 201]
    for response in responses:
        assert response.status_code == 429
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json()["code"] == "too_many_writes"
    # The refused donation, retried with its key once the queue drained, is taken once.
    retried = api.client.post(
        "/api/v1/donations", json=refused_body, headers=api.platform | refused_key
    )
    assert retried.status_code == 201
    assert api.store.entry(retried.json()["seq"]).body["amount"] == 777


def test_metrics_show_requests_batches_queue_latency_throttling_and_anchor_lag(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    charity_id, _ = api.register_charity()
    with caplog.at_level(logging.INFO, logger="shanlian.sequencer"):
        api.donate(charity_id, None)
    api.anchor()
    for _ in range(3):
        api.donate(charity_id, None)
    missing = api.client.get(f"/api/v1/donations/dn_{uuid.uuid4().hex[:20]}")
    assert missing.status_code == 404
    assert api.client.get(f"/donations/dn_{uuid.uuid4().hex[:20]}").status_code == 404
    # Methods a client invents are one series, not one each.
    for invented in ("BREW", "X-SCAN-1", "X-SCAN-2"):
        assert api.client.request(invented, "/api/v1/charities").status_code == 405

    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        "shanlian_http_requests_total",
        "shanlian_http_errors_total",
        "shanlian_http_request_duration_seconds_bucket",
        "shanlian_http_throttled_total",
        "shanlian_sequencer_batch_requests_bucket",
        "shanlian_sequencer_queue_depth",
        "shanlian_sequencer_queue_wait_seconds_bucket",
        "shanlian_sequencer_append_seconds_bucket",
        "shanlian_sequencer_commit_seconds_bucket",
        "shanlian_sequencer_requests_total",
    ):
        assert re.search(rf"^{name}[{{ ]", text, re.MULTILINE), name
    assert re.search(
        r'^shanlian_http_requests_total\{method="POST",route="/api/v1/donations",status="201"\} '
        r"[1-9]",
        text,
        re.MULTILINE,
    )
    # Errors by route template, never by the raw path.
    assert re.search(
        r'^shanlian_http_errors_total\{method="GET",route="/api/v1/donations/\{donation_id\}",'
        r'status="404"\} [1-9]',
        text,
        re.MULTILINE,
    )
    assert "dn_" not in text
    # The explorer's item pages (plain Starlette routes) by their template too.
    assert re.search(
        r'^shanlian_http_requests_total\{method="GET",route="/donations/\{donation_id\}",'
        r'status="404"\} [1-9]',
        text,
        re.MULTILINE,
    )
    assert re.search(
        r'^shanlian_http_requests_total\{method="OTHER",route="/api/v1/charities",status="405"\} 3',
        text,
        re.MULTILINE,
    )
    assert "BREW" not in text
    assert "X-SCAN" not in text
    # Three donations since the checkpoint: three entries wait to be anchored.
    assert re.search(r"^shanlian_anchor_lag_entries 3\.0$", text, re.MULTILINE)
    lag = re.search(r"^shanlian_anchor_lag_seconds (\S+)$", text, re.MULTILINE)
    assert lag is not None
    assert float(lag.group(1)) >= 0
    assert re.search(rf"^shanlian_journal_entries {api.store.size()}\.0$", text, re.MULTILINE)
    lines = [r.getMessage() for r in caplog.records if r.name == "shanlian.sequencer"]
    assert any(
        re.fullmatch(r"batch requests=1 bytes=\d+ accepted=1 replayed=0 refused=0 entries=1 .*", x)
        for x in lines
    ), lines


# -- the sequencer itself --------------------------------------------------------------------------


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store.open(sqlite_url)
    store.append([f.charity("ch_seq")])
    yield store
    store.engine.dispose()


def test_close_appends_what_is_queued_and_then_refuses(store: Store) -> None:
    sequencer = Sequencer(store)
    sequencer.pause()
    futures = [
        sequencer.submit(AppendRequest([f.donation("ch_seq", None, 10 + i)])) for i in range(5)
    ]
    sequencer.close()
    results = [future.result(timeout=0) for future in futures]
    assert [r.first_seq for r in results] == [1, 2, 3, 4, 5]
    with pytest.raises(SequencerClosedError):
        sequencer.submit(AppendRequest([f.donation("ch_seq", None, 1)]))
    assert store.size() == 6


def test_batches_respect_the_caps_in_requests_and_bytes(store: Store) -> None:
    seen: list[BatchReport] = []
    sequencer = Sequencer(store, max_batch=3, max_batch_bytes=1_500, on_batch=seen.append)
    sequencer.pause()
    small = [sequencer.submit(AppendRequest([f.donation("ch_seq", None, 1)])) for _ in range(7)]
    big = sequencer.submit(AppendRequest([f.donation("ch_seq", None, 2) for _ in range(6)]))
    sequencer.resume()
    sequencer.close()
    assert all(isinstance(s.result(timeout=0), AppendResult) for s in [*small, big])
    sizes = [report.requests for report in seen]
    assert sum(sizes) == 8
    assert max(sizes) <= 3
    assert all(report.bytes <= 1_500 or report.requests == 1 for report in seen)
    assert seen[-1].requests == 1  # the one larger than the cap goes alone


def test_a_full_queue_refuses_at_once_and_keeps_nothing(store: Store) -> None:
    sequencer = Sequencer(store, max_queue=2)
    sequencer.pause()
    queued = [sequencer.submit(AppendRequest([f.donation("ch_seq", None, 1)])) for _ in range(2)]
    with pytest.raises(SequencerBusyError) as busy:
        sequencer.submit(AppendRequest([f.donation("ch_seq", None, 1)]))
    assert busy.value.depth == 2
    assert busy.value.retry_after_s >= 1
    assert sequencer.depth == 2
    sequencer.close()
    assert [q.result(timeout=0).first_seq for q in queued] == [1, 2]
    assert store.size() == 3


def test_a_failing_side_write_fails_its_own_caller_only(store: Store) -> None:
    def refuse(_connection: Connection, _entries: list[Entry]) -> None:
        raise ValueError("refused by the side table")

    sequencer = Sequencer(store)
    sequencer.pause()
    ok_before = sequencer.submit(AppendRequest([f.donation("ch_seq", None, 1)]))
    failing = sequencer.submit(AppendRequest([f.donation("ch_seq", None, 2)], alongside=refuse))
    ok_after = sequencer.submit(AppendRequest([f.donation("ch_seq", None, 3)]))
    sequencer.close()
    assert ok_before.result(timeout=0).first_seq == 1
    with pytest.raises(ValueError, match="refused by the side table"):
        failing.result(timeout=0)
    assert ok_after.result(timeout=0).first_seq == 2


def test_services_without_a_sequencer_append_directly(plain_api: Api) -> None:
    """The CLI and the demo build services with no sequencer: each write appends alone."""
    services: Services = plain_api.services
    alone = Services(
        settings=services.settings,
        store=services.store,
        keys=services.keys,
        evidence=services.evidence,
        views=services.views,
    )
    assert alone.sequencer is None
    charity_id, _ = plain_api.register_charity()
    created = alone.record_donation(
        models.DonationCreate.model_validate(donation_body(charity_id, None, 300)),
        PLATFORM,
        uuid.uuid4().hex,
    )
    assert plain_api.store.entry(created.seq).body["donation_id"] == created.id
    assert len(plain_api.donors()) == 1


def test_a_malformed_request_is_refused_before_it_joins_the_queue(store: Store) -> None:
    sequencer = Sequencer(store)
    sequencer.pause()
    with pytest.raises(EntryError) as refused:
        sequencer.submit(AppendRequest([f.donation("ch_seq", None, 0)]))
    assert refused.value.field == "body.amount"
    with pytest.raises(EntryError, match="idempotency_key"):
        sequencer.submit(AppendRequest([f.donation("ch_seq", None, 1)], idempotency_key=""))
    assert sequencer.depth == 0
    queued = sequencer.submit(AppendRequest([f.donation("ch_seq", None, 1)]))
    sequencer.close()
    assert queued.result(timeout=0).first_seq == 1


def test_the_app_drains_the_sequencer_when_it_stops(plain_api: Api) -> None:
    charity_id, _ = plain_api.register_charity()
    app = create_app(plain_api.services)
    with TestClient(app) as client:  # runs the app's lifespan: start, then shutdown
        response = client.post(
            "/api/v1/donations",
            json=donation_body(charity_id, None, 100),
            headers=plain_api.platform | new_key(),
        )
        assert response.status_code == 201
    size = plain_api.store.size()
    late = plain_api.client.post(
        "/api/v1/donations",
        json=donation_body(charity_id, None, 100),
        headers=plain_api.platform | new_key(),
    )
    assert late.status_code == 503
    assert late.json()["code"] == "shutting_down"
    assert late.headers["Retry-After"] == "1"
    assert plain_api.store.size() == size


def test_writes_beyond_the_limit_are_refused_before_their_body_is_read() -> None:
    release = asyncio.Event()
    seen: list[str] = []

    async def endpoint(request: Request) -> JSONResponse:
        seen.append(request.url.path)
        if request.url.path == "/api/v1/donations":
            await release.wait()
        return JSONResponse({"ok": True})

    inner = Starlette(
        routes=[
            Route("/api/v1/donations", endpoint, methods=["POST"]),
            Route("/api/v1/evidence", endpoint, methods=["POST"]),
            Route("/api/v1/charities/{charity_id}", endpoint, methods=["GET"]),
        ]
    )
    admission = Gateway(inner, body_limit=1 << 20, upload_limit=1 << 20, write_limit=2)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=admission)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            held = [
                asyncio.create_task(client.post("/api/v1/donations", json={"n": n}))
                for n in range(2)
            ]
            while admission.writes.taken < 2:
                await asyncio.sleep(0)
            refused = await client.post(
                "/api/v1/donations", content=b"{not json", headers={"content-type": "x"}
            )
            assert refused.status_code == 429
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["code"] == "too_many_writes"
            # Reads and uploads are not writes of the journal: they pass.
            assert (await client.get("/api/v1/charities/ch_x")).status_code == 200
            assert (await client.post("/api/v1/evidence", content=b"x")).status_code == 200
            release.set()
            assert [(await task).status_code for task in held] == [200, 200]
            assert admission.writes.taken == 0
            assert (await client.post("/api/v1/donations", json={})).status_code == 200

    asyncio.run(scenario())
    assert seen.count("/api/v1/donations") == 3  # the refused one never reached the app
