"""The reference path: a line is decoded the ledger's way, and a bad one says what is wrong.

The generators here (valid donations and allocations, a donation line with a field
changed) also feed the scanner's tests (``test_scanner.py``, ``test_scan.py``).
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.decoder import decode_line
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


INTERESTING = [
    b"0", b"1", b"9", b"a", b"A", b"z", b"_", b"-", b".", b":", b",", b'"', b"\\", b"{",
    b"}", b"[", b" ", b"\n", b"\x00", b"\xc3\xa9", b"null", b"00", b"1e3", b"x", b"Z",
    b"\\u0041", b'"sig":"0x', b"1000000000001", b"9007199254740992",
]  # fmt: skip


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


@given(fast_entries())
def test_the_ledgers_path_decodes_every_valid_donation_and_allocation(entry: Entry) -> None:
    assert decode_line(entry.leaf_bytes) == entry


def test_the_ledgers_path_decodes_every_kind_and_a_signed_entry() -> None:
    signed = json.loads(donation_line())
    signed["sig"] = "0x" + "11" * 65
    line = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    assert decode_line(line).sig == signed["sig"]
    charity = make_entry(
        "charity.registered",
        {"charity_id": "ch_1", "name": "乡村学校基金会", "registration_no": "1", "signer": None},
        seq=0,
        at="2026-11-26T10:00:00.000Z",
        actor="platform",
    )
    assert decode_line(charity.leaf_bytes) == charity


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
