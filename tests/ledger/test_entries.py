"""Journal entries v1 (``ledger.entries``, DESIGN.md §3.1): bodies, leaf bytes, refusals.

Every refusal names the exact field (``EntryError.field``), since that is what the API
hands back to a client as the field of its 4xx problem.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.entries import (
    KINDS,
    MAX_AMOUNT,
    MAX_SEQ,
    Entry,
    canonical_bytes,
    donor_commitment,
    format_at,
    from_hex,
    make_entry,
    parse_at,
    parse_entry,
    payment_ref_hash,
    plain_payment_ref_hash,
    to_hex,
    validate_body,
)
from ledger.errors import EntryError, LedgerError

AT = "2026-11-26T22:41:26.123Z"
HASH_A = "0x" + "a1" * 32
HASH_B = "0x" + "0b" * 32
SIG = "0x" + "5c" * 65
MISSING = object()
"""Marks a field to delete in ``changed``."""

VALID_BODIES: dict[str, dict[str, Any]] = {
    "charity.registered": {
        "charity_id": "ch_01",
        "name": "北京善心基金会",
        "registration_no": "53110000MJ0000000X",
        "signer": "0x" + "ab" * 20,
    },
    "project.opened": {
        "project_id": "pr_01",
        "charity_id": "ch_01",
        "title": "山区学校午餐",
        "goal_amount": 5_000_000,
        "currency": "CNY",
    },
    "donation.received": {
        "donation_id": "dn_01",
        "charity_id": "ch_01",
        "project_id": "pr_01",
        "amount": 10_000,
        "currency": "CNY",
        "channel": "card",
        "paid_at": "2026-11-26T10:00:00.000Z",
        "donor_commitment": HASH_A,
        "payment_ref_hash": HASH_B,
    },
    "donation.refunded": {
        "donation_id": "dn_01",
        "amount": 2_000,
        "reason": "捐赠人申请退款",
    },
    "disbursement.made": {
        "disbursement_id": "db_01",
        "charity_id": "ch_01",
        "project_id": "pr_01",
        "amount": 8_000,
        "currency": "CNY",
        "payee": "某某食品有限公司",
        "purpose": "十一月午餐食材",
        "evidence": [{"sha256": HASH_A, "media_type": "application/pdf", "public": True}],
    },
    "disbursement.voided": {"disbursement_id": "db_01", "reason": "发票有误"},
    "allocation.made": {
        "allocation_id": "al_01",
        "donation_id": "dn_01",
        "disbursement_id": "db_01",
        "amount": 8_000,
    },
    "allocation.reversed": {"allocation_id": "al_01", "reason": "分配错误"},
    # Disclosure (ADR 0039).
    "project.closed": {"project_id": "pr_01", "reason": "课本已全部送达"},
    "report.published": {
        "charity_id": "ch_01",
        "project_id": "pr_01",
        "period": "2026-Q3",
        "tree_size": 120,
        "digest": HASH_A,
        "reason": None,
    },
    # ADR 0037
    "charity.signer_changed": {
        "charity_id": "ch_01",
        "signer": "0x5b38da6a701c568545dcfcb03fcb875f56beddc4",
        "previous_seq": 0,
        "reason": "密钥轮换",
    },
    # Matching funds (ADR 0040).
    "matcher.registered": {
        "matcher_id": "mt_01",
        "name": "某某科技有限公司",
        "registration_no": "91110000MA0000000X",
    },
    "match_pool.opened": {
        "pool_id": "mp_01",
        "matcher_id": "mt_01",
        "title": "九九公益日配捐",
        "currency": "CNY",
        "total": 1_000_000,
        "ratio_percent": 100,
        "cap_per_donation": 1_000,
        "cap_per_payer_per_day": 3_000,
        "min_interval_s": 15,
        "starts_at": "2026-09-07T00:00:00.000Z",
        "ends_at": "2026-09-10T00:00:00.000Z",
        "day_offset_minutes": 480,
        "project_ids": ["pr_01"],
    },
    "match_pool.closed": {"pool_id": "mp_01", "reason": "配捐结束"},
    "match.made": {
        "match_id": "dn_02",
        "donation_id": "dn_01",
        "pool_id": "mp_01",
        "amount": 1_000,
        "payer_hash": HASH_A,
    },
    "match.reversed": {"match_id": "dn_02", "reason": "捐赠已退款"},
}


def changed(kind: str, **fields: Any) -> dict[str, Any]:
    """A copy of the valid body of ``kind`` with ``fields`` replaced (``MISSING`` deletes)."""
    body = json.loads(json.dumps(VALID_BODIES[kind]))
    for key, value in fields.items():
        if value is MISSING:
            del body[key]
        else:
            body[key] = value
    return body


def entry_of(kind: str, body: Mapping[str, Any] | None = None, **kwargs: Any) -> Entry:
    options: dict[str, Any] = {"seq": 7, "at": AT, "actor": "platform"} | kwargs
    return make_entry(kind, VALID_BODIES[kind] if body is None else body, **options)


def refusal(kind: str, body: Mapping[str, Any]) -> EntryError:
    with pytest.raises(EntryError) as caught:
        validate_body(kind, body)
    return caught.value


# -- valid entries --------------------------------------------------------------------


def test_there_are_exactly_the_eight_kinds_of_the_design() -> None:
    assert set(KINDS) == set(VALID_BODIES)
    # the design's eight; project.closed, report.published (ADR 0039); charity.signer_changed
    # (ADR 0037); matching funds' five (ADR 0040)
    assert len(KINDS) == 8 + 2 + 1 + 5


@pytest.mark.parametrize("kind", list(VALID_BODIES))
def test_a_valid_entry_of_every_kind_round_trips_through_its_leaf_bytes(kind: str) -> None:
    entry = entry_of(kind)

    parsed = parse_entry(json.loads(entry.leaf_bytes))

    assert parsed == entry
    assert parsed.leaf_bytes == entry.leaf_bytes
    assert parsed.leaf_hash == entry.leaf_hash
    assert parsed.to_json() == json.loads(entry.leaf_bytes)


@pytest.mark.parametrize("kind", list(VALID_BODIES))
def test_a_valid_entry_of_every_kind_keeps_its_header_and_body(kind: str) -> None:
    entry = entry_of(kind, seq=41, actor="charity:ch_01")

    assert entry.to_json() == {
        "v": 1,
        "seq": 41,
        "kind": kind,
        "at": AT,
        "actor": "charity:ch_01",
        "body": VALID_BODIES[kind],
    }


def test_leaf_bytes_are_rfc8785_with_sorted_keys_no_whitespace_and_raw_utf8() -> None:
    entry = entry_of("disbursement.made", seq=41)
    expected = (
        '{"actor":"platform","at":"2026-11-26T22:41:26.123Z","body":{"amount":8000,'
        '"charity_id":"ch_01","currency":"CNY","disbursement_id":"db_01","evidence":'
        '[{"media_type":"application/pdf","public":true,"sha256":"' + HASH_A + '"}],'
        '"payee":"某某食品有限公司","project_id":"pr_01","purpose":"十一月午餐食材"},'
        '"kind":"disbursement.made","seq":41,"v":1}'
    ).encode()

    assert entry.leaf_bytes == expected
    assert entry.leaf_bytes == rfc8785.dumps(entry.to_json())
    assert canonical_bytes(entry.to_json()) == expected
    assert "某某食品有限公司".encode() in entry.leaf_bytes
    assert b"\\u" not in entry.leaf_bytes


def test_a_signed_entry_has_its_sig_in_the_leaf_bytes() -> None:
    unsigned = entry_of("project.opened", actor="charity:ch_01")
    signed = parse_entry(unsigned.to_json() | {"sig": SIG})

    assert signed.sig == SIG
    assert json.loads(signed.leaf_bytes)["sig"] == SIG
    assert signed.leaf_hash != unsigned.leaf_hash
    assert parse_entry(json.loads(signed.leaf_bytes)).leaf_bytes == signed.leaf_bytes


def test_canonical_bytes_sorts_non_ascii_keys_by_utf16_code_units() -> None:
    # U+E000 < U+10000 by code point, but in UTF-16 U+10000 is D800 DC00 < E000: outside
    # our entries' ASCII keys, sort_keys would get this wrong, so rfc8785 must decide.
    obj = {"\ue000": 1, "\U00010000": 2, "a": 3}

    assert canonical_bytes(obj) == rfc8785.dumps(obj)
    assert canonical_bytes(obj) == '{"a":3,"\U00010000":2,"\ue000":1}'.encode()
    assert canonical_bytes(obj) != json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**30])
def test_canonical_bytes_refuses_integers_json_cannot_hold_exactly(value: int) -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_bytes({"n": value})


def test_canonical_bytes_of_an_entry_are_its_leaf_bytes() -> None:
    entry = entry_of("donation.received")
    assert canonical_bytes(entry.to_json()) == entry.leaf_bytes


@pytest.mark.parametrize("kind", list(VALID_BODIES))
def test_the_leaf_hash_is_sha256_of_a_zero_byte_and_the_leaf_bytes(kind: str) -> None:
    entry = entry_of(kind)

    assert entry.leaf_hash == hashlib.sha256(b"\x00" + entry.leaf_bytes).digest()
    assert entry.leaf_hash != hashlib.sha256(entry.leaf_bytes).digest()


def test_amounts_at_the_bounds_are_accepted() -> None:
    assert validate_body("donation.received", changed("donation.received", amount=1))["amount"] == 1
    body = changed("donation.received", amount=MAX_AMOUNT)
    assert validate_body("donation.received", body)["amount"] == 10**12


def test_a_donation_to_the_general_fund_has_a_null_project() -> None:
    body = validate_body("donation.received", changed("donation.received", project_id=None))
    assert body["project_id"] is None


def test_a_charity_without_a_signer_is_accepted_and_a_signer_is_lowercased() -> None:
    none = validate_body("charity.registered", changed("charity.registered", signer=None))
    mixed = "0x" + "AbCdEf0123" * 4
    lowered = validate_body("charity.registered", changed("charity.registered", signer=mixed))

    assert none["signer"] is None
    assert lowered["signer"] == mixed.lower()


@pytest.mark.parametrize(
    ("kind", "field", "limit"),
    [
        ("charity.registered", "name", 200),
        ("charity.registered", "registration_no", 64),
        ("project.opened", "title", 200),
        ("disbursement.made", "payee", 200),
        ("disbursement.made", "purpose", 500),
        ("donation.refunded", "reason", 500),
    ],
)
def test_strings_at_their_length_limit_are_accepted(kind: str, field: str, limit: int) -> None:
    body = validate_body(kind, changed(kind, **{field: "字" * limit}))
    assert body[field] == "字" * limit


def test_tabs_and_newlines_inside_a_text_are_accepted() -> None:
    body = validate_body("donation.refunded", changed("donation.refunded", reason="a\tb\nc"))
    assert body["reason"] == "a\tb\nc"


def test_fifty_evidence_items_are_accepted() -> None:
    item = VALID_BODIES["disbursement.made"]["evidence"][0]
    body = validate_body("disbursement.made", changed("disbursement.made", evidence=[item] * 50))
    assert len(body["evidence"]) == 50


def test_a_disbursement_without_evidence_is_accepted() -> None:
    body = validate_body("disbursement.made", changed("disbursement.made", evidence=[]))
    assert body["evidence"] == []


# -- Unicode normalization ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "nfc"),
    [
        pytest.param("Cafe\u0301", "Café", id="combining-acute"),
        pytest.param("\u1100\u1161\u11a8", "\uac01", id="hangul-jamo"),
        pytest.param("\u1112\u1161\u11ab\u1100\u1173\u11af", "한글", id="hangul-word"),
        pytest.param("\u212b", "\u00c5", id="angstrom-sign"),
    ],
)
def test_text_is_stored_in_nfc_and_hashed_in_that_form(raw: str, nfc: str) -> None:
    assert raw != nfc
    assert unicodedata.normalize("NFC", raw) == nfc
    from_raw = entry_of("charity.registered", changed("charity.registered", name=raw))
    from_nfc = entry_of("charity.registered", changed("charity.registered", name=nfc))

    assert from_raw.body["name"] == nfc
    assert from_raw.leaf_bytes == from_nfc.leaf_bytes
    assert from_raw.leaf_hash == from_nfc.leaf_hash
    assert nfc.encode() in from_raw.leaf_bytes
    assert raw.encode() not in from_raw.leaf_bytes


def test_the_length_limit_counts_the_nfc_form() -> None:
    # 200 decomposed "é" are 400 code points, but 200 once normalized.
    body = validate_body("charity.registered", changed("charity.registered", name="e\u0301" * 200))
    assert body["name"] == "é" * 200


# -- donor commitment, payment reference, hex -----------------------------------------


def test_the_donor_commitment_is_sha256_of_the_secret_and_the_donation_id() -> None:
    secret = bytes.fromhex("00112233445566778899aabbccddeeff")
    expected = hashlib.sha256(secret + b"dn_01HZY3").digest()

    assert donor_commitment(secret, "dn_01HZY3") == expected
    assert donor_commitment(secret, "dn_01HZY4") != expected
    assert donor_commitment(bytes(16), "dn_01HZY3") != expected


def test_a_donor_commitment_as_hex_is_a_valid_body_hash() -> None:
    commitment = to_hex(donor_commitment(bytes(range(16)), "dn_01"))
    body = changed("donation.received", donor_commitment=commitment)
    assert validate_body("donation.received", body)["donor_commitment"] == commitment


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_the_donor_commitment_refuses_a_secret_that_is_not_16_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        donor_commitment(bytes(size), "dn_01")


def test_the_payment_ref_hash_is_hmac_sha256_of_the_utf8_reference_under_the_key() -> None:
    reference = "PAY-2026-支付-0001"
    key = bytes(range(32))
    expected = hmac.new(key, reference.encode("utf-8"), hashlib.sha256).digest()

    assert payment_ref_hash(reference, key) == expected
    assert to_hex(payment_ref_hash(reference, key)) == "0x" + expected.hex()
    # RFC 4231 test case 2, to pin the construction itself.
    assert (
        hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.sha256).hexdigest()
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert payment_ref_hash(reference, key) != plain_payment_ref_hash(reference)
    assert payment_ref_hash(reference, bytes(32)) != payment_ref_hash(reference, key)
    assert plain_payment_ref_hash(reference) == hashlib.sha256(reference.encode()).digest()


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_the_payment_ref_hash_refuses_a_key_that_is_not_32_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        payment_ref_hash("PAY-1", bytes(size))


def test_to_hex_and_from_hex_are_inverse_and_lowercase() -> None:
    raw = bytes(range(0xE0, 0x100))
    assert to_hex(raw) == "0x" + raw.hex()
    assert to_hex(raw) == to_hex(raw).lower()
    assert from_hex(to_hex(raw)) == raw
    assert from_hex("0x" + "ab" * 20, size=20) == b"\xab" * 20


@pytest.mark.parametrize(
    "value", ["ab" * 32, "0x" + "ab" * 31, "0x" + "ab" * 33, "0x" + "zz" * 32, "0x", 5]
)
def test_from_hex_refuses_what_is_not_32_bytes_of_0x_hex(value: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by case
        from_hex(value)


# -- timestamps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paid_at", "stored"),
    [
        ("2026-11-26T10:00:00+08:00", "2026-11-26T02:00:00.000Z"),
        ("2026-11-26T01:30:00.5+08:00", "2026-11-25T17:30:00.500Z"),
        ("2026-11-26T10:00:00.123456+08:00", "2026-11-26T02:00:00.123Z"),
        ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00.000Z"),
        ("2026-11-26T10:00:00.000-05:00", "2026-11-26T15:00:00.000Z"),
    ],
)
def test_paid_at_is_stored_as_utc_with_milliseconds_and_z(paid_at: str, stored: str) -> None:
    body = validate_body("donation.received", changed("donation.received", paid_at=paid_at))
    assert body["paid_at"] == stored


@pytest.mark.parametrize(
    "paid_at",
    ["2026-11-26T10:00:00", "2026-11-26", "yesterday", "", "2026-13-01T00:00:00Z", 1764151200],
)
def test_paid_at_without_an_offset_or_not_a_timestamp_is_refused(paid_at: Any) -> None:
    body = changed("donation.received", paid_at=paid_at)
    assert refusal("donation.received", body).field == "body.paid_at"


def test_format_at_and_parse_at_are_inverse_on_the_journal_form() -> None:
    moment = datetime(2026, 11, 26, 22, 41, 26, 123000, tzinfo=UTC)
    beijing = moment.astimezone(timezone(timedelta(hours=8)))

    assert format_at(moment) == AT
    assert format_at(beijing) == AT
    assert parse_at(AT) == moment
    assert format_at(parse_at(AT)) == AT


def test_a_year_before_1000_is_written_with_four_digits_and_round_trips() -> None:
    # Regression: strftime("%Y") wrote year 999 as "999", which parse_entry refused.
    body = changed("donation.received", paid_at="0999-01-01T00:00:00+08:00")
    entry = entry_of("donation.received", body, at=datetime(999, 1, 1, tzinfo=UTC))

    assert entry.body["paid_at"] == "0998-12-31T16:00:00.000Z"
    assert entry.at == "0999-01-01T00:00:00.000Z"
    assert parse_entry(json.loads(entry.leaf_bytes)).leaf_bytes == entry.leaf_bytes


def test_format_at_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_at(datetime(2026, 11, 26, 22, 41, 26))


@pytest.mark.parametrize(
    "value", ["2026-11-26T22:41:26Z", "2026-11-26T22:41:26.123+00:00", "2026-11-26 22:41:26.123Z"]
)
def test_parse_at_refuses_anything_but_the_journal_form(value: str) -> None:
    with pytest.raises(ValueError, match="milliseconds"):
        parse_at(value)


def test_make_entry_takes_at_as_an_aware_datetime() -> None:
    moment = datetime(2026, 11, 27, 6, 41, 26, 123999, tzinfo=timezone(timedelta(hours=8)))
    assert entry_of("charity.registered", at=moment).at == AT


# -- refusals of a body, each naming its field ----------------------------------------


AMOUNTS = [
    pytest.param(-1, id="negative"),
    pytest.param(0, id="zero"),
    pytest.param(1.0, id="float-integral"),
    pytest.param(1.5, id="float"),
    pytest.param(True, id="bool"),
    pytest.param("100", id="string"),
    pytest.param(None, id="null"),
    pytest.param(MAX_AMOUNT + 1, id="above-max"),
    pytest.param(2**64, id="huge"),
]


@pytest.mark.parametrize("amount", AMOUNTS)
@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("donation.received", "amount"),
        ("donation.refunded", "amount"),
        ("disbursement.made", "amount"),
        ("allocation.made", "amount"),
        ("project.opened", "goal_amount"),
    ],
)
def test_an_amount_that_is_not_a_positive_integer_up_to_the_max_is_refused(
    kind: str, field: str, amount: Any
) -> None:
    assert refusal(kind, changed(kind, **{field: amount})).field == f"body.{field}"


@pytest.mark.parametrize("kind", ["donation.made", "", "Charity.Registered", "charity"])
def test_an_unknown_kind_is_refused(kind: str) -> None:
    error = refusal(kind, VALID_BODIES["donation.received"])
    assert error.field == "kind"
    assert "charity.registered" in error.message


@pytest.mark.parametrize("currency", ["XYZ", "cny", "CN", "CNYY", "", "人民币", 156, None])
@pytest.mark.parametrize("kind", ["project.opened", "donation.received", "disbursement.made"])
def test_an_unknown_currency_is_refused(kind: str, currency: Any) -> None:
    assert refusal(kind, changed(kind, currency=currency)).field == "body.currency"


@pytest.mark.parametrize(
    ("kind", "field", "limit"),
    [
        ("charity.registered", "name", 200),
        ("charity.registered", "registration_no", 64),
        ("project.opened", "title", 200),
        ("disbursement.made", "payee", 200),
        ("disbursement.made", "purpose", 500),
        ("disbursement.voided", "reason", 500),
        ("donation.refunded", "reason", 500),
        ("allocation.reversed", "reason", 500),
    ],
)
@pytest.mark.parametrize("problem", ["overlong", "empty", "not-a-string"])
def test_an_overlong_empty_or_non_string_text_is_refused(
    kind: str, field: str, limit: int, problem: str
) -> None:
    value: Any = {"overlong": "a" * (limit + 1), "empty": "", "not-a-string": 42}[problem]
    error = refusal(kind, changed(kind, **{field: value}))
    assert error.field == f"body.{field}"
    if problem == "overlong":
        assert str(limit) in error.message


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a\x00b", id="nul"),
        pytest.param("a\x1bb", id="escape"),
        pytest.param("a\rb", id="carriage-return"),
        pytest.param("a\x7fb", id="delete"),
        pytest.param("a\x85b", id="c1-next-line"),
        pytest.param("a\ud800b", id="lone-high-surrogate"),
        pytest.param("a\udfffb", id="lone-low-surrogate"),
    ],
)
def test_control_characters_and_lone_surrogates_are_refused(name: str) -> None:
    error = refusal("charity.registered", changed("charity.registered", name=name))
    assert error.field == "body.name"


@pytest.mark.parametrize(
    "name", [" 善心", "善心 ", "\t善心", "善心\n", "\u3000善心", "善心\u00a0", " ", "\n"]
)
def test_leading_or_trailing_white_space_is_refused(name: str) -> None:
    error = refusal("charity.registered", changed("charity.registered", name=name))
    assert error.field == "body.name"


@pytest.mark.parametrize("kind", list(VALID_BODIES))
def test_an_extra_field_in_a_body_is_refused(kind: str) -> None:
    error = refusal(kind, changed(kind, donor_name="张三"))
    assert error.field == "body.donor_name"


def test_an_extra_field_in_an_evidence_item_is_refused() -> None:
    item = {"sha256": HASH_A, "media_type": "image/png", "public": False, "path": "/tmp/x"}
    error = refusal("disbursement.made", changed("disbursement.made", evidence=[item]))
    assert error.field == "body.evidence[0].path"


@pytest.mark.parametrize(
    ("kind", "field"),
    [(kind, field) for kind, body in VALID_BODIES.items() for field in body],
)
def test_a_missing_field_is_refused(kind: str, field: str) -> None:
    assert refusal(kind, changed(kind, **{field: MISSING})).field == f"body.{field}"


@pytest.mark.parametrize("body", [[], "{}", None, 5])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    assert refusal("charity.registered", body).field == "body"


BAD_IDS = [
    pytest.param("dn_01", id="wrong-prefix"),
    pytest.param("ch_ 01", id="inner-space"),
    pytest.param("ch_01 ", id="trailing-space"),
    pytest.param("ch_01\n", id="trailing-newline"),
    pytest.param("ch_" + "a" * 41, id="too-long"),
    pytest.param("ch_", id="empty-suffix"),
    pytest.param("ch-01", id="dash"),
    pytest.param("CH_01", id="uppercase-prefix"),
    pytest.param("ch_善", id="non-ascii"),
    pytest.param("ch_０１", id="fullwidth-digits"),
    pytest.param(1, id="integer"),
    pytest.param(None, id="null"),
]


@pytest.mark.parametrize("value", BAD_IDS)
def test_a_bad_charity_id_is_refused(value: Any) -> None:
    error = refusal("charity.registered", changed("charity.registered", charity_id=value))
    assert error.field == "body.charity_id"


def test_the_longest_id_is_accepted() -> None:
    body = validate_body(
        "charity.registered", changed("charity.registered", charity_id="ch_" + "Z9" * 20)
    )
    assert body["charity_id"] == "ch_" + "Z9" * 20


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("project.opened", "project_id", "ch_01"),
        ("donation.received", "donation_id", "db_01"),
        ("donation.received", "project_id", "dn_01"),
        ("donation.refunded", "donation_id", "al_01"),
        ("disbursement.made", "disbursement_id", "dn_01"),
        ("disbursement.made", "project_id", "pr 01"),
        ("disbursement.voided", "disbursement_id", "db_"),
        ("allocation.made", "allocation_id", "al_01!"),
        ("allocation.made", "donation_id", "pr_01"),
        ("allocation.made", "disbursement_id", "al_01"),
        ("allocation.reversed", "allocation_id", "db_01"),
    ],
)
def test_an_id_of_the_wrong_shape_or_prefix_is_refused(kind: str, field: str, value: str) -> None:
    assert refusal(kind, changed(kind, **{field: value})).field == f"body.{field}"


BAD_HASHES = [
    pytest.param("0x" + "A1" * 32, id="uppercase"),
    pytest.param("a1" * 32, id="no-0x"),
    pytest.param("0X" + "a1" * 32, id="uppercase-0X"),
    pytest.param("0x" + "a" * 63, id="63-digits"),
    pytest.param("0x" + "a" * 65, id="65-digits"),
    pytest.param("0x" + "g" * 64, id="not-hex"),
    pytest.param(HASH_A + "\n", id="trailing-newline"),
    pytest.param(None, id="null"),
]


@pytest.mark.parametrize("value", BAD_HASHES)
@pytest.mark.parametrize("field", ["donor_commitment", "payment_ref_hash"])
def test_a_bad_hash_is_refused(field: str, value: Any) -> None:
    body = changed("donation.received", **{field: value})
    assert refusal("donation.received", body).field == f"body.{field}"


@pytest.mark.parametrize("value", BAD_HASHES)
def test_an_evidence_item_with_a_bad_sha256_is_refused(value: Any) -> None:
    item = {"sha256": value, "media_type": "image/png", "public": True}
    error = refusal("disbursement.made", changed("disbursement.made", evidence=[item]))
    assert error.field == "body.evidence[0].sha256"


def test_the_index_of_a_bad_evidence_item_is_named() -> None:
    good = {"sha256": HASH_A, "media_type": "image/png", "public": True}
    bad = good | {"sha256": "0x00"}
    error = refusal("disbursement.made", changed("disbursement.made", evidence=[good, good, bad]))
    assert error.field == "body.evidence[2].sha256"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("media_type", "Image/PNG"),
        ("media_type", "png"),
        ("media_type", "image/png; charset=x"),
        ("public", "true"),
        ("public", 1),
        ("public", None),
    ],
)
def test_an_evidence_item_with_a_bad_media_type_or_public_flag_is_refused(
    field: str, value: Any
) -> None:
    item = {"sha256": HASH_A, "media_type": "image/png", "public": True, field: value}
    error = refusal("disbursement.made", changed("disbursement.made", evidence=[item]))
    assert error.field == f"body.evidence[0].{field}"


def test_more_than_fifty_evidence_items_are_refused() -> None:
    item = VALID_BODIES["disbursement.made"]["evidence"][0]
    error = refusal("disbursement.made", changed("disbursement.made", evidence=[item] * 51))
    assert error.field == "body.evidence"


@pytest.mark.parametrize("evidence", [None, {"sha256": HASH_A}, "0x00"])
def test_evidence_that_is_not_a_list_is_refused(evidence: Any) -> None:
    error = refusal("disbursement.made", changed("disbursement.made", evidence=evidence))
    assert error.field == "body.evidence"


@pytest.mark.parametrize("channel", ["Card", "", "we chat", "1card", "a" * 33, 3])
def test_a_bad_channel_is_refused(channel: Any) -> None:
    error = refusal("donation.received", changed("donation.received", channel=channel))
    assert error.field == "body.channel"


@pytest.mark.parametrize("signer", ["0x12", "ab" * 20, "0x" + "zz" * 20, "0x" + "ab" * 21, 0])
def test_a_bad_signer_is_refused(signer: Any) -> None:
    error = refusal("charity.registered", changed("charity.registered", signer=signer))
    assert error.field == "body.signer"


def test_an_entry_error_is_a_ledger_error_and_a_value_error() -> None:
    error = refusal("donation.received", changed("donation.received", amount=0))
    assert isinstance(error, LedgerError)
    assert isinstance(error, ValueError)
    assert str(error).startswith("body.amount: ")


# -- refusals of the entry header -----------------------------------------------------


@pytest.mark.parametrize(
    "actor",
    [
        "Platform",
        "admin",
        "charity:",
        "charity:dn_01",
        "charity:ch_01 ",
        " platform",
        "charity: ch_01",
        "charity:ch_" + "a" * 41,
        "",
        None,
        1,
    ],
)
def test_a_bad_actor_is_refused(actor: Any) -> None:
    with pytest.raises(EntryError) as caught:
        entry_of("charity.registered", actor=actor)
    assert caught.value.field == "actor"


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-26T22:41:26Z",
        "2026-11-26T22:41:26.1234Z",
        "2026-11-26T22:41:26.123+00:00",
        "2026-11-26T22:41:26.123+08:00",
        "2026-11-26 22:41:26.123Z",
        "2026-11-26T22:41:26.123z",
        "",
        1764196886123,
        None,
    ],
)
def test_a_bad_at_is_refused(at: Any) -> None:
    with pytest.raises(EntryError) as caught:
        entry_of("charity.registered", at=at)
    assert caught.value.field == "at"


@pytest.mark.parametrize("seq", [-1, True, 1.0, "1", None, MAX_SEQ + 1])
def test_a_bad_seq_is_refused(seq: Any) -> None:
    with pytest.raises(EntryError) as caught:
        entry_of("charity.registered", seq=seq)
    assert caught.value.field == "seq"


def test_the_largest_seq_is_the_largest_integer_exact_in_json() -> None:
    assert MAX_SEQ == 2**53 - 1
    entry = entry_of("charity.registered", seq=MAX_SEQ)
    assert entry.leaf_bytes == rfc8785.dumps(entry.to_json())
    assert b'"seq":9007199254740991' in entry.leaf_bytes


def test_make_entry_names_the_body_field_of_a_bad_body() -> None:
    with pytest.raises(EntryError) as caught:
        entry_of("donation.received", changed("donation.received", amount=-5))
    assert caught.value.field == "body.amount"


# -- parse_entry ----------------------------------------------------------------------


def valid_json(kind: str = "donation.received") -> dict[str, Any]:
    return entry_of(kind).to_json()


@pytest.mark.parametrize("v", [0, 2, "1", True, None])
def test_parse_entry_refuses_another_version(v: Any) -> None:
    with pytest.raises(EntryError) as caught:
        parse_entry(valid_json() | {"v": v})
    assert caught.value.field == "v"


@pytest.mark.parametrize("extra", ["id", "hash", "leaf_hash", "V"])
def test_parse_entry_refuses_an_extra_top_level_key(extra: str) -> None:
    with pytest.raises(EntryError) as caught:
        parse_entry(valid_json() | {extra: 1})
    assert caught.value.field == extra


@pytest.mark.parametrize("key", ["v", "seq", "kind", "at", "actor", "body"])
def test_parse_entry_refuses_a_missing_top_level_key(key: str) -> None:
    obj = valid_json()
    del obj[key]
    with pytest.raises(EntryError) as caught:
        parse_entry(obj)
    assert caught.value.field == key


@pytest.mark.parametrize(
    "sig",
    [
        "0x" + "5C" * 65,
        "5c" * 65,
        "0x" + "5c" * 64,
        "0x" + "5c" * 66,
        "0x" + "zz" * 65,
        "",
        65,
        ["0x00"],
    ],
)
def test_parse_entry_refuses_a_bad_sig(sig: Any) -> None:
    with pytest.raises(EntryError) as caught:
        parse_entry(valid_json() | {"sig": sig})
    assert caught.value.field == "sig"


@pytest.mark.parametrize("obj", [[], "entry", None, 1])
def test_parse_entry_refuses_what_is_not_an_object(obj: Any) -> None:
    with pytest.raises(EntryError) as caught:
        parse_entry(obj)
    assert caught.value.field == "entry"


def test_parse_entry_names_the_body_field_of_a_bad_body() -> None:
    obj = valid_json()
    obj["body"]["amount"] = 1.5
    with pytest.raises(EntryError) as caught:
        parse_entry(obj)
    assert caught.value.field == "body.amount"


def test_parse_entry_normalizes_so_a_non_canonical_entry_hashes_differently() -> None:
    obj = valid_json("charity.registered")
    obj["body"]["name"] = "Cafe\u0301"
    stored_bytes = rfc8785.dumps(obj)

    parsed = parse_entry(obj)

    assert parsed.body["name"] == "Café"
    assert parsed.leaf_bytes != stored_bytes


# -- regressions: bugs found while writing these tests -------------------------------


@pytest.mark.parametrize("header", ["actor", "at", "sig"])
def test_a_header_field_with_a_trailing_newline_is_refused(header: str) -> None:
    obj = valid_json() | {"sig": SIG}
    obj[header] += "\n"
    with pytest.raises(EntryError) as caught:
        parse_entry(obj)
    assert caught.value.field == header


def test_an_at_with_non_ascii_digits_is_refused() -> None:
    with pytest.raises(EntryError) as caught:
        entry_of("charity.registered", at="２０２６-11-26T22:41:26.123Z")
    assert caught.value.field == "at"


@pytest.mark.parametrize("kind", [["donation.received"], {"a": 1}])
def test_parse_entry_refuses_a_kind_that_is_not_a_string(kind: Any) -> None:
    with pytest.raises(EntryError) as caught:
        parse_entry(valid_json() | {"kind": kind})
    assert caught.value.field == "kind"


def test_parse_entry_refuses_a_float_version() -> None:
    with pytest.raises(EntryError) as caught:
        parse_entry(valid_json() | {"v": 1.0})
    assert caught.value.field == "v"


@pytest.mark.parametrize("paid_at", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-01:00"])
def test_a_paid_at_outside_the_representable_range_is_refused(paid_at: str) -> None:
    body = changed("donation.received", paid_at=paid_at)
    assert refusal("donation.received", body).field == "body.paid_at"


def test_make_entry_names_at_for_a_naive_datetime() -> None:
    with pytest.raises(EntryError) as caught:
        entry_of("charity.registered", at=datetime(2026, 11, 26, 22, 41, 26))
    assert caught.value.field == "at"


# -- properties -----------------------------------------------------------------------

_ALPHABET = st.one_of(
    st.characters(),  # anything, refused characters included: the filter decides
    st.sampled_from('"\\/\n\t <>&\u2028\u2029\ufeff'),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK ideographs
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
    st.characters(min_codepoint=0x1100, max_codepoint=0x11FF),  # Hangul jamo
    st.characters(min_codepoint=0x0300, max_codepoint=0x036F),  # combining marks
)


def _accepted(text: str, field: str, kind: str) -> bool:
    try:
        validate_body(kind, changed(kind, **{field: text}))
    except EntryError:
        return False
    return True


def valid_text(
    limit: int, field: str = "reason", kind: str = "donation.refunded"
) -> st.SearchStrategy[str]:
    """Text that ``field`` of ``kind`` accepts (``limit`` is its length limit)."""
    return (
        st.text(_ALPHABET, min_size=1, max_size=limit)
        .map(lambda text: text.strip())
        .filter(lambda text: _accepted(text, field, kind))
    )


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    kind = draw(st.sampled_from(["charity.registered", "disbursement.made", "donation.refunded"]))
    if kind == "charity.registered":
        name = draw(valid_text(200, "name", kind))
        registration_no = draw(valid_text(64, "registration_no", kind))
        body = changed(kind, name=name, registration_no=registration_no)
    elif kind == "disbursement.made":
        payee = draw(valid_text(200, "payee", kind))
        body = changed(kind, payee=payee, purpose=draw(valid_text(500, "purpose", kind)))
    else:
        body = changed(kind, reason=draw(valid_text(500)))
    seq = draw(st.integers(min_value=0, max_value=2**53 - 1))
    actor = draw(st.sampled_from(["platform", "charity:ch_01"]))
    return make_entry(kind, body, seq=seq, at=AT, actor=actor)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries())
def test_leaf_bytes_are_rfc8785_and_parse_then_serialize_is_the_identity(entry: Entry) -> None:
    obj = entry.to_json()

    assert canonical_bytes(obj) == rfc8785.dumps(obj)
    assert entry.leaf_bytes == rfc8785.dumps(obj)
    parsed = parse_entry(json.loads(entry.leaf_bytes))
    assert parsed == entry
    assert parsed.leaf_bytes == entry.leaf_bytes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries())
def test_leaf_bytes_equal_sorted_compact_json_dumps_for_our_entry_shapes(entry: Entry) -> None:
    # Our keys are ASCII (so code-point and UTF-16 orders agree), our numbers are
    # integers and the only control characters allowed in text are \t and \n, which
    # both encoders escape alike: the fast path of json.dumps gives the same bytes.
    fast = json.dumps(
        entry.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert fast == entry.leaf_bytes


@settings(max_examples=200, deadline=None)
@given(valid_text(500))
def test_stored_text_is_nfc_and_normalizing_again_changes_nothing(text: str) -> None:
    stored = validate_body("donation.refunded", changed("donation.refunded", reason=text))
    reason = stored["reason"]

    assert reason == unicodedata.normalize("NFC", text)
    again = validate_body("donation.refunded", changed("donation.refunded", reason=reason))
    assert again["reason"] == reason


_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
    st.text(st.characters(exclude_categories=["Cs"])),  # C0 controls, U+2028, emoji…
)
_FAST_DOMAIN = st.recursive(
    _JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(max_codepoint=0x7F), max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(st.characters(max_codepoint=0x7F)), _FAST_DOMAIN, max_size=6))
def test_canonical_bytes_of_any_value_in_the_fast_domain_are_rfc8785_and_sorted_json(
    obj: dict[str, Any],
) -> None:
    # The fast path (orjson, ADR 0002) on any text at all, not only what bodies accept.
    compact = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_bytes(obj) == compact.encode() == rfc8785.dumps(obj)


def test_canonical_bytes_nested_deeper_than_orjson_goes_are_still_rfc8785() -> None:
    deep: Any = "bottom"
    for _ in range(300):  # orjson stops at 254 levels; rfc8785 takes over
        deep = [deep]
    obj = {"deep": deep}
    assert canonical_bytes(obj) == rfc8785.dumps(obj)
