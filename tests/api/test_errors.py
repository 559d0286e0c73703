"""Bad requests (DESIGN §7, §8): an RFC 9457 problem with a stable ``code`` and the
offending ``field``, and nothing stored — the journal's size and root, the donor table,
the idempotency keys, the evidence files and the keys are as they were.

Each case runs on SQLite and on PostgreSQL (which, unlike SQLite, refuses a NUL
character in text: a lookup of such an id must be a 404, not a 500).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from tests.api.conftest import (
    MINIMAL_PDF,
    Api,
    build_api,
    close_api,
    disbursement_body,
    donation_body,
    new_key,
)
from tests.conftest import PG_ADMIN_URL, pg_url

MAX_UPLOAD = 4096


@dataclass
class World:
    """Two charities with a project each, donations (one partly spent) and evidence."""

    api: Api
    client: TestClient
    charity_id: str
    owner: dict[str, str]
    project_id: str
    other_project_id: str
    spent_donation_id: str
    free_donation_id: str
    disbursement_id: str
    evidence_sha256: str

    def files(self) -> list[Path]:
        return sorted(p for p in self.api.services.evidence.root.rglob("*") if p.is_file())


BOTH_DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield from make_world(request, tmp_path_factory)


def make_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The world on the database ``request.param`` names (``sqlite`` or ``postgres``)."""
    folder = tmp_path_factory.mktemp("errors")
    database = None
    if request.param == "sqlite":
        url = f"sqlite:///{folder}/journal.db"
    else:
        template = request.getfixturevalue("pg_template")
        database = f"shanlian_err_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
        url = pg_url(database)
    chain = ChainClient.embedded(chain=EmbeddedChain())
    chain.deploy()
    api = build_api(url, chain, folder / "evidence", max_upload_bytes=MAX_UPLOAD)
    charity_id, owner = api.register_charity()
    project_id = api.open_project(charity_id, owner)
    other_charity_id, other = api.register_charity("另一家基金会")
    other_project_id = api.open_project(other_charity_id, other)
    spent = api.donate(charity_id, project_id, 10_000)["id"]
    free = api.donate(charity_id, project_id, 10_000)["id"]
    sha256 = api.upload(owner)
    disbursement = api.disburse(
        charity_id,
        project_id,
        owner,
        6_000,
        evidence=[{"sha256": sha256, "public": True}],
        allocate=[{"donation_id": spent, "amount": 6_000}],
    )
    client = TestClient(api.client.app, raise_server_exceptions=False)
    yield World(
        api=api,
        client=client,
        charity_id=charity_id,
        owner=owner,
        project_id=project_id,
        other_project_id=other_project_id,
        spent_donation_id=spent,
        free_donation_id=free,
        disbursement_id=disbursement["id"],
        evidence_sha256=sha256,
    )
    client.close()
    close_api(api)
    if database is not None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


Call = tuple[str, str, dict[str, Any]]
"""Method, URL and the request's keyword arguments; the caller's headers are added."""


@dataclass(frozen=True)
class Bad:
    """A bad request and the problem it must get."""

    call: Callable[[World], Call]
    status: int
    code: str
    field: str | None
    as_charity: bool = False


def donation(w: World, **change: Any) -> Call:
    body = donation_body(w.charity_id, w.project_id) | change
    return "POST", "/api/v1/donations", {"json": body, "headers": new_key()}


def donor(w: World, **change: Any) -> Call:
    body = donation_body(w.charity_id, w.project_id)
    body["donor"] = body["donor"] | change
    return "POST", "/api/v1/donations", {"json": body, "headers": new_key()}


def raw_donation(content: bytes) -> Callable[[World], Call]:
    headers = {"content-type": "application/json"}
    return lambda w: (
        "POST",
        "/api/v1/donations",
        {"content": content, "headers": headers | new_key()},
    )


def disbursement(w: World, **change: Any) -> Call:
    body = disbursement_body(w.charity_id, w.project_id) | change
    return "POST", "/api/v1/disbursements", {"json": body, "headers": new_key()}


def upload(content: bytes, media_type: str) -> Callable[[World], Call]:
    return lambda w: (
        "POST",
        "/api/v1/evidence",
        {"files": {"file": ("invoice", content, media_type)}},
    )


def refund(donation_id: Callable[[World], str], amount: int) -> Callable[[World], Call]:
    return lambda w: (
        "POST",
        f"/api/v1/donations/{donation_id(w)}/refunds",
        {"json": {"amount": amount, "reason": "donor asked"}, "headers": new_key()},
    )


def project(w: World, charity_id: str | None = None, **change: Any) -> Call:
    body = {"title": "Winter coats", "goal_amount": 300_000, "currency": "CNY"} | change
    return "POST", f"/api/v1/charities/{charity_id or w.charity_id}/projects", {"json": body}


TOO_LONG = "长" * 201
NUL = "\x00"
NUL_IN_URL = "%00"

BAD: dict[str, Bad] = {
    # amounts: integers in minor units, 0 < amount <= 10^12
    "negative amount": Bad(lambda w: donation(w, amount=-100), 422, "invalid_field", "amount"),
    "zero amount": Bad(lambda w: donation(w, amount=0), 422, "invalid_field", "amount"),
    "float amount": Bad(lambda w: donation(w, amount=100.0), 422, "invalid_field", "amount"),
    "fractional amount": Bad(lambda w: donation(w, amount=99.5), 422, "invalid_field", "amount"),
    "amount as text": Bad(lambda w: donation(w, amount="100"), 422, "invalid_field", "amount"),
    "amount as boolean": Bad(lambda w: donation(w, amount=True), 422, "invalid_field", "amount"),
    "amount over 10^12": Bad(
        lambda w: donation(w, amount=10**12 + 1), 422, "invalid_field", "amount"
    ),
    "missing amount": Bad(lambda w: donation(w, amount=None), 422, "invalid_field", "amount"),
    # currencies
    "unknown currency": Bad(
        lambda w: donation(w, currency="XYZ"), 422, "invalid_field", "currency"
    ),
    "lowercase currency": Bad(
        lambda w: donation(w, currency="cny"), 422, "invalid_field", "currency"
    ),
    "currency other than the project's": Bad(
        lambda w: donation(w, currency="USD"), 422, "accounting_rule", "currency"
    ),
    # references
    "unknown charity": Bad(
        lambda w: donation(w, charity_id="ch_unknown", project_id=None),
        422,
        "accounting_rule",
        "charity_id",
    ),
    "malformed charity id": Bad(
        lambda w: donation(w, charity_id="charity-1"), 422, "invalid_field", "charity_id"
    ),
    "unknown project": Bad(
        lambda w: donation(w, project_id="pr_unknown"), 422, "accounting_rule", "project_id"
    ),
    "another charity's project": Bad(
        lambda w: donation(w, project_id=w.other_project_id), 422, "accounting_rule", "project_id"
    ),
    # strings
    "overlong payment reference": Bad(
        lambda w: donation(w, payment_ref=TOO_LONG), 422, "invalid_field", "payment_ref"
    ),
    "overlong donor name": Bad(
        lambda w: donor(w, name=TOO_LONG), 422, "invalid_field", "donor.name"
    ),
    "overlong donor e-mail": Bad(
        lambda w: donor(w, email="a" * 250 + "@x.cn"), 422, "invalid_field", "donor.email"
    ),
    "NUL in the donor's name": Bad(
        lambda w: donor(w, name=f"张{NUL}三"), 422, "invalid_field", "donor.name"
    ),
    "channel not a slug": Bad(
        lambda w: donation(w, channel="Card!"), 422, "invalid_field", "channel"
    ),
    "paid_at without a time zone": Bad(
        lambda w: donation(w, paid_at="2026-11-26T10:00:00"), 422, "invalid_field", "paid_at"
    ),
    # shape
    "extra field": Bad(lambda w: donation(w, tip=100), 422, "invalid_field", "tip"),
    "extra field in the donor": Bad(
        lambda w: donor(w, wechat="zhangsan"), 422, "invalid_field", "donor.wechat"
    ),
    "body not JSON": Bad(raw_donation(b'{"amount": 1'), 422, "invalid_json", "body"),
    "body a JSON array": Bad(raw_donation(b"[]"), 422, "invalid_field", "body"),
    "body over the limit": Bad(
        raw_donation(b'{"payment_ref": "' + b"x" * 70_000 + b'"}'), 413, "payload_too_large", None
    ),
    # idempotency
    "missing Idempotency-Key": Bad(
        lambda w: ("POST", "/api/v1/donations", {"json": donation_body(w.charity_id, None)}),
        428,
        "header_required",
        "Idempotency-Key",
    ),
    "overlong Idempotency-Key": Bad(
        lambda w: (
            "POST",
            "/api/v1/donations",
            {"json": donation_body(w.charity_id, None), "headers": {"Idempotency-Key": "k" * 101}},
        ),
        422,
        "invalid_field",
        "Idempotency-Key",
    ),
    # charities and projects
    "overlong charity name": Bad(
        lambda w: (
            "POST",
            "/api/v1/charities",
            {"json": {"name": TOO_LONG, "registration_no": "53100000500021676Q"}},
        ),
        422,
        "invalid_field",
        "name",
    ),
    "control character in a charity name": Bad(
        lambda w: (
            "POST",
            "/api/v1/charities",
            {"json": {"name": f"基金会{NUL}", "registration_no": "53100000500021676Q"}},
        ),
        422,
        "invalid_field",
        "name",
    ),
    "malformed signer": Bad(
        lambda w: (
            "POST",
            "/api/v1/charities",
            {"json": {"name": "基金会", "registration_no": "5310", "signer": "0x12"}},
        ),
        422,
        "invalid_field",
        "signer",
    ),
    "fractional goal": Bad(
        lambda w: project(w, goal_amount=1.5), 422, "invalid_field", "goal_amount", True
    ),
    "project in an unknown currency": Bad(
        lambda w: project(w, currency="ABC"), 422, "invalid_field", "currency", True
    ),
    "project of an unknown charity": Bad(
        lambda w: project(w, "ch_unknown"), 404, "not_found", None
    ),
    "project of a charity id with NUL": Bad(
        lambda w: project(w, f"ch_{NUL_IN_URL}"), 404, "not_found", None
    ),
    # refunds
    "refund of allocated money": Bad(
        refund(lambda w: w.spent_donation_id, 5_000), 422, "accounting_rule", "amount"
    ),
    "refund of more than the donation": Bad(
        refund(lambda w: w.free_donation_id, 10_001), 422, "accounting_rule", "amount"
    ),
    "refund of an unknown donation": Bad(refund(lambda w: "dn_unknown", 1), 404, "not_found", None),
    "refund of a donation id with NUL": Bad(
        refund(lambda w: f"dn_{NUL_IN_URL}", 1), 404, "not_found", None
    ),
    # fund use
    "over-allocation of the disbursement": Bad(
        lambda w: disbursement(
            w, amount=6_000, allocate=[{"donation_id": w.free_donation_id, "amount": 7_000}]
        ),
        422,
        "accounting_rule",
        "allocate[0].amount",
        True,
    ),
    "over-allocation of the donation": Bad(
        lambda w: disbursement(
            w,
            amount=20_000,
            allocate=[
                {"donation_id": w.free_donation_id, "amount": 1_000},
                {"donation_id": w.spent_donation_id, "amount": 5_000},
            ],
        ),
        422,
        "accounting_rule",
        "allocate[1].amount",
        True,
    ),
    "allocation of an unknown donation": Bad(
        lambda w: disbursement(w, allocate=[{"donation_id": "dn_unknown", "amount": 1}]),
        422,
        "accounting_rule",
        "allocate[0].donation_id",
        True,
    ),
    "unknown allocation mode": Bad(
        lambda w: disbursement(w, allocate="lifo"), 422, "invalid_field", "allocate", True
    ),
    "evidence never uploaded": Bad(
        lambda w: disbursement(w, evidence=[{"sha256": "0x" + "00" * 32, "public": True}]),
        422,
        "unknown_evidence",
        "evidence[0].sha256",
        True,
    ),
    "malformed evidence hash": Bad(
        lambda w: disbursement(w, evidence=[{"sha256": "0xABC", "public": True}]),
        422,
        "invalid_field",
        "evidence[0].sha256",
        True,
    ),
    "allocation over what the disbursement needs": Bad(
        lambda w: (
            "POST",
            "/api/v1/allocations",
            {
                "json": {
                    "donation_id": w.free_donation_id,
                    "disbursement_id": w.disbursement_id,
                    "amount": 1,
                },
                "headers": new_key(),
            },
        ),
        422,
        "accounting_rule",
        "amount",
        True,
    ),
    "allocation to an unknown disbursement": Bad(
        lambda w: (
            "POST",
            "/api/v1/allocations",
            {
                "json": {
                    "donation_id": w.free_donation_id,
                    "disbursement_id": "db_unknown",
                    "amount": 1,
                },
                "headers": new_key(),
            },
        ),
        404,
        "not_found",
        None,
        True,
    ),
    "reversal of an allocation id with NUL": Bad(
        lambda w: (
            "POST",
            f"/api/v1/allocations/al_{NUL_IN_URL}/reversal",
            {"json": {"reason": "x"}, "headers": new_key()},
        ),
        404,
        "not_found",
        None,
        True,
    ),
    # evidence uploads
    "evidence over the size limit": Bad(
        upload(MINIMAL_PDF + b"0" * MAX_UPLOAD, "application/pdf"),
        413,
        "payload_too_large",
        "file",
        True,
    ),
    "evidence of a media type not accepted": Bad(
        upload(b"MZ\x90\x00", "application/x-msdownload"),
        415,
        "unsupported_media_type",
        "file",
        True,
    ),
    "evidence whose content is not its media type": Bad(
        upload(b"<script>alert(1)</script>", "application/pdf"),
        415,
        "unsupported_media_type",
        "file",
        True,
    ),
    "empty evidence": Bad(upload(b"", "application/pdf"), 422, "invalid_field", "file", True),
    "evidence without a file": Bad(
        lambda w: ("POST", "/api/v1/evidence", {"data": {"x": "1"}}),
        422,
        "invalid_field",
        "file",
        True,
    ),
    # reads
    "journal page over 10,000": Bad(
        lambda w: ("GET", "/api/v1/entries", {"params": {"limit": 10_001}}),
        422,
        "invalid_field",
        "limit",
    ),
    "consistency backwards": Bad(
        lambda w: ("GET", "/api/v1/checkpoints/consistency", {"params": {"first": 3, "second": 1}}),
        422,
        "invalid_size",
        "first",
    ),
    "malformed evidence hash in a URL": Bad(
        lambda w: ("GET", "/api/v1/evidence/0x12", {}), 422, "invalid_field", "sha256"
    ),
    "donation id with NUL": Bad(
        lambda w: ("GET", f"/api/v1/donations/dn_{NUL_IN_URL}", {}), 404, "not_found", None
    ),
    "receipt of a donation id with NUL": Bad(
        lambda w: ("GET", f"/api/v1/donations/dn_{NUL_IN_URL}/receipt.png", {}),
        404,
        "not_found",
        None,
    ),
    "export of a charity id with NUL": Bad(
        lambda w: ("GET", "/api/v1/exports/donations.csv", {"params": {"charity_id": f"ch_{NUL}"}}),
        422,
        "invalid_field",
        "charity_id",
    ),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_a_bad_request_gets_a_problem_naming_the_field_and_stores_nothing(
    world: World, case: Bad
) -> None:
    method, url, kwargs = case.call(world)
    auth = world.owner if case.as_charity else world.api.platform
    kwargs = dict(kwargs)
    kwargs["headers"] = kwargs.get("headers", {}) | auth
    before, files, donors = world.api.stored(), world.files(), world.api.donors()
    response = world.client.request(method, url, **kwargs)
    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == case.status
    assert problem["code"] == case.code, problem
    assert problem.get("field") == case.field, problem
    assert problem["type"].endswith(f"/{case.code}")
    assert problem["title"]
    assert problem["detail"]
    assert world.api.stored() == before
    assert world.files() == files
    assert world.api.donors() == donors


def test_a_refused_request_leaves_its_idempotency_key_unused(world: World) -> None:
    key = new_key()
    body = donation_body(world.charity_id, world.project_id)
    refused = world.client.post(
        "/api/v1/donations", json=body | {"amount": -1}, headers=world.api.platform | key
    )
    assert refused.status_code == 422
    accepted = world.client.post("/api/v1/donations", json=body, headers=world.api.platform | key)
    assert accepted.status_code == 201, accepted.text


def test_an_unknown_api_route_is_a_problem_too(world: World) -> None:
    missing = world.client.get("/api/v1/no-such-thing")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert missing.headers["content-type"] == "application/problem+json"


def test_a_method_an_api_route_does_not_take_is_405(world: World) -> None:
    wrong = world.client.delete(f"/api/v1/donations/{world.free_donation_id}")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
    assert wrong.headers["content-type"] == "application/problem+json"
    assert "GET" in wrong.headers["allow"]
