"""audit._scan, the scanner in C, gives the answers of the expressions it was written from.

Its shapes are those of the oracle's ``shapes`` and its columns the groups of
``DONATION_BOOKED`` and ``ALLOCATION_FIELDS`` (amount and seq as ints, a null project as
None), line for line, on valid entries, on mutated ones and on lines that are not entries
at all (``tests/audit/expressions.py``). It is plain C: it builds and gives the same
answers without any compiler extension.
"""

from __future__ import annotations

import gc
import importlib.machinery
import importlib.util
import re
import shutil
import subprocess
import sys
import sysconfig
import tracemalloc
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import scanner
from audit.scanner import ALLOCATION, DONATION, OTHER, SCANNER_AVAILABLE, scan
from ledger.entries import MAX_AMOUNT, MAX_SEQ
from tests.audit.expressions import ALLOCATION_FIELDS, DONATION_BOOKED, shapes
from tests.audit.test_decoder import INTERESTING, donation_line, fast_entries

pytestmark = pytest.mark.skipif(not SCANNER_AVAILABLE, reason="audit._scan is not built")


def test_the_scanner_is_built_and_written_against_this_ledger() -> None:
    # Not a skip: the install builds it (a C compiler is part of the set-up), and an audit
    # without it is several times slower, which should show here and not in a report.
    assert SCANNER_AVAILABLE, f"see the output of scripts/setup: {scanner._problem()}"


def test_a_scanner_built_from_another_version_of_its_source_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One that gave the lines' starts (before INTERFACE 2) would hash the wrong bytes."""
    from audit import _scan

    monkeypatch.setattr(scanner, "_scan", types.SimpleNamespace(**vars(_scan) | {"INTERFACE": 1}))
    problem = scanner._problem()
    assert problem is not None
    assert problem.startswith("audit._scan was built from another audit/_scan.c")
    monkeypatch.delattr(scanner._scan, "INTERFACE")
    assert scanner._problem() == problem


def expected(lines: list[bytes]) -> tuple[bytes, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What the expressions say of the lines: shapes, donation rows, allocation rows."""
    found = shapes(lines)
    donations: list[tuple[Any, ...]] = []
    allocations: list[tuple[Any, ...]] = []
    for line, shape in zip(lines, found, strict=True):
        if shape == DONATION:
            m = DONATION_BOOKED.fullmatch(line.decode("latin-1"))
            assert m is not None
            row: list[Any] = list(m.groups())
            row[2], row[9] = int(row[2]), int(row[9])
            donations.append(tuple(row))
        elif shape == ALLOCATION:
            m = ALLOCATION_FIELDS.fullmatch(line.decode("latin-1"))
            assert m is not None
            row = list(m.groups())
            row[3], row[6] = int(row[3]), int(row[6])
            allocations.append(tuple(row))
    return found, donations, allocations


def scanned(lines: list[bytes]) -> tuple[bytes, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What the scanner says of the lines joined into a block; checks the lines it cuts."""
    block = b"\n".join(lines)
    found, leaves, donations, allocations = scan(block)
    assert len(found) == len(lines)
    assert leaves == [b"\x00" + line for line in lines]
    assert len(donations) == 10
    assert len(allocations) == 7
    return found, list(zip(*donations, strict=True)), list(zip(*allocations, strict=True))


def mutate(line: bytes, data: st.DataObject) -> bytes:
    start = data.draw(st.integers(0, len(line)))
    end = data.draw(st.integers(start, min(len(line), start + 6)))
    insert = b"".join(data.draw(st.lists(st.sampled_from(INTERESTING), max_size=3)))
    return line[:start] + insert + line[end:]


lines_of_a_block = st.lists(
    st.one_of(
        fast_entries().map(lambda e: e.leaf_bytes),
        st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(lines_of_a_block)
def test_the_scanner_reads_valid_lines_as_the_expressions_do(lines: list[bytes]) -> None:
    assert scanned(lines) == expected(lines)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(fast_entries(), st.data())
def test_the_scanner_takes_a_mutated_line_exactly_when_the_expressions_do(
    entry: Any, data: st.DataObject
) -> None:
    mutated = mutate(entry.leaf_bytes, data).replace(b"\n", b"")
    lines = [mutated, entry.leaf_bytes, mutated]
    assert scanned(lines) == expected(lines)


ALLOCATION_TEMPLATE = (
    '{{"actor":"{actor}","at":"{at}","body":{{"allocation_id":"{allocation_id}",'
    '"amount":{amount},"disbursement_id":"{disbursement_id}","donation_id":"{donation_id}"'
    '}},"kind":"allocation.made","seq":{seq},"v":1}}'
)


def allocation_line(**changes: str) -> bytes:
    """A canonical allocation line, fields changed as given (valid or not)."""
    fields = {
        "actor": "charity:ch_1",
        "at": "2026-11-26T10:00:01.000Z",
        "allocation_id": "al_1",
        "amount": "100",
        "disbursement_id": "db_1",
        "donation_id": "dn_1",
        "seq": "7",
    } | changes
    return ALLOCATION_TEMPLATE.format(**fields).encode()


EDGES = [
    donation_line(),
    donation_line(project_id="pr_" + "x" * 40),
    donation_line(project_id="pr_" + "x" * 41),
    donation_line(donation_id="dn_" + "A" * 40),
    donation_line(donation_id="dn_" + "A" * 41),
    donation_line(donation_id="dn_"),
    donation_line(donation_id="dn-1"),
    donation_line(amount=MAX_AMOUNT),
    donation_line(amount=MAX_AMOUNT + 1),
    donation_line(amount=MAX_AMOUNT - 1),
    donation_line(amount=10 * MAX_AMOUNT),
    donation_line(amount=0),
    donation_line(amount=1),
    donation_line(seq=0),
    donation_line(seq=MAX_SEQ),
    donation_line(seq=10**15),
    donation_line(seq=10**16 - 1),
    donation_line(seq=10**16),
    donation_line(channel="c" * 32),
    donation_line(channel="c" * 33),
    donation_line(channel="9card"),
    donation_line(channel="card_2"),
    donation_line(currency="CN"),
    donation_line(currency="CNYY"),
    donation_line(currency="cny"),
    donation_line(actor="charity:ch_1"),
    donation_line(actor="charity:ch_"),
    donation_line(actor="platforms"),
    donation_line(actor="Platform"),
    donation_line(donor_commitment="0x" + "a" * 63),
    donation_line(donor_commitment="0x" + "a" * 65),
    donation_line(donor_commitment="0x" + "a" * 63 + "g"),
    donation_line(donor_commitment="0X" + "a" * 64),
    donation_line(payment_ref_hash="0x" + "F" * 64),
    donation_line(charity_id="ch_é"),
    *(
        donation_line(**{field: moment})
        for field in ("at", "paid_at")
        for moment in (
            "0000-01-01T00:00:00.000Z",
            "0001-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
            "2026-00-10T10:00:00.000Z",
            "2026-13-10T10:00:00.000Z",
            "2026-12-00T10:00:00.000Z",
            "2026-12-32T10:00:00.000Z",
            "2026-02-31T10:00:00.000Z",
            "2026-12-10T24:00:00.000Z",
            "2026-12-10T23:60:00.000Z",
            "2026-12-10T23:59:60.000Z",
            "2026-12-10T23:59:59.99Z",
            "2026-12-10T23:59:59.9999Z",
            "2026-12-10 23:59:59.999Z",
            "2026-12-10T23:59:59.999+00:00",
            "２026-12-10T23:59:59.999Z",
        )
    ),
    donation_line() + b" ",
    donation_line() + b"\r",
    donation_line()[:-1],
    donation_line().replace(b'"v":1', b'"v":2'),
    donation_line().replace(b"donation.received", b"donation.refunded"),
    allocation_line(),
    allocation_line(actor="platform"),
    allocation_line(amount="0100"),
    allocation_line(amount=str(MAX_AMOUNT)),
    allocation_line(amount=str(MAX_AMOUNT + 1)),
    allocation_line(seq="00"),
    allocation_line(seq="0"),
    allocation_line(allocation_id="al_" + "z" * 41),
    allocation_line(disbursement_id="dn_1"),
    allocation_line().replace(b"allocation.made", b"donation.received"),
    b"",
    b"{",
    b"null",
]


def test_the_scanner_answers_as_the_expressions_on_the_edges_of_every_field() -> None:
    found, _, _ = expected(EDGES)
    assert found.count(DONATION) > 10  # the edges on both sides of each limit
    assert found.count(ALLOCATION) >= 3
    assert found.count(OTHER) > 40
    assert scanned(EDGES) == expected(EDGES)
    for line in EDGES:  # and each alone, at the end of a block, with nothing after it
        assert scanned([line]) == expected([line])


def test_a_block_ending_in_a_newline_ends_with_an_empty_line() -> None:
    line = donation_line()
    found, leaves, donations, _ = scan(line + b"\n")
    assert found == bytes([DONATION, OTHER])
    assert leaves == [b"\x00" + line, b"\x00"]
    assert donations[6] == ["dn_1"]
    assert scan(b"")[0] == bytes([OTHER])


def test_values_repeated_down_a_column_are_one_object() -> None:
    _, _, donations, _ = scan(b"\n".join([donation_line(), donation_line(seq=6)]))
    actors, currencies, charity_ids = donations[0], donations[5], donations[4]
    assert actors[0] is actors[1] is sys.intern("platform")
    assert currencies[0] is currencies[1] is sys.intern("CNY")
    assert charity_ids[0] is charity_ids[1]
    assert donations[8] == [None, None]
    assert donations[9] == [5, 6]


def test_scanning_keeps_no_memory_of_its_own() -> None:
    block = b"\n".join([donation_line(), allocation_line(), b"other"] * 200)
    scan(block)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(300):
            result = scan(block)
            del result
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 10_000, f"{after - before:,} bytes kept after 300 scans"


def test_the_scanner_refuses_what_is_not_bytes() -> None:
    with pytest.raises(TypeError):
        scan("a str is not a block")  # type: ignore[arg-type]


def test_every_byte_at_every_place_of_a_hash_is_judged_as_the_expressions_judge_it() -> None:
    # The scanner checks a hash eight characters at a time: each byte in each lane.
    good = donation_line()
    commitment = good.index(b'"donor_commitment":"0x') + len(b'"donor_commitment":"0x')
    lines = [
        good[: commitment + place] + bytes([byte]) + good[commitment + place + 1 :]
        for place in range(64)
        for byte in range(256)
        if byte != ord("\n")
    ]
    found, _, _ = expected(lines)
    assert found.count(DONATION) == 64 * 16  # the sixteen lowercase hex digits, everywhere
    assert scanned(lines) == expected(lines)


SOURCE = Path(__file__).resolve().parents[2] / "audit" / "_scan.c"


def test_every_compiler_extension_in_the_scanner_is_guarded_with_a_plain_c_fallback() -> None:
    text = SOURCE.read_text()
    guard = re.search(r"#if !defined\(SCAN_PLAIN_C\).*?#endif", text, re.DOTALL)
    assert guard is not None
    outside = text[: guard.start()] + text[guard.end() :]
    assert not re.findall(r"__attribute__|__builtin_\w+|__forceinline|__declspec|typeof", outside)
    assert "#else\n#define FORCE_INLINE static inline\n#endif" in guard.group()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_the_scanner_built_as_plain_c99_answers_as_the_expressions_do(tmp_path: Path) -> None:
    # ISO C99 with every GNU extension an error and no compiler extension of ours: what
    # any C99 compiler with CPython's headers builds, answering as the installed module.
    target = tmp_path / ("_scan" + importlib.machinery.EXTENSION_SUFFIXES[0])
    built = subprocess.run(
        [
            "cc", "-std=c99", "-pedantic-errors", "-Wall", "-Wextra", "-Werror", "-O1",
            "-DSCAN_PLAIN_C", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}",
            str(SOURCE), "-o", str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    spec = importlib.util.spec_from_file_location("audit._scan", target)
    assert spec is not None
    assert spec.loader is not None
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)
    block = b"\n".join(EDGES)
    assert plain.scan(block) == scan(block)
    assert scanned(EDGES) == expected(EDGES)
