"""Input the API refuses or normalizes before anything is stored (issue 12, item 8, Low).

Human text (names, titles, payees, purposes, reasons, donor names) is NFKC-normalized and
refuses control, bidi, zero-width and other invisible characters and mixed-script
look-alike words; JSON with a key twice is refused; ISO 4217 codes that are not money
are refused unless configured; a registration number belongs to one charity. Each runs
on SQLite and PostgreSQL (the ``world`` of ``test_errors``).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest

from api.models import human_text
from ledger.currencies import ISO_4217, NOT_MONEY
from ledger.entries import registration_key
from ledger.store.requests import Draft
from tests import factories as f
from tests.api.conftest import ApiFactory, disbursement_body, donation_body, new_key
from tests.api.test_errors import BOTH_DATABASES, World, make_world

V1 = "/api/v1"


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Two charities with projects, donations and a disbursement, on each database."""
    yield from make_world(request, tmp_path_factory)


# -- human text ---------------------------------------------------------------------------------

REFUSED_CHARACTERS = {
    "RIGHT-TO-LEFT OVERRIDE": "\u202e",
    "LEFT-TO-RIGHT EMBEDDING": "\u202a",
    "POP DIRECTIONAL FORMATTING": "\u202c",
    "RIGHT-TO-LEFT ISOLATE": "\u2067",
    "POP DIRECTIONAL ISOLATE": "\u2069",
    "LEFT-TO-RIGHT MARK": "\u200e",
    "RIGHT-TO-LEFT MARK": "\u200f",
    "ARABIC LETTER MARK": "\u061c",
    "ZERO WIDTH SPACE": "\u200b",
    "ZERO WIDTH NON-JOINER": "\u200c",
    "ZERO WIDTH JOINER": "\u200d",
    "WORD JOINER": "\u2060",
    "BYTE ORDER MARK": "\ufeff",
    "SOFT HYPHEN (Cf)": "\u00ad",
    "INVISIBLE SEPARATOR (Cf)": "\u2063",
    "TAG LATIN SMALL LETTER A (Cf)": "\U000e0061",
    "NUL (Cc)": "\x00",
    "LINE FEED (Cc)": "\n",
    "TAB (Cc)": "\t",
    "DELETE (Cc)": "\x7f",
    "NEXT LINE (Cc)": "\x85",
    "LINE SEPARATOR (Zl)": "\u2028",
    "PARAGRAPH SEPARATOR (Zp)": "\u2029",
    "PRIVATE USE (Co)": "\ue000",
    "UNASSIGNED (Cn)": "\U000e0fff",
}

# The request (method, URL, body builder) for each human text field, and the field's name.
TEXT_FIELDS = {
    "charity name": ("/charities", "name"),
    "registration number": ("/charities", "registration_no"),
    "project title": ("/projects", "title"),
    "donor name": ("/donations", "donor.name"),
    "refund reason": ("/refunds", "reason"),
    "payee": ("/disbursements", "payee"),
    "purpose": ("/disbursements", "purpose"),
    "void reason": ("/void", "reason"),
}


def text_request(w: World, route: str, field: str, value: str) -> tuple[str, dict[str, Any]]:
    """URL and request keywords that put ``value`` in ``field`` (with the platform's token)."""
    headers = w.api.platform | new_key()
    if route == "/charities":
        body = {"name": "新基金会", "registration_no": "R" + new_key()["Idempotency-Key"]}
        body[field] = value
        return f"{V1}/charities", {"json": body, "headers": headers}
    if route == "/projects":
        body = {"title": "Winter coats", "goal_amount": 1000, "currency": "CNY", field: value}
        return f"{V1}/charities/{w.charity_id}/projects", {"json": body, "headers": headers}
    if route == "/donations":
        body = donation_body(w.charity_id, w.project_id)
        body["donor"]["name"] = value
        return f"{V1}/donations", {"json": body, "headers": headers}
    if route == "/refunds":
        body = {"amount": 100, "reason": value}
        return f"{V1}/donations/{w.free_donation_id}/refunds", {"json": body, "headers": headers}
    if route == "/disbursements":
        body = disbursement_body(w.charity_id, w.project_id, 100) | {field: value}
        return f"{V1}/disbursements", {"json": body, "headers": headers}
    body = {"reason": value}
    return f"{V1}/disbursements/{w.disbursement_id}/void", {"json": body, "headers": headers}


@pytest.mark.parametrize("character", REFUSED_CHARACTERS.values(), ids=REFUSED_CHARACTERS.keys())
@pytest.mark.parametrize("where", TEXT_FIELDS.values(), ids=TEXT_FIELDS.keys())
def test_invisible_and_control_characters_are_refused_in_every_human_text_field(
    world: World, where: tuple[str, str], character: str
) -> None:
    route, field = where
    url, kwargs = text_request(world, route, field.rsplit(".", 1)[-1], f"基金{character}会")
    before = world.api.stored()
    response = world.client.post(url, **kwargs)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("invalid_field", field)
    assert f"U+{ord(character):04X}" in problem["detail"]
    assert world.api.stored() == before


LOOKALIKE_WORDS = {
    "Cyrillic a in Paypal": "P\u0430ypal",
    "Cyrillic o in Oxfam": "\u041exfam",
    "Greek omicron in Red Cross": "Red Cr\u03bfss",
    "Latin e in a Cyrillic word": "Mосквa",
}


@pytest.mark.parametrize("word", LOOKALIKE_WORDS.values(), ids=LOOKALIKE_WORDS.keys())
@pytest.mark.parametrize(
    "where", [TEXT_FIELDS["charity name"], TEXT_FIELDS["payee"], TEXT_FIELDS["project title"]]
)
def test_a_word_mixing_latin_greek_or_cyrillic_look_alikes_is_refused(
    world: World, where: tuple[str, str], word: str
) -> None:
    url, kwargs = text_request(world, where[0], where[1], f"{word} Foundation")
    before = world.api.stored()
    response = world.client.post(url, **kwargs)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == where[1]
    assert "look alike" in response.json()["detail"]
    assert world.api.stored() == before


NORMALIZED = {
    "full-width Latin": ("ＡＢＣ慈善基金会", "ABC慈善基金会"),
    "full-width digits": ("第１期", "第1期"),
    "ligature": ("\ufb01nance for schools", "finance for schools"),
    "mathematical bold": ("\U0001d40f\U0001d41a\U0001d432\U0001d41e\U0001d41e", "Payee"),
    "ideographic space around": ("\u3000云南助学会\u3000", "云南助学会"),
    "combining accent": ("Cafe\u0301 Solidarite\u0301", "Café Solidarité"),
    "circled digit": ("②期", "2期"),
}


@pytest.mark.parametrize(("given", "stored"), NORMALIZED.values(), ids=NORMALIZED.keys())
def test_look_alike_forms_are_folded_by_nfkc_before_they_are_recorded(
    world: World, given: str, stored: str
) -> None:
    url, kwargs = text_request(world, "/disbursements", "payee", given)
    response = world.client.post(url, **kwargs)
    assert response.status_code == 201, response.text
    assert response.json()["payee"] == stored
    entry = world.api.store.entry(response.json()["seq"])
    assert entry.body["payee"] == stored


@pytest.mark.parametrize(
    "text",
    [
        "云南乡村学校助学会",
        "Textbooks for Nujiang",
        "定西母亲水窖 · Rainwater cellars",
        "Ελληνικά",
        "Москва",
    ],
)
def test_ordinary_text_in_any_one_script_passes_unchanged(text: str) -> None:
    assert human_text(text) == text


def test_every_format_character_is_refused() -> None:
    """The whole class: every assigned code point of category Cf or Cc."""
    for code in range(0x110000):
        ch = chr(code)
        if unicodedata.category(ch) in ("Cf", "Cc"):
            with pytest.raises(ValueError, match=f"U\\+{code:04X}"):
                human_text(f"a{ch}b")


def test_the_ledger_still_reads_old_entries_with_such_characters(world: World) -> None:
    """The refusal is at the API's door: entries written before it still parse and verify."""
    store = world.api.store
    charity = f.charity()
    old = Draft(
        charity.kind,
        dict(charity.body) | {"name": "乡村\u202e会", "registration_no": "OLD-\u200b1"},
    )
    result = store.append([old])
    assert store.entry(result.entries[0].seq).body["name"] == "乡村\u202e会"
    assert store.verify().ok


# -- duplicate JSON keys ------------------------------------------------------------------------


def _raw(w: World, url: str, text: str, **headers: str) -> Any:
    return w.client.post(
        url,
        content=text.encode(),
        headers=w.api.platform | new_key() | {"Content-Type": "application/json"} | headers,
    )


DUPLICATES = {
    "amount, last would win": ('"amount": 100, "amount": 999999', "amount"),
    "amount, first would win": ('"amount": 999999, "amount": 100', "amount"),
    "written with an escape": ('"amount": 100, "\\u0061mount": 999999', "amount"),
    "three times": ('"amount": 1, "amount": 2, "amount": 3', "amount"),
    "the same value twice": ('"amount": 100, "amount": 100', "amount"),
    "currency": ('"amount": 100, "currency": "USD"', "currency"),
}


@pytest.mark.parametrize(("members", "key"), DUPLICATES.values(), ids=DUPLICATES.keys())
def test_a_key_given_twice_is_refused_and_nothing_is_recorded(
    world: World, members: str, key: str
) -> None:
    body = donation_body(world.charity_id, world.project_id)
    del body["amount"]
    text = json.dumps(body)[:-1] + ", " + members + "}"
    before = world.api.stored()
    response = _raw(world, f"{V1}/donations", text)
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == ("duplicate_key", key)
    assert world.api.stored() == before


def test_a_key_given_twice_deep_inside_is_refused(world: World) -> None:
    body = donation_body(world.charity_id, world.project_id)
    nested = json.dumps(body).replace('"anonymous": false', '"anonymous": false, "name": "x"')
    response = _raw(world, f"{V1}/donations", nested)
    assert (response.status_code, response.json()["code"]) == (422, "duplicate_key")
    allocations = json.dumps(
        disbursement_body(world.charity_id, world.project_id)
        | {"allocate": [{"donation_id": world.free_donation_id, "amount": 1}]}
    ).replace('"amount": 1}', '"amount": 1, "amount": 5000}')
    response = _raw(world, f"{V1}/disbursements", allocations)
    assert (response.status_code, response.json()["code"]) == (422, "duplicate_key")


def test_the_same_key_in_different_objects_is_not_a_duplicate(world: World) -> None:
    body = donation_body(world.charity_id, world.project_id)
    body["donor"]["name"] = "王小明"  # "name" only in donor; "amount" only at the top
    response = _raw(world, f"{V1}/donations", json.dumps(body))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "text",
    ['{"amount": ' + "9" * 5000 + "}", "[" * 100_000 + "]" * 100_000],
    ids=["a number of 5000 digits", "nesting 100000 deep"],
)
def test_json_the_parser_cannot_take_is_a_422_not_a_500(world: World, text: str) -> None:
    response = _raw(world, f"{V1}/donations", text)
    assert response.status_code in (413, 422), response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"


# -- currencies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(NOT_MONEY))
def test_iso_codes_that_are_not_money_are_refused_with_the_policy(world: World, code: str) -> None:
    before = world.api.stored()
    body = donation_body(world.charity_id, world.project_id) | {"currency": code}
    response = world.client.post(
        f"{V1}/donations", json=body, headers=world.api.platform | new_key()
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("currency_not_accepted", "currency")
    assert "API_SPECIAL_CURRENCIES" in problem["detail"]
    assert world.api.stored() == before


@pytest.mark.parametrize("route", ["project", "disbursement"])
@pytest.mark.parametrize("code", ["XTS", "XXX", "XAU", "CLF"])
def test_projects_and_disbursements_refuse_them_too(world: World, route: str, code: str) -> None:
    if route == "project":
        url = f"{V1}/charities/{world.charity_id}/projects"
        body: dict[str, Any] = {"title": "t", "goal_amount": 1, "currency": code}
    else:
        url = f"{V1}/disbursements"
        body = disbursement_body(world.charity_id, None, 1) | {"currency": code}
    response = world.client.post(url, json=body, headers=world.api.platform | new_key())
    assert (response.status_code, response.json()["code"]) == (422, "currency_not_accepted")


@pytest.mark.parametrize("code", ["cny", "Cny", "ＣＮＹ", "C\u200bNY", "CN", "CNYY", "ABC"])
def test_a_currency_that_is_no_iso_code_is_refused(world: World, code: str) -> None:
    body = donation_body(world.charity_id, world.project_id) | {"currency": code}
    response = world.client.post(
        f"{V1}/donations", json=body, headers=world.api.platform | new_key()
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "currency"


def test_not_money_is_a_subset_of_list_one_and_leaves_real_currencies() -> None:
    assert NOT_MONEY <= ISO_4217
    assert {"CNY", "USD", "EUR", "XAF", "XOF", "XPF", "XCD", "CHF", "CLP", "UYU"}.isdisjoint(
        NOT_MONEY
    )


def test_a_deployment_may_accept_the_test_code(make_api: ApiFactory, sqlite_url: str) -> None:
    api = make_api(sqlite_url, special_currencies=("XTS",))
    charity_id, _ = api.register_charity()
    assert api.donate(charity_id, None, currency="XTS")["id"]
    refused = api.client.post(
        f"{V1}/donations",
        json=donation_body(charity_id, None) | {"currency": "XXX"},
        headers=api.platform | new_key(),
    )
    assert refused.status_code == 422


# -- registration numbers -----------------------------------------------------------------------


SAME_NUMBER = {
    "exactly": "53530000MJ0005678Y",
    "lower case": "53530000mj0005678y",
    "full width": "５３５３００００ＭＪ０００５６７８Ｙ",
    "grouped with spaces": "5353 0000 MJ00 0567 8Y",
    "grouped with hyphens": "5353-0000-MJ00-0567-8Y",
    "ideographic spaces": "53530000\u3000MJ0005678Y",
}


@pytest.mark.parametrize("number", SAME_NUMBER.values(), ids=SAME_NUMBER.keys())
def test_a_second_charity_with_a_registration_number_taken_is_refused(
    make_api: ApiFactory, sqlite_url: str, number: str
) -> None:
    api = make_api(sqlite_url)
    first = api.client.post(
        f"{V1}/charities",
        json={"name": "云南乡村学校助学会", "registration_no": "53530000MJ0005678Y"},
        headers=api.platform,
    )
    assert first.status_code == 201
    before = api.stored()
    again = api.client.post(
        f"{V1}/charities",
        json={"name": "云南乡村学校助学会", "registration_no": number},
        headers=api.platform,
    )
    assert again.status_code == 409, again.text
    problem = again.json()
    assert (problem["code"], problem["field"]) == ("registration_taken", "registration_no")
    assert problem["charity_id"] == first.json()["id"]
    assert api.stored() == before


def test_registration_keys_fold_what_people_write_differently() -> None:
    keys = {registration_key(n) for n in SAME_NUMBER.values()}
    assert keys == {"53530000MJ0005678Y"}
    assert registration_key("53530000MJ0005678Z") != registration_key("53530000MJ0005678Y")


def test_a_registration_number_of_separators_only_is_refused(world: World) -> None:
    response = world.client.post(
        f"{V1}/charities",
        json={"name": "基金会", "registration_no": "- -"},
        headers=world.api.platform,
    )
    assert (response.status_code, response.json()["field"]) == (422, "registration_no")


def test_two_registrations_racing_for_one_number_record_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before the append can pass for both; the table's primary key refuses the
    second inside its append, and nothing of it is stored."""
    number = "RACE" + new_key()["Idempotency-Key"]
    services = world.api.services
    first = world.client.post(
        f"{V1}/charities",
        json={"name": "先到的基金会", "registration_no": number},
        headers=world.api.platform,
    )
    assert first.status_code == 201
    real = type(services)._refuse_taken_registration
    calls: list[str] = []

    def blind_first_time(self: Any, key: str, registration_no: str) -> None:
        calls.append(key)
        if len(calls) > 1:  # as if the other registration committed in between
            real(self, key, registration_no)

    monkeypatch.setattr(type(services), "_refuse_taken_registration", blind_first_time)
    before = world.api.stored()
    second = world.client.post(
        f"{V1}/charities",
        json={"name": "后到的基金会", "registration_no": number.lower()},
        headers=world.api.platform,
    )
    assert (second.status_code, second.json()["code"]) == (409, "registration_taken")
    assert len(calls) == 2
    assert world.api.stored() == before
