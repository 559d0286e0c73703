"""The fast path (``audit.scanner``: the scanner in C and ``fast_values``) and the reference
path (``audit.decoder.decode_line``: the ledger's own validation) are held equal.

The fast path takes a line when the scanner gives it a shape and ``fast_values`` passes
its fields: then the ledger must accept the line too, with the same fields. Every line
the fast path does not take goes to the reference path in an audit, so it may be
cautious, but on a valid donation or allocation it must take the line (else it is not a
fast path). ``test_journal.py`` runs whole tampered journals both ways.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import scanner
from audit.decoder import decode_line
from audit.errors import LineError
from audit.scanner import (
    ALLOCATION,
    ALLOCATION_COLUMNS,
    DONATION,
    DONATION_COLUMNS,
    SCANNER_AVAILABLE,
    SCHEMA_FINGERPRINT,
    fast_values,
    scan,
    schema_fingerprint,
)
from ledger.entries import MAX_AMOUNT, MAX_SEQ, Entry
from tests.audit.test_decoder import INTERESTING, donation_line, fast_entries

pytestmark = pytest.mark.skipif(not SCANNER_AVAILABLE, reason="audit._scan is not built")


def test_the_scanner_was_written_against_the_current_ledger_schemas() -> None:
    assert schema_fingerprint() == SCHEMA_FINGERPRINT, (
        "ledger.entries changed the donation or allocation schema (or a constant): review "
        "audit/_scan.c (and tests/audit/expressions.py, its oracle) against it, then set "
        f"audit.scanner.SCHEMA_FINGERPRINT to {schema_fingerprint()!r}"
    )


def taken(line: bytes) -> dict[str, Any] | None:
    """The fields the fast path reads from a line, or None where it leaves the line alone."""
    shapes, _, donations, allocations = scan(line)
    assert len(shapes) == 1
    if shapes[0] == DONATION:
        fields = dict(zip(DONATION_COLUMNS, (column[0] for column in donations), strict=True))
        ok = fast_values(fields["seq"], fields["currency"], fields["paid_at"])
    elif shapes[0] == ALLOCATION:
        fields = dict(zip(ALLOCATION_COLUMNS, (column[0] for column in allocations), strict=True))
        ok = fast_values(fields["seq"])
    else:
        return None
    return fields if ok else None


def fields_of(entry: Entry, columns: tuple[str, ...]) -> dict[str, Any]:
    """The ledger's values of ``columns`` for ``entry``."""
    top = {"actor": entry.actor, "at": entry.at, "seq": entry.seq}
    return {name: top[name] if name in top else entry.body[name] for name in columns}


def columns_of(entry: Entry) -> tuple[str, ...]:
    return DONATION_COLUMNS if entry.kind == "donation.received" else ALLOCATION_COLUMNS


@settings(max_examples=300)
@given(fast_entries())
def test_the_fast_path_takes_every_valid_donation_and_allocation_as_the_ledger_reads_it(
    entry: Entry,
) -> None:
    line = entry.leaf_bytes
    fields = taken(line)
    assert fields is not None
    ledger = decode_line(line)
    assert fields == fields_of(ledger, columns_of(ledger)) == fields_of(entry, columns_of(entry))


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(fast_entries(), st.data())
def test_the_fast_path_never_takes_a_line_the_ledger_refuses_nor_reads_it_otherwise(
    entry: Entry, data: st.DataObject
) -> None:
    line = entry.leaf_bytes
    start = data.draw(st.integers(0, len(line)))
    end = data.draw(st.integers(start, min(len(line), start + 6)))
    insert = b"".join(data.draw(st.lists(st.sampled_from(INTERESTING), max_size=3)))
    mutated = (line[:start] + insert + line[end:]).replace(b"\n", b"")  # a line: no newline
    fields = taken(mutated)
    if fields is None:
        return
    ledger = decode_line(mutated)  # never LineError: the ledger agrees
    assert fields == fields_of(ledger, columns_of(ledger))


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
def test_a_bad_line_is_left_to_the_ledger_which_names_what_is_wrong(
    changes: dict[str, object], check: str
) -> None:
    line = donation_line(**changes)
    assert taken(line) is None
    with pytest.raises(LineError) as caught:
        decode_line(line)
    assert caught.value.check == check


def test_a_signed_line_is_left_to_the_ledger() -> None:
    signed = json.loads(donation_line())
    signed["sig"] = "0x" + "11" * 65
    line = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    assert taken(line) is None
    assert decode_line(line).sig == signed["sig"]


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
def test_the_fast_path_takes_a_date_only_when_the_ledger_does(paid_at: str, at: str) -> None:
    # An 'at' that is not a real instant is the audit's timestamps check's to name (and a
    # run of donations is replayed at once only when every 'at' is a real instant).
    line = donation_line(paid_at=paid_at, at=at)
    fields = taken(line)
    try:
        ledger = decode_line(line)
    except LineError:
        assert fields is None
        return
    assert fields is None or fields == fields_of(ledger, DONATION_COLUMNS)
    if _real(paid_at) and _real(at):  # a valid donation: the fast path must take it
        assert fields is not None


def _real(moment: str) -> bool:
    try:
        datetime.fromisoformat(moment)
    except ValueError:
        return False
    return True


def test_without_the_module_scan_says_it_is_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner, "_scan", None)
    with pytest.raises(RuntimeError, match="not built"):
        scan(donation_line())
    assert "is not built here" in (scanner._problem() or "")
