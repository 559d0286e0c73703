"""Whatever the journal can hold, every page shows (issue 12): no value makes a page fail.

The API keeps ``paid_at`` in a window (test_paid_at_window.py), but the journal is
append-only and outlives any window: an entry written before the window existed, by
another tool or straight through the store, is there forever. So the journal here is
written through the store, bypassing the API, with the extremes the ledger's validation
allows (years 0001 and 9999, offsets of ±23:59, amounts of 1 and 10^12, the longest
strings, any Unicode it lets through, entries stamped in years 0001 and 9999), and then
every page kind and its JSON twin, in both languages, every GET of the API and the CSV
exports must answer 200. On PostgreSQL the database's time zone is Asia/Shanghai, as
on a server in China: a session there reads 9999-12-31T23:59Z as the year 10000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import quote

import psycopg
import pytest

from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from ledger.entries import MAX_AMOUNT
from ledger.store.journal import Store
from ledger.store.requests import Draft
from tests import factories as f
from tests.api.conftest import Api, ApiFactory, new_key
from tests.conftest import PG_ADMIN_URL

FIRST_MOMENT = datetime(1, 1, 1, tzinfo=UTC)
LAST_MOMENT = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)

# Markup, CJK, a character outside the BMP, a combining mark that NFC keeps, right-to-left
# and zero-width format characters, a tab and a newline (the only controls allowed), and
# the quotes a CSV writer and an HTML attribute must escape.
PATTERN = "<b>&\"'善款🧧x\u0301\u202eabc\u200d\t\n,;=+-@"


def longest(limit: int) -> str:
    """A string of exactly ``limit`` characters the ledger accepts (it trims nothing)."""
    text = ("善" + PATTERN * limit)[: limit - 1] + "链"
    assert len(text) == limit
    return text


def printable(limit: int) -> str:
    """``longest`` without the controls and format characters, which the API refuses in a
    donor's name (the donor table is not the journal, so it need not hold them)."""
    text = longest(limit)
    for refused in "\t\n\u202e\u200d":
        text = text.replace(refused, " ")
    return text


def evidence(count: int) -> list[dict[str, Any]]:
    media_type = "a" * 63 + "/" + "b" * 62 + "+"
    return [
        {"sha256": f"0x{index:064x}", "media_type": media_type, "public": index % 2 == 0}
        for index in range(count)
    ]


@dataclass
class Extremes:
    charity_ids: list[str] = field(default_factory=list)
    project_ids: list[str] = field(default_factory=list)
    donation_ids: list[str] = field(default_factory=list)
    disbursement_ids: list[str] = field(default_factory=list)
    api_donation_id: str = ""
    """Recorded through the API: it has a donor row, so its receipt can be fetched."""


def ids(drafts: list[Draft], key: str) -> list[str]:
    return [str(d.body[key]) for d in drafts if key in d.body]


def record_extremes(api: Api) -> Extremes:
    store = api.store
    made = Extremes()
    # -- stamped 0001-01-01T00:00:00.000Z ---------------------------------------------------
    charity = f.charity(name=longest(200), registration_no=longest(64), signer="0x" + "Ab" * 20)
    ch = str(charity.body["charity_id"])
    cny = f.project(ch, title=longest(200), goal_amount=MAX_AMOUNT)
    jpy = f.project(ch, title="円", goal_amount=1, currency="JPY")
    clf = f.project(ch, title=longest(200), goal_amount=MAX_AMOUNT, currency="CLF")
    pr, pr_jpy, pr_clf = ids([cny, jpy, clf], "project_id")
    channel = "z" + "9_" * 15 + "z"
    donations = [
        f.donation(ch, pr, MAX_AMOUNT, paid_at="9999-12-31T23:59:59Z", channel=channel),
        f.donation(ch, pr, 1, paid_at="0001-01-01T00:00:00Z"),
        f.donation(ch, pr_jpy, MAX_AMOUNT, currency="JPY", paid_at="0001-01-01T23:59:59+23:59"),
        f.donation(ch, pr_clf, MAX_AMOUNT, currency="CLF", paid_at="9999-12-31T00:00:00-23:59"),
        f.donation(ch, None, 1, paid_at="9999-12-31T23:59:59.999999Z"),
        f.donation(ch, pr, 2, paid_at="2026-11-26T10:00:00.123456789+08:00"),
    ]
    store.append([charity, cny, jpy, clf, *donations], at=FIRST_MOMENT)
    d_max, d_min, _, _, d_general, d_two = ids(donations, "donation_id")
    # -- stamped now ---------------------------------------------------------------------
    big = f.disbursement(ch, pr, MAX_AMOUNT, payee=longest(200), purpose=longest(500))
    big = Draft(big.kind, big.body | {"evidence": evidence(50)}, actor=big.actor)
    small = f.disbursement(ch, pr, 1, payee=longest(200), purpose=longest(500))
    db_big, db_small = ids([big, small], "disbursement_id")
    small_allocation = f.allocation(ch, d_min, db_small, 1)
    store.append(
        [
            big,
            f.allocation(ch, d_max, db_big, MAX_AMOUNT),
            small,
            small_allocation,
            f.reversal(ch, str(small_allocation.body["allocation_id"]), reason=longest(500)),
            f.void(ch, db_small, reason=longest(500)),
            f.refund(d_general, 1, reason=longest(500)),
            f.refund(d_two, 1, reason=longest(500)),
        ]
    )
    # Through the API: the charity registered in year 0001, so the window's lower bound
    # is 0001-01-01T00:00:00.000Z and this paid_at, on it, is accepted.
    response = api.client.post(
        "/api/v1/donations",
        json={
            "charity_id": ch,
            "project_id": pr,
            "amount": MAX_AMOUNT,
            "currency": "CNY",
            "channel": channel,
            "paid_at": "0001-01-01T00:00:00Z",
            "payment_ref": printable(200),
            "donor": {"name": printable(200), "email": "a" * 240 + "@example.cn"},
        },
        headers=api.platform | new_key(),
    )
    assert response.status_code == 201, response.text
    made.api_donation_id = response.json()["id"]
    api.anchor()
    # -- stamped 9999-12-31T23:59:59.999Z --------------------------------------------------
    late = f.charity(name=longest(200))
    late_id = str(late.body["charity_id"])
    last = f.donation(late_id, None, MAX_AMOUNT, paid_at="9999-12-31T23:59:59.999Z")
    # The store refuses an `at` ahead of its clock now (ADR 0022), but a journal written
    # before that rule, or by another writer, may hold one: the pages must still answer.
    with mock.patch("ledger.store.appends.check_not_ahead"):
        store.append([late, last], at=LAST_MOMENT)
    api.anchor()

    made.charity_ids = [ch, late_id]
    made.project_ids = [pr, pr_jpy, pr_clf]
    made.donation_ids = [
        *ids(donations, "donation_id"),
        made.api_donation_id,
        *ids([last], "donation_id"),
    ]
    made.disbursement_ids = [db_big, db_small]
    return made


def shanghai(database_url: str) -> None:
    """Give a PostgreSQL database the time zone of a server in China."""
    name = database_url.rpartition("/")[2]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{name}\" SET timezone TO 'Asia/Shanghai'")


@pytest.fixture
def extreme(make_api: ApiFactory, database_url: str) -> tuple[Api, Extremes]:
    if database_url.startswith("postgresql"):
        shanghai(database_url)
    chain = ChainClient.embedded(chain=EmbeddedChain())
    chain.deploy()
    api = make_api(database_url, chain)
    return api, record_extremes(api)


def page_paths(made: Extremes, size: int) -> list[str]:
    """Every page kind of the explorer, each with its JSON twin."""
    paths = ["/", "/.json", "/checkpoints", "/checkpoints.json", "/checkpoints?before=1"]
    for kind, keys in (
        ("charities", made.charity_ids),
        ("projects", made.project_ids),
        ("donations", made.donation_ids),
        ("disbursements", made.disbursement_ids),
        ("entries", [str(seq) for seq in range(size)]),
    ):
        for key in keys:
            paths += [f"/{kind}/{key}", f"/{kind}/{key}.json"]
    for q in [*made.donation_ids[:2], "9999", "0001", "善款🧧", longest(200), "<b>&\"'"]:
        paths += [f"/search?q={quote(q)}", f"/search.json?q={quote(q)}"]
    return paths


def api_paths(made: Extremes, size: int) -> list[str]:
    """Every GET of the API on these records, the CSV exports with and without a period."""
    v1 = "/api/v1"
    paths = [
        f"{v1}/checkpoints",
        f"{v1}/checkpoints/latest",
        f"{v1}/checkpoints/consistency?first=1&second={size}",
        f"{v1}/entries",
        f"{v1}/entries?after=3&limit=5",
        f"{v1}/chain",
    ]
    paths += [f"{v1}/charities/{key}" for key in made.charity_ids]
    paths += [f"{v1}/projects/{key}" for key in made.project_ids]
    paths += [f"{v1}/disbursements/{key}" for key in made.disbursement_ids]
    for key in made.donation_ids:
        paths += [f"{v1}/donations/{key}", f"{v1}/donations/{key}/proof"]
    receipt = f"{v1}/donations/{made.api_donation_id}/receipt"
    paths += [receipt, f"{receipt}.png", f"{receipt}.svg"]
    for kind in ("donations", "disbursements", "allocations"):
        paths += [
            f"{v1}/exports/{kind}.csv",
            f"{v1}/exports/{kind}.csv?charity_id={made.charity_ids[0]}",
            f"{v1}/exports/{kind}.csv?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z",
            f"{v1}/exports/{kind}.csv?from=0001-01-01T23:59:59%2B23:59&to=9999-12-31T00:00:00-23:59",
        ]
    return paths


def test_every_page_of_a_journal_of_extremes_answers_in_both_languages(
    extreme: tuple[Api, Extremes],
) -> None:
    api, made = extreme
    size = api.store.size()
    failed = []
    for path in page_paths(made, size):
        for language in ("zh-CN", "en"):
            sep = "&" if "?" in path else "?"
            response = api.client.get(f"{path}{sep}lang={language}")
            if response.status_code != 200:
                failed.append(f"{path} [{language}]: {response.status_code}")
    assert failed == []


def test_every_get_of_the_api_and_every_export_answers(extreme: tuple[Api, Extremes]) -> None:
    api, made = extreme
    size = api.store.size()
    failed = []
    for path in api_paths(made, size):
        response = api.client.get(path, headers=api.platform)
        if response.status_code != 200:
            failed.append(f"{path}: {response.status_code} {response.text[:200]}")
    assert failed == []
    rows = api.client.get("/api/v1/exports/donations.csv", headers=api.platform).text
    assert "9999-12-31T23:59:59.000Z" in rows
    assert "0001-01-01T00:00:00.000Z" in rows


def text_of(html: str) -> str:
    """The text of the <time> of the "Paid" line (the time, then the channel's name)."""
    match = re.search(r"<dd><time datetime=\"([^\"]*)\">([^<]*)</time> · ", html)
    assert match is not None, html
    return f"{match.group(1)}|{match.group(2)}"


def test_a_time_with_no_beijing_date_is_shown_in_utc_and_year_0001_in_both(
    extreme: tuple[Api, Extremes],
) -> None:
    api, made = extreme
    d_max, d_min = made.donation_ids[:2]

    late = api.client.get(f"/donations/{d_max}?lang=zh-CN").text
    early = api.client.get(f"/donations/{d_min}?lang=zh-CN").text
    early_en = api.client.get(f"/donations/{d_min}?lang=en").text

    # 9999-12-31T23:59:59Z is in the year 10000 in Beijing: the page says it in UTC.
    assert text_of(late) == "9999-12-31T23:59:59Z|9999-12-31 23:59 UTC"
    assert text_of(early) == "0001-01-01T00:00:00Z|0001-01-01 08:00 北京时间"
    assert text_of(early_en) == "0001-01-01T00:00:00Z|0001-01-01 00:00 UTC"


def test_the_journal_of_extremes_verifies(extreme: tuple[Api, Extremes]) -> None:
    api, _ = extreme
    verification = Store.verify(api.store)
    assert verification.ok, verification
