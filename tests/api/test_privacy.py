"""Privacy (DESIGN §3.1, §8): donors' personal data stays in the donor table.

Distinctive names, phones, e-mails and payment references go in through
``POST /donations``; then every public answer — each GET route of the API and of the
explorer (pages and ``.json`` twins) for every id, searches for the data itself, the
journal export, every proof bundle, the auditors' exports — is scanned for them. They
must be nowhere but in the donor table (where the test also finds them, so it can fail).
Keys and the platform token are never shown again after their creation, nor logged.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import MetaData, select

from api.official_receipts import reveal_key
from api.webhooks import now_ms
from ledger.disclosure import quarter_of
from ledger.store.outbox import Outbox
from tests.api.conftest import PLATFORM_TOKEN, Api, bearer, new_key
from tests.api.test_authorization import app_routes

DONORS = [
    {
        "name": "隐私测试张三",
        "phone": "+86-139-0000-1234",
        "email": "privacy-canary@example.org",
        "anonymous": False,
    },
    {
        "name": "Canary O'Brien <script>alert(1)</script>",
        "phone": "+86 (10) 8888-7777",
        "email": "second.canary+tag@example.net",
        "anonymous": False,
    },
    {
        "name": "匿名的李四金丝雀",
        "phone": "13912345678",
        "email": "anon-canary@example.com",
        "anonymous": True,
    },
]
PAYMENT_REFS = ["PAYREF-CANARY-0001", "PAYREF-CANARY-0002", "支付凭证-金丝雀-0003"]
OFFICIAL_RECEIPT = {"code": "11069926", "number": "9173650284", "check_code": "Q7ZK3X"}
"""An official e-receipt attached to the first donation (ADR 0041): with these three anyone
could look it up on the government's platform, which shows the payer's name."""
PAYER_REFS = ["wxid-payer-canary-0001", "alipay-payer-canary-0002", "付款人-金丝雀-0003"]
"""The payment channel's payer references (ADR 0040): kept only as keyed hashes."""


def canaries() -> list[str]:
    values = [v for donor in DONORS for v in (donor["name"], donor["phone"], donor["email"])]
    return [str(v) for v in values] + PAYMENT_REFS + PAYER_REFS + list(OFFICIAL_RECEIPT.values())


def forms(value: str) -> set[str]:
    """The ways a string could show up in a body: as is, JSON-escaped, HTML-escaped, in a
    URL, and, for what is distinctive enough, the tail of a name or a phone's digits."""
    found = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
        quote(value),
        quote_plus(value),
    }
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 8 and not value.isdigit():
        found.add(digits)
    return {f.lower() for f in found}


@dataclass
class Seeded:
    api: Api
    charity_id: str
    charity_key: str
    project_id: str
    donation_ids: list[str]
    disbursement_id: str
    evidence: str
    auditor: dict[str, str]
    pool_id: str = ""


@pytest.fixture
def seeded(api: Api, caplog: pytest.LogCaptureFixture) -> Seeded:
    caplog.set_level(logging.DEBUG)
    response = api.client.post(
        "/api/v1/charities",
        json={"name": "乡村学校基金会", "registration_no": "53100000500021676Q"},
        headers=api.platform,
    )
    charity_id, key = response.json()["id"], response.json()["api_key"]
    project_id = api.open_project(charity_id, bearer(key))
    matcher = api.client.post(
        "/api/v1/matchers",
        json={"name": "某某科技有限公司", "registration_no": "91110000MA0000002X"},
        headers=api.platform,
    ).json()["id"]
    pool = api.client.post(
        f"/api/v1/matchers/{matcher}/pools",
        json={
            "title": "配捐",
            "currency": "CNY",
            "total": 100_000,
            "cap_per_donation": 1_000,
            "cap_per_payer_per_day": 3_000,
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2099-01-01T00:00:00Z",
            "project_ids": [project_id],
        },
        headers=api.platform,
    ).json()["id"]
    donation_ids = []
    for donor, ref, payer in zip(DONORS, PAYMENT_REFS, PAYER_REFS, strict=True):
        donation = api.donate(
            charity_id, project_id, 10_000, donor=donor, payment_ref=ref, payer_ref=payer
        )
        assert donation["matches"], "the pool matches each donation"
        donation_ids.append(donation["id"])
    evidence = api.upload(bearer(key))
    disbursement = api.disburse(
        charity_id,
        project_id,
        bearer(key),
        15_000,
        evidence=[{"sha256": evidence, "public": True}],
        allocate="fifo",
    )
    api.client.post(
        f"/api/v1/donations/{donation_ids[2]}/refunds",
        json={"amount": 1_000, "reason": "donor asked"},
        headers=api.platform | new_key(),
    )
    attached = api.client.put(
        f"/api/v1/donations/{donation_ids[0]}/official-receipt",
        json=OFFICIAL_RECEIPT,
        headers=bearer(key),
    )
    assert attached.status_code == 200, attached.text
    api.anchor()
    auditor = bearer(api.services.keys.issue("auditor", "privacy test"))
    return Seeded(
        api=api,
        charity_id=charity_id,
        charity_key=key,
        project_id=project_id,
        donation_ids=donation_ids,
        disbursement_id=disbursement["id"],
        evidence=evidence,
        auditor=auditor,
        pool_id=pool,
    )


def path_values(s: Seeded) -> dict[str, list[str]]:
    """The values to put in each path parameter: every id the seeded journal holds."""
    return {
        "charity_id": [s.charity_id],
        "project_id": [s.project_id],
        "donation_id": s.donation_ids,
        "disbursement_id": [s.disbursement_id],
        "sha256": [s.evidence],
        "seq": [str(seq) for seq in range(s.api.store.size())],
        "kind": ["donations", "disbursements", "allocations"],
        "index": ["0"],
        "path": ["app.js"],
        "name": ["swagger-start.js", "swagger-ui.css"],
        "rest": ["checkpoint"],
        "endpoint_id": [_webhook(s)],
        # Disclosure reports (ADR 0039): the quarter the seeded journal was written in.
        "scope_id": [s.project_id, s.charity_id],
        "period": [quarter_of(datetime.now(UTC))],
        "pool_id": [s.pool_id],
    }


def _webhook(s: Seeded) -> str:
    """A webhook endpoint of the charity with its deliveries queued: their log is scanned too."""
    outbox = Outbox(s.api.store)
    found = outbox.endpoints(s.charity_id)
    if found:
        return found[0].endpoint_id
    endpoint = outbox.add_endpoint(
        s.charity_id, "https://hooks.example.org/x", ["donation.received"], now_ms()
    )
    outbox.queue(now_ms())
    return endpoint.endpoint_id


def urls(s: Seeded) -> Iterator[tuple[str, str | None]]:
    """Every GET route of the app, with every id in its path, and each page's .json twin;
    with each URL, the personal data it carries itself (a search echoes its query)."""
    values = path_values(s)
    for method, template in sorted(set(app_routes(s.api.client.app.routes))):
        if method != "GET" or template.endswith("/*"):
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", template)
        unknown = [n for n in names if n not in values]
        assert not unknown, f"{template}: add {unknown} to path_values"
        filled = [template]
        for name in names:
            filled = [
                re.sub(rf"{{{name}(?::\w+)?}}", value, url, count=1)
                for url in filled
                for value in values[name]
            ]
        for url in filled:
            yield url, None
            if not url.startswith("/api/") and not url.endswith(".json"):
                yield (url.rstrip("/") + ".json" if url != "/" else "/.json"), None
    for canary in canaries():  # searching for the data itself finds nothing of it
        yield f"/search?q={quote(canary)}", canary
        yield f"/search.json?q={quote(canary)}", canary
    yield "/api/v1/entries?limit=10000", None


@dataclass
class Answer:
    what: str
    body: str
    echoed: str | None


def public_answers(s: Seeded) -> Iterator[Answer]:
    """Every public answer, and the auditors' exports and evidence."""
    for url, echoed in urls(s):
        for who, headers in (("anyone", {}), ("an auditor", s.auditor)):
            response = s.api.client.get(url, headers=headers)
            assert response.status_code < 500, f"{url}: {response.status_code}"
            text = response.content.decode("utf-8", errors="replace")
            what = f"GET {url} as {who} ({response.status_code})"
            yield Answer(what, text + str(response.headers), echoed)


def test_no_public_answer_shows_a_donors_personal_data(seeded: Seeded) -> None:
    scanned = 0
    leaks = []
    needles = {canary: forms(canary) for canary in canaries()}
    for answer in public_answers(seeded):
        scanned += 1
        lowered = answer.body.lower()
        leaks += [
            f"{canary!r} in {answer.what}"
            for canary, fs in needles.items()
            if canary != answer.echoed and any(f in lowered for f in fs)
        ]
    assert scanned > 50
    assert not leaks, "\n".join(leaks)


def test_the_personal_data_is_in_the_donor_table_so_the_scan_can_fail(seeded: Seeded) -> None:
    donors = {row["donation_id"]: row for row in seeded.api.donors()}
    for donation_id, donor in zip(seeded.donation_ids, DONORS, strict=True):
        row = donors[donation_id]
        assert (row["name"], row["phone"], row["email"], row["anonymous"]) == (
            donor["name"],
            donor["phone"],
            donor["email"],
            donor["anonymous"],
        )
    # …and the scan sees it where it is shown: the platform's receipt page has the
    # receipt secret, which is in no public answer either.
    secret = seeded.api.services.receipt_secret(seeded.donation_ids[0]).hex()
    page = seeded.api.client.get(
        f"/api/v1/donations/{seeded.donation_ids[0]}/receipt", headers=seeded.api.platform
    )
    assert secret in page.text
    assert not [a.what for a in public_answers(seeded) if secret in a.body]


def test_the_official_receipt_is_shown_to_its_charity_and_its_donor_only(seeded: Seeded) -> None:
    """The scan above can fail on it: it is stored, and shown where it belongs (ADR 0041)."""
    api, donation_id = seeded.api, seeded.donation_ids[0]
    url = f"/api/v1/donations/{donation_id}/official-receipt"
    charity = api.client.get(url, headers=bearer(seeded.charity_key))
    assert {k: charity.json()[k] for k in OFFICIAL_RECEIPT} == OFFICIAL_RECEIPT
    key = reveal_key(api.services.receipt_secret(donation_id), donation_id).hex()
    donor = api.client.post(f"{url}/reveal", json={"reveal_key": key})
    assert {k: donor.json()[k] for k in OFFICIAL_RECEIPT} == OFFICIAL_RECEIPT
    assert api.client.get(url).status_code == 401
    assert api.client.get(url, headers=seeded.auditor).status_code == 403
    other = api.client.post(
        f"/api/v1/donations/{seeded.donation_ids[1]}/official-receipt/reveal",
        json={"reveal_key": key},
    )
    assert other.status_code == 404
    stored = {t for t, _ in stored_secrets(api, {"receipt": OFFICIAL_RECEIPT["number"]})}
    assert stored == {"official_receipt"}


def test_proof_bundles_and_the_journal_hold_commitments_and_hashes_only(seeded: Seeded) -> None:
    lines = seeded.api.client.get("/api/v1/entries?limit=10000").content.splitlines()
    received = [json.loads(line) for line in lines if b'"donation.received"' in line]
    assert len(received) == len(DONORS)
    for entry in received:
        body = entry["body"]
        assert set(body) == {
            "donation_id",
            "charity_id",
            "project_id",
            "amount",
            "currency",
            "channel",
            "paid_at",
            "donor_commitment",
            "payment_ref_hash",
        }
    for donation_id in seeded.donation_ids:
        bundle = seeded.api.client.get(f"/api/v1/donations/{donation_id}/proof").json()
        assert set(bundle["entry"]["body"]) == set(received[0]["body"])
        dumped = json.dumps(bundle, ensure_ascii=False).lower()
        assert not [c for c in canaries() if any(f in dumped for f in forms(c))]


def test_keys_are_shown_once_and_never_logged_stored_or_echoed(
    seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    api = seeded.api
    # Use the key, and send a wrong one, so that logs and answers have had every chance.
    api.client.get(f"/api/v1/charities/{seeded.charity_id}", headers=bearer(seeded.charity_key))
    api.client.post(
        f"/api/v1/charities/{seeded.charity_id}/projects",
        json={"title": "x", "goal_amount": 1, "currency": "CNY"},
        headers=bearer(seeded.charity_key + "x"),
    )
    secrets = {"the charity key": seeded.charity_key, "the platform token": PLATFORM_TOKEN}
    secrets["the auditor key"] = seeded.auditor["Authorization"].removeprefix("Bearer ")
    leaks = [
        f"{name} in {answer.what}"
        for answer in public_answers(seeded)
        for name, secret in secrets.items()
        if secret in answer.body
    ]
    charity = api.client.get(f"/api/v1/charities/{seeded.charity_id}", headers=api.platform)
    leaks += [
        f"{name} in GET /charities/{{id}}" for name, s in secrets.items() if s in charity.text
    ]
    logged = (
        "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records) + caplog.text
    )
    assert len(caplog.records) > 0
    leaks += [f"{name} in the logs" for name, secret in secrets.items() if secret in logged]
    leaks += [f"{name} in table {t}" for t, name in stored_secrets(api, secrets)]
    assert not leaks, "\n".join(leaks)


def stored_secrets(api: Api, secrets: dict[str, str]) -> Iterator[tuple[str, str]]:
    """Which secrets appear in plain text in any row of any table."""
    metadata = MetaData()
    metadata.reflect(api.store.engine)
    with api.store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            dump = repr(connection.execute(select(table)).all())
            for name, secret in secrets.items():
                if secret in dump or secret.encode() in dump.encode():
                    yield table.name, name
