"""The authorization matrix (DESIGN §7, §8): every route × every kind of caller.

``TABLE`` holds one entry per API route (method and path, as the app declares it): how
to call it, and what each caller gets. A route of the app without an entry fails
``test_every_route_of_the_app_has_an_entry_in_the_authorization_table``, so a new route
cannot ship without its row. Routes outside ``/api/`` (the explorer's pages, if mounted)
must be read-only and public: they are checked by a generic rule instead of a row.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from starlette.routing import Mount

from api.app import create_app
from api.official_receipts import reveal_key
from api.routes import PlatformOnly
from api.webhooks import now_ms
from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from ledger.store.official_receipts import OfficialReceipt, OfficialReceipts
from ledger.store.outbox import Outbox
from tests.api.conftest import (
    MINIMAL_PDF,
    Api,
    bearer,
    build_api,
    close_api,
    disbursement_body,
    donation_body,
    new_key,
)

ROLES = ("platform", "owner", "other_charity", "auditor", "no_token", "invalid_token")
"""The platform token, the owning charity's key, another charity's key, an auditor's key,
no Authorization header at all, and a bearer token nobody issued."""


@dataclass
class World:
    """Two charities with a project each, keys for every role, and data to point at."""

    api: Api
    charity_id: str
    project_id: str
    other_charity_id: str
    auth: dict[str, dict[str, str]]
    anchored_donation_id: str
    public_evidence: str
    private_evidence: str
    quarters_used: int = -1
    matcher_id: str = ""
    pool_id: str = ""

    def fresh_pool(self) -> str:
        """A matching pool of the world's matcher (ADR 0040)."""
        response = self.api.client.post(
            f"{V1}/matchers/{self.matcher_id}/pools",
            json=pool_body(self.project_id),
            headers=self.api.platform,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def fresh_donation(self, amount: int = 10_000) -> str:
        return str(self.api.donate(self.charity_id, self.project_id, amount)["id"])

    def fresh_webhook(self, *, delivery: bool = False) -> tuple[str, str]:
        """A webhook endpoint of the charity, and (with ``delivery``) one delivery queued."""
        endpoint = Outbox(self.api.store).add_endpoint(
            self.charity_id, "https://hooks.example.org/x", ["donation.received"], now_ms()
        )
        if not delivery:
            return endpoint.endpoint_id, ""
        self.fresh_donation()
        Outbox(self.api.store).queue(now_ms())
        [made] = Outbox(self.api.store).deliveries(endpoint.endpoint_id, 1)
        return endpoint.endpoint_id, made.delivery_id

    def official_receipt(self) -> tuple[str, str]:
        """A donation of the charity with an official e-receipt attached, and its donor's key
        to it (api.official_receipts.reveal_key)."""
        donation_id = self.fresh_donation()
        OfficialReceipts(self.api.store).attach(
            OfficialReceipt(
                donation_id,
                1,
                self.charity_id,
                *OFFICIAL_RECEIPT.values(),
                None,
                "platform",
                now_ms(),
            )
        )
        # Every role asks from one test client: each case starts with the rate's whole burst.
        self.api.client.app.state.official_receipt_rates = None  # type: ignore[attr-defined]
        secret = self.api.services.receipt_secret(donation_id)
        return donation_id, reveal_key(secret, donation_id).hex()

    def fresh_project(self) -> str:
        return self.api.open_project(self.charity_id, self.auth["owner"])

    def past_quarter(self) -> str:
        """A quarter that is over and not published yet (each call another, further back)."""
        self.quarters_used += 1
        year, quarter = divmod(2025 * 4 + 3 - self.quarters_used, 4)
        return f"{year}-Q{quarter + 1}"

    def fresh_disbursement(self, amount: int = 6_000, **body: Any) -> str:
        answer = self.api.disburse(self.charity_id, self.project_id, self.auth["owner"], amount)
        return str(answer["id"])

    def fresh_allocation(self) -> str:
        donation_id = self.fresh_donation()
        answer = self.api.disburse(
            self.charity_id,
            self.project_id,
            self.auth["owner"],
            1_000,
            allocate=[{"donation_id": donation_id, "amount": 1_000}],
        )
        return str(answer["allocations"][0]["id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("authorization")
    chain = ChainClient.embedded(chain=EmbeddedChain())
    chain.deploy()
    api = build_api(f"sqlite:///{folder}/journal.db", chain, folder / "evidence")
    charity_id, owner = api.register_charity("乡村学校基金会")
    other_charity_id, other = api.register_charity("另一家基金会")
    project_id = api.open_project(charity_id, owner)
    donation_id = api.donate(charity_id, project_id)["id"]
    public_evidence = api.upload(owner, MINIMAL_PDF + b"% public\n")
    private_evidence = api.upload(owner, MINIMAL_PDF + b"% private\n")
    api.disburse(
        charity_id,
        project_id,
        owner,
        evidence=[
            {"sha256": public_evidence, "public": True},
            {"sha256": private_evidence, "public": False},
        ],
    )
    api.anchor()
    auditor = bearer(api.services.keys.issue("auditor", "an outside auditor"))
    matcher = api.client.post(
        f"{V1}/matchers",
        json={"name": "某某科技有限公司", "registration_no": "91110000MA0000001X"},
        headers=api.platform,
    ).json()["id"]
    world = World(
        api=api,
        charity_id=charity_id,
        project_id=project_id,
        other_charity_id=other_charity_id,
        auth={
            "platform": api.platform,
            "owner": owner,
            "other_charity": other,
            "auditor": auditor,
            "no_token": {},
            "invalid_token": bearer("sk_" + uuid.uuid4().hex),
        },
        anchored_donation_id=donation_id,
        public_evidence=public_evidence,
        private_evidence=private_evidence,
        matcher_id=matcher,
    )
    world.pool_id = world.fresh_pool()
    yield world
    close_api(api)


def pool_body(project_id: str) -> dict[str, Any]:
    """A matching pool's rules (ADR 0040), open now."""
    return {
        "title": "九九公益日配捐",
        "currency": "CNY",
        "total": 100_000,
        "cap_per_donation": 1_000,
        "cap_per_payer_per_day": 3_000,
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2099-01-01T00:00:00Z",
        "project_ids": [project_id],
    }


# -- the table ------------------------------------------------------------------------------------

Call = tuple[str, dict[str, Any]]
"""A URL and the keyword arguments of the request (json, files, params, headers)."""


@dataclass(frozen=True)
class Case:
    """One way to call a route, and the status each role gets."""

    call: Callable[[World], Call]
    expect: dict[str, int]
    label: str = ""
    after: Callable[[World, Any], None] | None = None
    """Called with the answer: keeps the world usable (e.g. a rotated key replaced)."""


def everyone(status: int = 200, *, invalid_token: int | None = None) -> dict[str, int]:
    """A public route: the same answer for everyone (a route that reads no token ignores a
    bad one)."""
    expect = dict.fromkeys(ROLES, status)
    expect["invalid_token"] = invalid_token or status
    return expect


def platform_only(status: int) -> dict[str, int]:
    return {
        "platform": status,
        "owner": 403,
        "other_charity": 403,
        "auditor": 403,
        "no_token": 401,
        "invalid_token": 401,
    }


def that_charity(status: int) -> dict[str, int]:
    """The owning charity, or the platform for it; never another charity."""
    return {
        "platform": status,
        "owner": status,
        "other_charity": 403,
        "auditor": 403,
        "no_token": 401,
        "invalid_token": 401,
    }


def recipient(status: int) -> dict[str, int]:
    """The charity that received the donation, or the platform; to another charity the
    donation is not found (ADR 0041)."""
    return that_charity(status) | {"other_charity": 404}


OFFICIAL_RECEIPT = {"code": "11060126", "number": "0000123456", "check_code": "8A3F2C"}


def project_body() -> dict[str, Any]:
    return {"title": "Winter coats", "goal_amount": 300_000, "currency": "CNY"}


V1 = "/api/v1"
TABLE: dict[tuple[str, str], list[Case]] = {
    ("POST", f"{V1}/charities"): [
        Case(
            lambda w: (
                f"{V1}/charities",
                {"json": {"name": "新基金会", "registration_no": "53100000500021676Q"}},
            ),
            platform_only(201),
        )
    ],
    ("GET", f"{V1}/charities/{{charity_id}}"): [
        Case(lambda w: (f"{V1}/charities/{w.charity_id}", {}), everyone())
    ],
    ("POST", f"{V1}/charities/{{charity_id}}/projects"): [
        Case(
            lambda w: (f"{V1}/charities/{w.charity_id}/projects", {"json": project_body()}),
            that_charity(201),
        )
    ],
    ("POST", f"{V1}/charities/{{charity_id}}/keys"): [
        Case(
            lambda w: (f"{V1}/charities/{w.charity_id}/keys", {}),
            that_charity(201),
            after=lambda w, response: (
                w.auth.update(owner=bearer(response.json()["api_key"]))
                if response.status_code == 201
                else None
            ),
        )
    ],
    ("GET", f"{V1}/projects/{{project_id}}"): [
        Case(lambda w: (f"{V1}/projects/{w.project_id}", {}), everyone())
    ],
    ("POST", f"{V1}/donations"): [
        Case(
            lambda w: (
                f"{V1}/donations",
                {"json": donation_body(w.charity_id, w.project_id), "headers": new_key()},
            ),
            platform_only(201),
        )
    ],
    ("GET", f"{V1}/donations/{{donation_id}}"): [
        Case(lambda w: (f"{V1}/donations/{w.anchored_donation_id}", {}), everyone())
    ],
    ("POST", f"{V1}/donations/{{donation_id}}/refunds"): [
        Case(
            lambda w: (
                f"{V1}/donations/{w.fresh_donation()}/refunds",
                {"json": {"amount": 1_000, "reason": "donor asked"}, "headers": new_key()},
            ),
            platform_only(201),
        )
    ],
    ("GET", f"{V1}/donations/{{donation_id}}/proof"): [
        Case(lambda w: (f"{V1}/donations/{w.anchored_donation_id}/proof", {}), everyone())
    ],
    ("GET", f"{V1}/donations/{{donation_id}}/receipt.png"): [
        Case(
            lambda w: (f"{V1}/donations/{w.anchored_donation_id}/receipt.png", {}),
            platform_only(200),
        )
    ],
    ("GET", f"{V1}/donations/{{donation_id}}/receipt.svg"): [
        Case(
            lambda w: (f"{V1}/donations/{w.anchored_donation_id}/receipt.svg", {}),
            platform_only(200),
        )
    ],
    ("GET", f"{V1}/donations/{{donation_id}}/receipt"): [
        Case(
            lambda w: (f"{V1}/donations/{w.anchored_donation_id}/receipt", {}),
            platform_only(200),
        )
    ],
    ("POST", f"{V1}/evidence"): [
        Case(
            # Each charity uploads its own evidence; the platform and auditors upload none.
            lambda w: (
                f"{V1}/evidence",
                {
                    "files": {
                        "file": ("invoice.pdf", MINIMAL_PDF + uuid.uuid4().bytes, "application/pdf")
                    }
                },
            ),
            {
                "platform": 403,
                "owner": 201,
                "other_charity": 201,
                "auditor": 403,
                "no_token": 401,
                "invalid_token": 401,
            },
        )
    ],
    ("GET", f"{V1}/evidence/{{sha256}}"): [
        Case(
            lambda w: (f"{V1}/evidence/{w.public_evidence}", {}),
            everyone(invalid_token=401),
            "public evidence",
        ),
        Case(
            lambda w: (f"{V1}/evidence/{w.private_evidence}", {}),
            {
                "platform": 200,
                "owner": 200,
                "other_charity": 403,
                "auditor": 200,
                "no_token": 401,
                "invalid_token": 401,
            },
            "private evidence",
        ),
    ],
    ("POST", f"{V1}/disbursements"): [
        Case(
            lambda w: (
                f"{V1}/disbursements",
                {"json": disbursement_body(w.charity_id, w.project_id), "headers": new_key()},
            ),
            that_charity(201),
        )
    ],
    ("GET", f"{V1}/disbursements/{{disbursement_id}}"): [
        Case(lambda w: (f"{V1}/disbursements/{w.fresh_disbursement()}", {}), everyone())
    ],
    ("POST", f"{V1}/disbursements/{{disbursement_id}}/void"): [
        Case(
            lambda w: (
                f"{V1}/disbursements/{w.fresh_disbursement()}/void",
                {"json": {"reason": "invoice cancelled"}, "headers": new_key()},
            ),
            that_charity(201),
        )
    ],
    ("POST", f"{V1}/allocations"): [
        Case(
            lambda w: (
                f"{V1}/allocations",
                {
                    "json": {
                        "donation_id": w.fresh_donation(),
                        "disbursement_id": w.fresh_disbursement(),
                        "amount": 500,
                    },
                    "headers": new_key(),
                },
            ),
            that_charity(201),
        )
    ],
    ("POST", f"{V1}/allocations/{{allocation_id}}/reversal"): [
        Case(
            lambda w: (
                f"{V1}/allocations/{w.fresh_allocation()}/reversal",
                {"json": {"reason": "booked twice"}, "headers": new_key()},
            ),
            that_charity(201),
        )
    ],
    ("GET", f"{V1}/exports/{{kind}}.csv"): [
        Case(
            lambda w: (f"{V1}/exports/donations.csv", {"params": {"charity_id": w.charity_id}}),
            {
                "platform": 200,
                "owner": 200,
                "other_charity": 403,
                "auditor": 200,
                "no_token": 401,
                "invalid_token": 401,
            },
            "one charity's rows",
        ),
        Case(
            lambda w: (f"{V1}/exports/allocations.csv", {}),
            {
                "platform": 200,
                "owner": 403,
                "other_charity": 403,
                "auditor": 200,
                "no_token": 401,
                "invalid_token": 401,
            },
            "every charity's rows",
        ),
    ],
    ("GET", f"{V1}/checkpoints"): [Case(lambda w: (f"{V1}/checkpoints", {}), everyone())],
    ("GET", f"{V1}/checkpoints/latest"): [
        Case(lambda w: (f"{V1}/checkpoints/latest", {}), everyone())
    ],
    ("GET", f"{V1}/checkpoints/consistency"): [
        Case(
            lambda w: (f"{V1}/checkpoints/consistency", {"params": {"first": 1, "second": 3}}),
            everyone(),
        )
    ],
    ("GET", f"{V1}/entries"): [Case(lambda w: (f"{V1}/entries", {}), everyone())],
    ("GET", f"{V1}/chain"): [Case(lambda w: (f"{V1}/chain", {}), everyone())],
    ("POST", f"{V1}/chain/rpc"): [
        Case(
            lambda w: (
                f"{V1}/chain/rpc",
                {"json": {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}},
            ),
            everyone(),
        )
    ],
    ("POST", f"{V1}/anchor"): [Case(lambda w: (f"{V1}/anchor", {}), platform_only(200))],
    # A public QR code of a link to this site's "My donations" (api/transfer.py).
    ("POST", f"{V1}/receipts/transfer-qr"): [
        Case(
            lambda w: (
                f"{V1}/receipts/transfer-qr",
                {"json": {"import": "1~dn_0123456789abcdefghij." + "0" * 32}},
            ),
            everyone(),
        )
    ],
    # Webhooks: a charity's own endpoints and their deliveries (api/webhooks.py).
    ("POST", f"{V1}/charities/{{charity_id}}/webhooks"): [
        Case(
            lambda w: (
                f"{V1}/charities/{w.charity_id}/webhooks",
                {"json": {"url": "https://hooks.example.org/x", "events": ["donation.received"]}},
            ),
            that_charity(201),
        )
    ],
    ("GET", f"{V1}/charities/{{charity_id}}/webhooks"): [
        Case(lambda w: (f"{V1}/charities/{w.charity_id}/webhooks", {}), that_charity(200))
    ],
    ("DELETE", f"{V1}/charities/{{charity_id}}/webhooks/{{endpoint_id}}"): [
        Case(
            lambda w: (f"{V1}/charities/{w.charity_id}/webhooks/{w.fresh_webhook()[0]}", {}),
            that_charity(204),
        )
    ],
    ("GET", f"{V1}/charities/{{charity_id}}/webhooks/{{endpoint_id}}/deliveries"): [
        Case(
            lambda w: (
                f"{V1}/charities/{w.charity_id}/webhooks/{w.fresh_webhook()[0]}/deliveries",
                {},
            ),
            that_charity(200),
        )
    ],
    (
        "POST",
        f"{V1}/charities/{{charity_id}}/webhooks/{{endpoint_id}}/deliveries/{{delivery_id}}/replay",
    ): [
        Case(
            lambda w: (
                "{}/charities/{}/webhooks/{}/deliveries/{}/replay".format(
                    V1, w.charity_id, *w.fresh_webhook(delivery=True)
                ),
                {},
            ),
            that_charity(202),
        )
    ],
    # Official e-receipts: attached by the charity, shown to the donor (api/official_receipts.py).
    ("PUT", f"{V1}/donations/{{donation_id}}/official-receipt"): [
        Case(
            lambda w: (
                f"{V1}/donations/{w.fresh_donation()}/official-receipt",
                {"json": OFFICIAL_RECEIPT},
            ),
            recipient(200),
        )
    ],
    ("GET", f"{V1}/donations/{{donation_id}}/official-receipt"): [
        Case(
            lambda w: (f"{V1}/donations/{w.official_receipt()[0]}/official-receipt", {}),
            recipient(200),
        )
    ],
    ("POST", f"{V1}/donations/{{donation_id}}/official-receipt/reveal"): [
        Case(
            lambda w: (
                "{}/donations/{}/official-receipt/reveal".format(V1, *w.official_receipt()[:1]),
                {"json": {"reveal_key": w.official_receipt()[1]}},
            ),
            everyone(404),
            label="another donation's receipt code",
        ),
        Case(
            lambda w: (
                lambda d, s: (
                    f"{V1}/donations/{d}/official-receipt/reveal",
                    {"json": {"reveal_key": s}},
                )
            )(*w.official_receipt()),
            everyone(200),
            label="its own receipt code",
        ),
    ],
    # Disclosure reports (api/disclosure.py, ADR 0039).
    ("POST", f"{V1}/charities/{{charity_id}}/reports"): [
        Case(
            lambda w: (
                f"{V1}/charities/{w.charity_id}/reports",
                {"json": {"project_id": w.project_id, "period": w.past_quarter()}},
            ),
            that_charity(201),
        )
    ],
    ("POST", f"{V1}/charities/{{charity_id}}/projects/{{project_id}}/close"): [
        Case(
            lambda w: (
                f"{V1}/charities/{w.charity_id}/projects/{w.fresh_project()}/close",
                {"json": {"reason": "all delivered"}},
            ),
            that_charity(200),
        )
    ],
    ("GET", f"{V1}/reports/{{scope_id}}/{{period}}.csv"): [
        Case(lambda w: (f"{V1}/reports/{w.project_id}/2025-Q4.csv", {}), everyone())
    ],
    ("GET", f"{V1}/reports/{{scope_id}}/{{period}}.pdf"): [
        Case(lambda w: (f"{V1}/reports/{w.project_id}/2025-Q4.pdf", {}), everyone())
    ],
    # Charity signatures (ADR 0037): what to sign for each write, and the signer's rotation.
    ("POST", f"{V1}/charities/{{charity_id}}/projects/prepare"): [
        Case(
            lambda w: (f"{V1}/charities/{w.charity_id}/projects/prepare", {"json": project_body()}),
            that_charity(200),
        )
    ],
    ("POST", f"{V1}/disbursements/prepare"): [
        Case(
            lambda w: (
                f"{V1}/disbursements/prepare",
                {"json": disbursement_body(w.charity_id, w.project_id)},
            ),
            that_charity(200),
        )
    ],
    ("POST", f"{V1}/disbursements/{{disbursement_id}}/void/prepare"): [
        Case(
            lambda w: (
                f"{V1}/disbursements/{w.fresh_disbursement()}/void/prepare",
                {"json": {"reason": "invoice cancelled"}},
            ),
            that_charity(200),
        )
    ],
    ("POST", f"{V1}/allocations/prepare"): [
        Case(
            lambda w: (
                f"{V1}/allocations/prepare",
                {
                    "json": {
                        "donation_id": w.fresh_donation(),
                        "disbursement_id": w.fresh_disbursement(),
                        "amount": 500,
                    }
                },
            ),
            that_charity(200),
        )
    ],
    ("POST", f"{V1}/allocations/{{allocation_id}}/reversal/prepare"): [
        Case(
            lambda w: (
                f"{V1}/allocations/{w.fresh_allocation()}/reversal/prepare",
                {"json": {"reason": "booked twice"}},
            ),
            that_charity(200),
        )
    ],
    # A charity without a signer "rotates" to none: the world's charity keeps signing nothing.
    ("POST", f"{V1}/charities/{{charity_id}}/signer"): [
        Case(
            lambda w: (
                f"{V1}/charities/{w.charity_id}/signer",
                {"json": {"signer": None, "reason": "no key yet"}},
            ),
            that_charity(201),
        )
    ],
    ("POST", f"{V1}/charities/{{charity_id}}/signer/prepare"): [
        Case(
            lambda w: (
                f"{V1}/charities/{w.charity_id}/signer/prepare",
                {"json": {"signer": None, "reason": "no key yet"}},
            ),
            that_charity(200),
        )
    ],
    # Matching funds (ADR 0040).
    ("POST", f"{V1}/matchers"): [
        Case(
            lambda w: (
                f"{V1}/matchers",
                {"json": {"name": "某某基金会", "registration_no": uuid.uuid4().hex[:20]}},
            ),
            platform_only(201),
        )
    ],
    ("POST", f"{V1}/matchers/{{matcher_id}}/pools"): [
        Case(
            lambda w: (f"{V1}/matchers/{w.matcher_id}/pools", {"json": pool_body(w.project_id)}),
            platform_only(201),
        )
    ],
    ("GET", f"{V1}/pools/{{pool_id}}"): [
        Case(lambda w: (f"{V1}/pools/{w.pool_id}", {}), everyone())
    ],
    ("POST", f"{V1}/pools/{{pool_id}}/close"): [
        Case(
            lambda w: (f"{V1}/pools/{w.fresh_pool()}/close", {"json": {"reason": "活动结束"}}),
            platform_only(200),
        )
    ],
    # The app's own documents and health check.
    ("GET", "/openapi.json"): [Case(lambda w: ("/openapi.json", {}), everyone())],
    ("GET", "/docs"): [Case(lambda w: ("/docs", {}), everyone())],
    ("GET", "/docs/assets/{name}"): [
        Case(lambda w: ("/docs/assets/swagger-ui.css", {}), everyone())
    ],
    ("GET", "/healthz"): [Case(lambda w: ("/healthz", {}), everyone())],
}


# -- the routes of the app ----------------------------------------------------------------------


def app_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers and mounts; HEAD left out."""
    for route in routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI's included router
            for context in route.effective_route_contexts():
                for method in context.methods or ():
                    if method != "HEAD":
                        yield method, prefix + context.path
        elif isinstance(route, Mount):
            inner = getattr(route, "routes", None) or []
            if inner:
                yield from app_routes(inner, prefix + route.path)
            else:  # static files and other apps without routes: read-only by assumption
                yield "GET", prefix + route.path + "/*"
        else:
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    yield method, prefix + route.path


def api_routes(world: World) -> set[tuple[str, str]]:
    app = world.api.client.app
    return {r for r in app_routes(app.routes) if r[1].startswith("/api/") or r in TABLE}


def test_every_route_of_the_app_has_an_entry_in_the_authorization_table(world: World) -> None:
    routes = api_routes(world)
    missing = sorted(routes - TABLE.keys())
    stale = sorted(TABLE.keys() - set(app_routes(world.api.client.app.routes)))
    assert not missing, f"routes without a row in TABLE: {missing}"
    assert not stale, f"rows in TABLE for routes the app no longer has: {stale}"


def test_the_route_enumeration_sees_a_route_added_to_the_app(world: World) -> None:
    app = create_app(world.api.services)

    @app.post("/api/v1/something-new")
    def something_new() -> dict[str, str]:
        return {}

    assert ("POST", "/api/v1/something-new") in set(app_routes(app.routes))
    assert ("POST", "/api/v1/donations") in set(app_routes(app.routes))


def test_routes_outside_the_api_are_read_only(world: World) -> None:
    others = {r for r in app_routes(world.api.client.app.routes) if r not in TABLE}
    others = {r for r in others if not r[1].startswith("/api/")}
    assert {method for method, _ in others} <= {"GET"}, sorted(others)


SECRET_ROUTES = {
    ("POST", f"{V1}/charities"),
    ("POST", f"{V1}/charities/{{charity_id}}/keys"),
    ("POST", f"{V1}/donations"),
    ("GET", f"{V1}/donations/{{donation_id}}/receipt.png"),
    ("GET", f"{V1}/donations/{{donation_id}}/receipt.svg"),
    ("GET", f"{V1}/donations/{{donation_id}}/receipt"),
    ("PUT", f"{V1}/donations/{{donation_id}}/official-receipt"),
    ("GET", f"{V1}/donations/{{donation_id}}/official-receipt"),
    ("POST", f"{V1}/donations/{{donation_id}}/official-receipt/reveal"),
}
"""Routes whose answer carries a secret (an API key, a receipt's): ``Cache-Control: no-store``."""
SECRET_MARKERS = re.compile(rb'"secret":\s*"[0-9a-f]{32}"|"api_key":\s*"sk_|#s=[0-9a-f]{32}')
"""What a secret looks like in an answer: any other route showing one fails the matrix."""

CASES = [
    pytest.param(
        key, case, role, id=f"{key[0]} {key[1]}{f' ({case.label})' if case.label else ''} as {role}"
    )
    for key, cases in TABLE.items()
    for case in cases
    for role in ROLES
]


@pytest.mark.parametrize(("route", "case", "role"), CASES)
def test_each_role_gets_what_design_section_7_says_from_each_route(
    world: World, route: tuple[str, str], case: Case, role: str
) -> None:
    method = route[0]
    url, kwargs = case.call(world)
    kwargs = dict(kwargs)
    kwargs["headers"] = kwargs.get("headers", {}) | world.auth[role]
    before = world.api.stored()
    response = world.api.client.request(method, url, **kwargs)
    if case.after is not None:
        case.after(world, response)
    expected = case.expect[role]
    assert response.status_code == expected, response.text[:500]
    assert response.headers["x-content-type-options"] == "nosniff"
    if route in SECRET_ROUTES and response.status_code < 300:
        assert response.headers["cache-control"] == "no-store", route
    else:
        assert not SECRET_MARKERS.search(response.content), f"{route}: a secret, and cacheable"
    if expected in (401, 403):
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == expected
        assert problem["code"] == {401: "unauthorized", 403: "forbidden"}[expected]
        assert world.api.stored() == before, "a refused request stored something"
    if expected == 401:
        assert response.headers.get("www-authenticate", "").startswith("Bearer")


# -- outside the table: bodies that name another charity ------------------------------------------


def test_a_charity_key_cannot_write_a_disbursement_for_another_charity(world: World) -> None:
    before = world.api.stored()
    response = world.api.client.post(
        f"{V1}/disbursements",
        json=disbursement_body(world.other_charity_id, None),
        headers=world.auth["owner"] | new_key(),
    )
    assert response.status_code == 403
    assert world.api.stored() == before


def test_a_charity_key_cannot_open_a_project_for_another_charity(world: World) -> None:
    before = world.api.stored()
    response = world.api.client.post(
        f"{V1}/charities/{world.other_charity_id}/projects",
        json=project_body(),
        headers=world.auth["owner"],
    )
    assert response.status_code == 403
    assert world.api.stored() == before


def test_a_charity_cannot_cite_another_charitys_private_evidence(world: World) -> None:
    """The hash of private evidence is public (it is in the journal): citing it from another
    charity's disbursement must not attach it, let alone publish it."""
    before = world.api.stored()
    response = world.api.client.post(
        f"{V1}/disbursements",
        json=disbursement_body(world.other_charity_id, None)
        | {"evidence": [{"sha256": world.private_evidence, "public": True}]},
        headers=world.auth["other_charity"] | new_key(),
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "evidence[0].sha256"
    assert world.api.stored() == before
    assert world.api.client.get(f"{V1}/evidence/{world.private_evidence}").status_code == 401


def test_a_revoked_charity_key_is_refused(world: World, tmp_path: Path) -> None:
    key = world.api.services.keys.issue("charity", "a key to revoke", charity_id=world.charity_id)
    url = f"{V1}/charities/{world.charity_id}/projects"
    ok = world.api.client.post(url, json=project_body(), headers=bearer(key))
    assert ok.status_code == 201
    assert world.api.services.keys.revoke(key)
    refused = world.api.client.post(url, json=project_body(), headers=bearer(key))
    assert refused.status_code == 401


def explorer_urls(world: World) -> list[str]:
    values = {
        "charity_id": world.charity_id,
        "project_id": world.project_id,
        "donation_id": world.anchored_donation_id,
        "disbursement_id": world.fresh_disbursement(),
        "pool_id": world.pool_id,
        "seq": "0",
        # The transparency log's first entry bundle, as wide as the journal (tlog-tiles).
        "path": f"entries/000.p/{min(world.api.store.size(), 255)}",
        "rest": "checkpoint",  # what /tlog/ serves beside its tiles
        "scope_id": world.project_id,  # a project's disclosure reports (ADR 0039)
        "period": "2025-Q4",
    }
    pages = sorted(
        path
        for method, path in app_routes(world.api.client.app.routes)
        if method == "GET" and not path.startswith("/api/") and ("GET", path) not in TABLE
    )
    urls = []
    for page in pages:
        if page.endswith("/*"):
            continue
        for name in re.findall(r"{(\w+)(?::\w+)?}", page):
            assert name in values, f"{page}: add {name!r} to the values of explorer_urls"
            page = re.sub(rf"{{{name}(?::\w+)?}}", values[name], page)
        urls.append(page)
    return urls


def test_the_explorers_pages_answer_everyone_alike(world: World) -> None:
    urls = explorer_urls(world)
    for url in urls:
        statuses = {
            role: world.api.client.get(url, headers=world.auth[role]).status_code for role in ROLES
        }
        assert set(statuses.values()) == {200}, f"{url}: {statuses}"


# -- roles before the body ----------------------------------------------------------------------

WRITE_ROUTES = sorted(
    key
    for key in TABLE
    if key[0] in ("POST", "PUT")
    and key[1].startswith(V1)
    and key[1]
    not in (
        f"{V1}/chain/rpc",
        f"{V1}/receipts/transfer-qr",
        f"{V1}/donations/{{donation_id}}/official-receipt/reveal",
    )
)
"""Every route that writes (the public JSON-RPC proxy reads the chain, the transfer QR
code draws a picture, for anyone, and the donor's official receipt is read with its
receipt code)."""
TENANT_IN_BODY = {
    ("POST", f"{V1}/disbursements"),
    ("POST", f"{V1}/allocations"),
    # ADR 0037
    ("POST", f"{V1}/disbursements/prepare"),
    ("POST", f"{V1}/allocations/prepare"),
}
"""Routes whose charity is named only in the body: another charity's key has the role, so its
403 comes once the body is read (a malformed body gets 422 first)."""
BAD_BODIES: dict[str, dict[str, Any]] = {
    "empty body": {"content": b"", "headers": {"Content-Type": "application/json"}},
    "invalid JSON": {"content": b'{"amount": ', "headers": {"Content-Type": "application/json"}},
    "wrong fields": {"json": {"nonsense": True, "amount": "lots"}},
    "duplicate keys": {
        "content": b'{"amount": 1, "amount": 2}',
        "headers": {"Content-Type": "application/json"},
    },
    "not JSON at all": {"content": b"\x00\xff" * 8, "headers": {"Content-Type": "text/plain"}},
    "a multipart form": {"files": {"file": ("x.pdf", b"%PDF-", "application/pdf")}},
}


def _refused_roles(route: tuple[str, str]) -> dict[str, int]:
    expect = TABLE[route][0].expect
    return {role: status for role, status in expect.items() if status in (401, 403)}


BEFORE_BODY_CASES = [
    pytest.param(route, role, body, id=f"{route[1]} as {role} with {body}")
    for route in WRITE_ROUTES
    for role in _refused_roles(route)
    for body in BAD_BODIES
]


def test_every_write_route_refuses_some_role() -> None:
    assert len(WRITE_ROUTES) >= 10, WRITE_ROUTES
    for route in WRITE_ROUTES:
        assert _refused_roles(route).keys() >= {"no_token", "invalid_token", "auditor"}, route


@pytest.mark.parametrize(("route", "role", "body"), BEFORE_BODY_CASES)
def test_a_caller_without_the_role_gets_401_or_403_whatever_the_body(
    world: World, route: tuple[str, str], role: str, body: str
) -> None:
    """FastAPI validates the body before dependencies run: GuardedRoute checks roles first,
    so the wrong caller never gets 422 (which would teach it the schema)."""
    url, kwargs = TABLE[route][0].call(world)
    variant = BAD_BODIES[body]
    call = {k: v for k, v in variant.items() if k != "headers"}
    headers = kwargs.get("headers", {}) | variant.get("headers", {}) | world.auth[role]
    before = world.api.stored()
    response = world.api.client.request(route[0], url, headers=headers, **call)
    expected = _refused_roles(route)[role]
    if route in TENANT_IN_BODY and role == "other_charity":
        assert response.status_code in (403, 422), response.text
    else:
        assert response.status_code == expected, response.text[:300]
        assert response.json()["code"] == {401: "unauthorized", 403: "forbidden"}[expected]
    assert world.api.stored() == before


@pytest.mark.parametrize("route", sorted(TENANT_IN_BODY))
def test_another_charity_named_in_a_valid_body_is_refused_after_parsing(
    world: World, route: tuple[str, str]
) -> None:
    url, kwargs = TABLE[route][0].call(world)
    before = world.api.stored()
    response = world.api.client.post(
        url, **kwargs | {"headers": kwargs.get("headers", {}) | world.auth["other_charity"]}
    )
    assert response.status_code == 403, response.text
    assert world.api.stored() == before


BODILESS_ROUTES = {
    f"{V1}/anchor",
    f"{V1}/charities/{{charity_id}}/keys",
    f"{V1}/charities/{{charity_id}}/webhooks/{{endpoint_id}}/deliveries/{{delivery_id}}/replay",
}
"""Write routes that take no body: any body sent is ignored."""


@pytest.mark.parametrize("route", [r for r in WRITE_ROUTES if r[1] not in BODILESS_ROUTES])
def test_the_right_role_with_a_bad_body_gets_a_problem_naming_it(
    world: World, route: tuple[str, str]
) -> None:
    url, kwargs = TABLE[route][0].call(world)
    role = "platform" if TABLE[route][0].expect["platform"] < 400 else "owner"
    before = world.api.stored()
    for body, variant in BAD_BODIES.items():
        if route[1] == f"{V1}/evidence" and body == "a multipart form":
            continue
        call = {k: v for k, v in variant.items() if k != "headers"}
        headers = kwargs.get("headers", {}) | variant.get("headers", {}) | world.auth[role]
        response = world.api.client.request(route[0], url, headers=headers, **call)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.status_code not in (401, 403), (body, response.text)
        assert response.headers["content-type"] == "application/problem+json", body
        if body == "duplicate keys" and route[1] != f"{V1}/evidence":
            assert response.json()["code"] == "duplicate_key", response.text
            assert response.json()["field"] == "amount"
    assert world.api.stored() == before


@pytest.mark.parametrize(
    "path",
    [
        f"{V1}/disbursements/db_doesnotexist0000/void",
        f"{V1}/allocations/al_doesnotexist0000/reversal",
    ],
)
def test_a_charity_acting_on_what_does_not_exist_gets_404_before_the_body(
    world: World, path: str
) -> None:
    response = world.api.client.post(
        path, content=b"", headers=world.auth["owner"] | {"Content-Type": "application/json"}
    )
    assert response.status_code == 404, response.text


def test_a_replayed_donation_answer_is_not_stored_by_caches_either(world: World) -> None:
    key = new_key()
    body = donation_body(world.charity_id, world.project_id)
    first = world.api.client.post(f"{V1}/donations", json=body, headers=world.api.platform | key)
    again = world.api.client.post(f"{V1}/donations", json=body, headers=world.api.platform | key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["receipt"]["secret"] == first.json()["receipt"]["secret"]
    for response in (first, again):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/no-such-page",
        "/static/no-such-file.css",
        f"{V1}/no-such-route",
        "/search?q=%00",
        "/docs",
        "/openapi.json",
        "/healthz",
    ],
)
def test_every_answer_says_nosniff_errors_and_static_files_too(world: World, path: str) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = world.api.client.request(method, path)
        assert response.headers["x-content-type-options"] == "nosniff", (method, path)
    for name in ("app.css", "verify.js"):
        static = world.api.client.get(f"/static/{name}")
        if static.status_code == 200:
            assert static.headers["x-content-type-options"] == "nosniff"


def test_a_413_from_the_body_limit_says_nosniff(world: World) -> None:
    response = world.api.client.post(
        f"{V1}/donations", content=b"x" * (1 << 20), headers=world.api.platform | new_key()
    )
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_write_route_names_the_bearer_scheme_in_the_openapi(world: World) -> None:
    paths = world.api.client.get("/openapi.json").json()["paths"]
    for method, path in WRITE_ROUTES:
        operation = paths[path][method.lower()]
        assert operation.get("security") == [{"HTTPBearer": []}], path


def test_a_role_guard_outside_guarded_route_still_refuses(world: World) -> None:
    """A route added on another router (FastAPI's own route class) keeps the role check,
    only later: after the body."""
    app = create_app(world.api.services)
    elsewhere = APIRouter()

    @elsewhere.post("/api/v1/elsewhere")
    def guarded_elsewhere(principal: PlatformOnly) -> dict[str, str]:
        return {"role": principal.role}

    app.include_router(elsewhere)
    with TestClient(app) as client:
        for role, status in (("platform", 200), ("owner", 403), ("auditor", 403)):
            response = client.post("/api/v1/elsewhere", headers=world.auth[role])
            assert response.status_code == status, (role, response.text)
        assert client.post("/api/v1/elsewhere").status_code == 401
        assert (
            client.post("/api/v1/elsewhere", headers=world.auth["invalid_token"]).status_code == 401
        )
