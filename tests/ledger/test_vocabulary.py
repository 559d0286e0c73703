"""One vocabulary (ADR 0027): the journal's names, forms and limits, and their one home.

``ledger.entries`` says what an entry may hold; ``ledger.accounting`` what each kind does
to the books. These tests hold the two together, so that a kind cannot be added without
its body model and its rule, and the exported forms accept exactly what validation does.
"""

from __future__ import annotations

import json
import operator
import string
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from ledger.accounting import RULES, STATES, Balance, Books
from ledger.currencies import money
from ledger.entries import (
    ACTOR,
    ADDRESS,
    BODIES,
    CREATED_AS,
    CREATES,
    HASH,
    ID,
    ID_MAX_LENGTH,
    ID_PATTERNS,
    ID_PREFIXES,
    JSON_SAFE_INTEGER,
    KINDS,
    MAX_SEQ,
    Entry,
    Kind,
    id_spellings,
    make_entry,
    thing_of,
    validate_body,
)
from ledger.errors import AccountingError, EntryError
from ledger.store.requests import new_id

AT = "2026-11-26T22:41:26.123Z"


def test_every_kind_has_a_body_model_and_a_rule() -> None:
    assert set(typing.get_args(Kind)) == set(KINDS) == set(BODIES) == set(RULES)
    assert typing.get_args(Kind) == KINDS


def test_every_kind_has_a_label_and_creates_at_most_an_id_field_of_its_body() -> None:
    labels = [model.label for model in BODIES.values()]
    assert all(labels)
    assert len(set(labels)) == len(labels)
    for kind, model in BODIES.items():
        if model.creates is not None:
            assert model.creates in model.model_fields, kind
            thing = CREATED_AS.get(model.creates, model.creates.removesuffix("_id"))
            assert thing in ID_PREFIXES, kind
    assert {k: m.creates for k, m in BODIES.items() if m.creates} == CREATES


def test_each_thing_is_created_by_one_kind_and_kept_by_one_state() -> None:
    own = sorted(key for key in CREATES.values() if key not in CREATED_AS)
    assert own == sorted(f"{thing}_id" for thing in ID_PREFIXES)
    assert sorted(state.key for state in STATES) == sorted(CREATES.values())
    books = Books()
    shelves = [books.charities, books.projects, books.donations]
    shelves += [books.disbursements, books.allocations]
    shelves += [books.matchers, books.pools, books.matches]
    assert all(map(operator.is_, map(books.shelf, STATES), shelves))


def test_applying_a_kind_without_a_rule_is_refused_by_name() -> None:
    entry = Entry(seq=0, kind="charity.renamed", at=AT, actor="platform", body={})
    with pytest.raises(AccountingError) as error:
        Books().apply(entry)
    assert error.value.field == "kind"
    assert "charity.renamed" in str(error.value)


def _body_with(thing: str, value: str) -> tuple[str, dict[str, Any]]:
    """A body whose first field is the id of ``thing`` (the rest need not be valid)."""
    kind = next(k for k, m in BODIES.items() if m.creates == f"{thing}_id")
    return kind, {f"{thing}_id": value}


def _accepted(kind: str, body: dict[str, Any], field: str) -> bool:
    try:
        validate_body(kind, body)
    except EntryError as error:
        return error.field != f"body.{field}"
    return True


@pytest.mark.parametrize("thing", sorted(ID_PREFIXES))
@given(tail=st.text(alphabet=string.ascii_letters + string.digits + "_-é\n ", max_size=45))
def test_an_id_pattern_accepts_exactly_the_ids_a_body_accepts(thing: str, tail: str) -> None:
    value = f"{ID_PREFIXES[thing]}_{tail}"
    kind, body = _body_with(thing, value)
    accepted = _accepted(kind, body, f"{thing}_id")
    assert accepted == bool(ID_PATTERNS[thing].fullmatch(value)) == (thing_of(value) == thing)


@pytest.mark.parametrize("thing", sorted(ID_PREFIXES))
def test_the_platform_makes_ids_of_the_journal_form(thing: str) -> None:
    made = new_id(ID_PREFIXES[thing])
    assert ID_PATTERNS[thing].fullmatch(made)
    assert thing_of(made) == thing


def test_ids_are_case_sensitive_and_bounded() -> None:
    assert ID.fullmatch("dn_AbC")
    assert ID.fullmatch("dn_abc")
    assert not ID.fullmatch("DN_abc")  # prefixes are lowercase
    assert ID.fullmatch("dn_" + "a" * ID_MAX_LENGTH)
    assert not ID.fullmatch("dn_" + "a" * (ID_MAX_LENGTH + 1))
    assert not ID.fullmatch("xx_abc")
    assert thing_of("xx_abc") is None
    assert ACTOR.fullmatch("charity:ch_AbC")
    assert not ACTOR.fullmatch("charity:pr_abc")


def test_id_spellings_try_the_exact_id_first_then_the_lowercase_one() -> None:
    assert id_spellings("dn_AbC") == ["dn_AbC", "dn_abc"]
    assert id_spellings("DN_AbC") == ["dn_AbC", "dn_abc"]
    assert id_spellings("dn_abc") == ["dn_abc"]
    assert id_spellings("dn_ab c") == []
    assert id_spellings("冬季") == []


def test_hashes_are_lowercase_and_addresses_either_case() -> None:
    assert HASH.fullmatch("0x" + "ab" * 32)
    assert not HASH.fullmatch("0x" + "AB" * 32)
    assert not HASH.fullmatch("0x" + "ab" * 32 + "\n")
    assert ADDRESS.fullmatch("0x" + "aB" * 20)
    assert not ADDRESS.fullmatch("0x" + "ab" * 21)


def test_the_largest_seq_is_exact_in_json_parsers_that_read_doubles() -> None:
    assert MAX_SEQ == JSON_SAFE_INTEGER == 2**53 - 1
    assert float(MAX_SEQ) == MAX_SEQ
    assert float(MAX_SEQ + 2) != MAX_SEQ + 2
    body = {"charity_id": "ch_a", "name": "n", "registration_no": "1", "signer": None}
    make_entry("charity.registered", body, seq=MAX_SEQ, at=AT, actor="platform")
    with pytest.raises(EntryError, match=str(MAX_SEQ)):
        make_entry("charity.registered", body, seq=MAX_SEQ + 1, at=AT, actor="platform")


def test_a_balance_is_one_model_for_the_store_the_audit_and_the_pages() -> None:
    balance = Balance("CNY", received=10_000, refunded=800, allocated=6_000, disbursed=7_000)
    assert balance.held == 3_200
    assert Balance("CNY", 10_000, 800, 6_000, 7_000) == balance

    class Page(BaseModel):
        balances: list[Balance]

    twin = json.loads(Page(balances=[balance]).model_dump_json())
    assert twin == {
        "balances": [
            {
                "currency": "CNY",
                "received": 10_000,
                "refunded": 800,
                "allocated": 6_000,
                "disbursed": 7_000,
                "held": 3_200,
            }
        ]
    }
    assert TypeAdapter(Balance).dump_python(balance)["held"] == 3_200


def test_money_shows_minor_units_as_people_read_them() -> None:
    assert money(123_456, "CNY") == "¥1,234.56"
    assert money(-5, "CNY") == "-¥0.05"
    assert money(1_500, "JPY") == "1,500 JPY"
    assert money(1_234, "KWD") == "1.234 KWD"
