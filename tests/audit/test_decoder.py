"""The export decoder: the ledger's own path, and a fast path that agrees with it."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.decoder import (
    ALLOCATION,
    DONATION,
    DONATION_BOOKED,
    DONATION_FIELDS,
    OTHER,
    SCHEMA_FINGERPRINT,
    decode_fast,
    decode_line,
    decoder,
    schema_fingerprint,
    shapes,
)
from audit.errors import LineError
from ledger.currencies import ISO_4217
from ledger.entries import MAX_AMOUNT, MAX_SEQ, Entry, format_at, make_entry, to_hex

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def ids(prefix: str) -> st.SearchStrategy[str]:
    return st.text(ALNUM, min_size=1, max_size=40).map(lambda s: f"{prefix}_{s}")


hashes = st.binary(min_size=32, max_size=32).map(to_hex)
moments = st.datetimes(timezones=st.just(UTC)).map(format_at)
actors = st.one_of(st.just("platform"), ids("ch").map(lambda c: f"charity:{c}"))

donations = st.fixed_dictionaries(
    {
        "donation_id": ids("dn"),
        "charity_id": ids("ch"),
        "project_id": st.one_of(st.none(), ids("pr")),
        "amount": st.integers(1, MAX_AMOUNT),
        "currency": st.sampled_from(sorted(ISO_4217)),
        "channel": st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True),
        "paid_at": moments,
        "donor_commitment": hashes,
        "payment_ref_hash": hashes,
    }
)
allocations = st.fixed_dictionaries(
    {
        "allocation_id": ids("al"),
        "donation_id": ids("dn"),
        "disbursement_id": ids("db"),
        "amount": st.integers(1, MAX_AMOUNT),
    }
)


@st.composite
def fast_entries(draw: st.DrawFn) -> Entry:
    kind, body = draw(
        st.one_of(
            donations.map(lambda b: ("donation.received", b)),
            allocations.map(lambda b: ("allocation.made", b)),
        )
    )
    return make_entry(
        kind, body, seq=draw(st.integers(0, MAX_SEQ)), at=draw(moments), actor=draw(actors)
    )


def test_the_fast_path_was_written_against_the_current_ledger_schemas() -> None:
    assert schema_fingerprint() == SCHEMA_FINGERPRINT, (
        "ledger.entries changed the donation or allocation schema (or a constant): review "
        "audit/decoder.py's expressions against it, then set SCHEMA_FINGERPRINT to "
        f"{schema_fingerprint()!r}"
    )


@given(fast_entries())
def test_the_fast_path_decodes_every_valid_donation_and_allocation_as_the_ledger_does(
    entry: Entry,
) -> None:
    line = entry.leaf_bytes
    fast = decode_fast(line)
    assert fast is not None
    assert fast == decode_line(line) == entry
    assert fast.leaf_bytes == line


INTERESTING = [
    b"0", b"1", b"9", b"a", b"A", b"z", b"_", b"-", b".", b":", b",", b'"', b"\\", b"{",
    b"}", b"[", b" ", b"\n", b"\x00", b"\xc3\xa9", b"null", b"00", b"1e3", b"x", b"Z",
    b"\\u0041", b'"sig":"0x', b"1000000000001", b"9007199254740992",
]  # fmt: skip


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    fast_entries(),
    st.data(),
)
def test_the_fast_path_never_accepts_a_line_the_ledger_refuses(
    entry: Entry, data: st.DataObject
) -> None:
    line = entry.leaf_bytes
    start = data.draw(st.integers(0, len(line)))
    end = data.draw(st.integers(start, min(len(line), start + 6)))
    insert = b"".join(data.draw(st.lists(st.sampled_from(INTERESTING), max_size=3)))
    mutated = line[:start] + insert + line[end:]
    fast = decode_fast(mutated)
    if fast is None:
        return
    assert decode_line(mutated) == fast  # never LineError: the ledger agrees


def donation_line(**changes: object) -> bytes:
    body = {
        "donation_id": "dn_1",
        "charity_id": "ch_1",
        "project_id": None,
        "amount": 100,
        "currency": "CNY",
        "channel": "card",
        "paid_at": "2026-11-26T10:00:00.000Z",
        "donor_commitment": "0x" + "ab" * 32,
        "payment_ref_hash": "0x" + "cd" * 32,
    }
    entry = make_entry(
        "donation.received", body, seq=5, at="2026-11-26T10:00:01.000Z", actor="platform"
    )
    obj: dict[str, Any] = entry.to_json()
    for key, value in changes.items():
        if key in obj:
            obj[key] = value
        else:
            obj["body"][key] = value
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"amount": MAX_AMOUNT + 1}, "entry"),
        ({"amount": 0}, "entry"),
        ({"currency": "XYZ"}, "entry"),
        ({"paid_at": "2026-02-30T10:00:00.000Z"}, "entry"),
        ({"paid_at": "2026-04-31T10:00:00.000Z"}, "entry"),
        ({"paid_at": "2025-02-29T10:00:00.000Z"}, "entry"),
        ({"paid_at": "2026-13-01T10:00:00.000Z"}, "entry"),
        ({"paid_at": "0000-01-01T10:00:00.000Z"}, "entry"),
        ({"paid_at": "2026-11-26T24:00:00.000Z"}, "entry"),
        ({"paid_at": "2026-11-26T10:60:00.000Z"}, "entry"),
        ({"paid_at": "2026-11-26T10:00:00Z"}, "canonical"),
        ({"donor_commitment": "0x" + "AB" * 32}, "entry"),
        ({"seq": MAX_SEQ + 1}, "entry"),
        ({"actor": "charity:ch_1\n"}, "entry"),
        ({"channel": "Card"}, "entry"),
    ],
)
def test_a_bad_line_gets_the_ledgers_own_error(changes: dict[str, object], check: str) -> None:
    line = donation_line(**changes)
    assert decode_fast(line) is None
    with pytest.raises(LineError) as caught:
        decoder()(line)
    assert caught.value.check == check


def test_lines_outside_the_fast_path_still_decode_the_ledgers_way() -> None:
    signed = json.loads(donation_line())
    signed["sig"] = "0x" + "11" * 65
    line = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    assert decode_fast(line) is None
    assert decoder()(line).sig == signed["sig"]
    charity = make_entry(
        "charity.registered",
        {"charity_id": "ch_1", "name": "乡村学校基金会", "registration_no": "1", "signer": None},
        seq=0,
        at="2026-11-26T10:00:00.000Z",
        actor="platform",
    )
    assert decoder()(charity.leaf_bytes) == charity


@pytest.mark.parametrize(
    ("line", "check"),
    [
        (b"", "json"),
        (b"not json", "json"),
        (b"\xff\xfe", "json"),
        (b"[1]", "entry"),
        (b'{"v":1}', "entry"),
        (donation_line()[:-1], "json"),
        (donation_line().replace(b',"at"', b', "at"'), "canonical"),
        (donation_line().replace(b'"v":1}', b'"v":1,"v":1}'), "canonical"),
    ],
)
def test_the_ledgers_path_says_what_is_wrong_with_a_line(line: bytes, check: str) -> None:
    with pytest.raises(LineError) as caught:
        decode_line(line)
    assert caught.value.check == check


def test_the_slow_decoder_can_be_asked_for() -> None:
    assert decoder(fast=False) is decode_line


digits = st.text("0123456789", min_size=1, max_size=1)
timestamps_of_the_shape = st.builds(
    "{}-{}-{}T{}:{}:{}.{}Z".format,
    st.one_of(st.just("0000"), st.just("2024"), st.text("0123456789", min_size=4, max_size=4)),
    st.one_of(
        st.sampled_from(["00", "01", "02", "04", "09", "10", "12", "13", "19"]),
        digits.map(lambda d: "1" + d),
    ),
    st.one_of(
        st.sampled_from(["00", "01", "28", "29", "30", "31", "32", "39"]),
        digits.map(lambda d: "2" + d),
    ),
    st.sampled_from(["00", "09", "19", "20", "23", "24", "29"]),
    st.sampled_from(["00", "59", "60", "99"]),
    st.sampled_from(["00", "59", "60", "61"]),
    st.text("0123456789", min_size=3, max_size=3),
)


@settings(max_examples=600)
@given(timestamps_of_the_shape, timestamps_of_the_shape)
def test_the_fast_path_takes_a_date_exactly_when_the_ledger_does(paid_at: str, at: str) -> None:
    line = donation_line(paid_at=paid_at, at=at)
    fast = decode_fast(line)
    try:
        ledger = decode_line(line)
    except LineError:
        assert fast is None
        return
    assert fast is None or fast == ledger


@given(st.lists(st.one_of(fast_entries().map(lambda e: e.leaf_bytes), st.binary(max_size=40))))
def test_the_shapes_of_lines_are_those_the_fast_path_reads(lines: list[bytes]) -> None:
    found = shapes(lines)
    assert len(found) == len(lines)
    for line, shape in zip(lines, found, strict=True):
        entry = decode_fast(line)
        assert shape in (OTHER, DONATION, ALLOCATION)
        if entry is not None:
            assert shape == (DONATION if entry.kind == "donation.received" else ALLOCATION)


@given(fast_entries())
def test_the_books_read_the_fields_of_a_donation_as_the_fast_path_does(entry: Entry) -> None:
    text = entry.leaf_bytes.decode("latin-1")
    fields = DONATION_FIELDS.match(text)
    booked = DONATION_BOOKED.match(text)
    if entry.kind != "donation.received":
        assert fields is None
        assert booked is None
        return
    assert fields is not None
    assert booked is not None
    everything = fields.groups()
    assert booked.groups() == everything[:7] + everything[8:9] + everything[10:]
    assert booked.end() == fields.end() == len(text)
