"""The journal pass of the audit, on exports built in memory against made-up checkpoints."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import journal as journal_module
from audit import scanner
from audit.export import Blocks
from audit.journal import JournalFindings, balances, verify_journal
from audit.report import AuditReport, Check, Problem
from audit.scanner import SCANNER_AVAILABLE
from chain.client import Checkpoint
from ledger.entries import make_entry, to_hex
from ledger.merkle import MemoryTree, leaf_hash

AT = "2026-11-26T10:00:00.000Z"
ANCHORED_AT = 1_795_687_200  # 2026-11-26T10:00:00Z, the block time of checkpoint 0


def journal(donations: int = 40) -> list[bytes]:
    """A valid export: a charity, a project, donations, a disbursement funded by two."""
    drafts: list[tuple[str, dict[str, object], str]] = [
        (
            "charity.registered",
            {"charity_id": "ch_a", "name": "学校", "registration_no": "1", "signer": None},
            "platform",
        ),
        (
            "project.opened",
            {
                "project_id": "pr_a",
                "charity_id": "ch_a",
                "title": "Books",
                "goal_amount": 10**9,
                "currency": "CNY",
            },
            "charity:ch_a",
        ),
    ]
    for i in range(donations):
        drafts.append(
            (
                "donation.received",
                {
                    "donation_id": f"dn_{i}",
                    "charity_id": "ch_a",
                    "project_id": None if i % 3 == 2 else "pr_a",  # some to the general fund
                    "amount": 1000 + i,
                    "currency": "CNY",
                    "channel": "card",
                    "paid_at": AT,
                    "donor_commitment": to_hex(hashlib.sha256(b"c%d" % i).digest()),
                    "payment_ref_hash": to_hex(hashlib.sha256(b"r%d" % i).digest()),
                },
                "platform",
            )
        )
    drafts += [
        (
            "disbursement.made",
            {
                "disbursement_id": "db_a",
                "charity_id": "ch_a",
                "project_id": "pr_a",
                "amount": 2001,
                "currency": "CNY",
                "payee": "书店",
                "purpose": "books",
                "evidence": [],
            },
            "charity:ch_a",
        ),
        (
            "allocation.made",
            {
                "allocation_id": "al_a",
                "donation_id": "dn_0",
                "disbursement_id": "db_a",
                "amount": 1000,
            },
            "charity:ch_a",
        ),
        (
            "allocation.made",
            {
                "allocation_id": "al_b",
                "donation_id": "dn_1",
                "disbursement_id": "db_a",
                "amount": 1001,
            },
            "charity:ch_a",
        ),
    ]
    return [
        make_entry(kind, body, seq=seq, at=AT, actor=actor).leaf_bytes
        for seq, (kind, body, actor) in enumerate(drafts)
    ]


def anchored(lines: list[bytes], sizes: list[int]) -> list[Checkpoint]:
    tree = MemoryTree.from_leaf_hashes(leaf_hash(line) for line in lines)
    return [Checkpoint(i, size, tree.root(size), ANCHORED_AT + i) for i, size in enumerate(sizes)]


def statuses(checks: list[Check]) -> dict[str, str]:
    return {check.name: check.status for check in checks}


def first_problem(checks: list[Check]) -> Problem:
    return min((p for c in checks for p in c.problems), key=lambda p: p.key)


LINES = journal()
SIZES = [5, 16, 30, 45]
CHECKPOINTS = anchored(LINES, SIZES)


def test_an_honest_export_passes_and_every_pair_of_checkpoints_is_shown_consistent() -> None:
    findings = verify_journal(iter(LINES), CHECKPOINTS)
    assert set(statuses(findings.checks).values()) == {"pass"}
    assert findings.size == len(LINES) == 45
    assert findings.root_hash == MemoryTree.from_leaf_hashes(map(leaf_hash, LINES)).root()
    assert findings.checks[5].summary.startswith("3 of 3 consecutive pairs verified")
    assert [c.outcome for c in findings.checkpoints] == ["match"] * 4


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 45), min_size=1, max_size=6, unique=True).map(sorted))
def test_the_recomputed_root_at_every_checkpoint_size_is_memory_trees(sizes: list[int]) -> None:
    findings = verify_journal(iter(LINES), anchored(LINES, sizes))
    assert all(c.recomputed_root == c.root_hash for c in findings.checkpoints)
    assert statuses(findings.checks)["consistency"] in ("pass", "skip")


def test_a_root_the_export_does_not_reproduce_is_bounded_by_the_checkpoints_around_it() -> None:
    lines = list(LINES)
    lines[20] = lines[20].replace(b'"amount":1018', b'"amount":1019')
    findings = verify_journal(iter(lines), CHECKPOINTS)
    problem = first_problem(findings.checks)
    assert (problem.check, problem.first, problem.last) == ("checkpoints", 16, 29)
    assert "between checkpoint 1 at size 16 and checkpoint 2 at size 30" in problem.detail
    assert [c.outcome for c in findings.checkpoints] == ["match", "match", "mismatch", "mismatch"]


def test_a_change_before_the_first_checkpoint_is_bounded_from_entry_zero() -> None:
    lines = list(LINES)
    lines[0] = lines[0].replace("学校".encode(), "学院".encode())
    problem = first_problem(verify_journal(iter(lines), CHECKPOINTS).checks)
    assert (problem.first, problem.last) == (0, 4)
    assert "up to checkpoint 0 at size 5" in problem.detail


def test_a_checkpoint_beyond_the_export_names_where_the_export_ends() -> None:
    findings = verify_journal(iter(LINES[:40]), CHECKPOINTS)
    problem = first_problem(findings.checks)
    assert (problem.check, problem.seq) == ("checkpoints", 40)
    assert "entries 40..44 (5) are missing" in problem.detail


def test_an_empty_export_against_no_checkpoint_has_nothing_to_fail() -> None:
    findings = verify_journal(iter([]), [])
    assert "fail" not in statuses(findings.checks).values()
    assert findings.checks[0].summary == "the export is empty"
    assert statuses(findings.checks)["checkpoints"] == "skip"


def test_a_chain_whose_checkpoints_do_not_grow_fails_consistency() -> None:
    shrinking = [*CHECKPOINTS[:2], Checkpoint(2, 10, CHECKPOINTS[0].root_hash, 0)]
    findings = verify_journal(iter(LINES), shrinking)
    consistency = next(c for c in findings.checks if c.name == "consistency")
    assert consistency.status == "fail"
    assert "not more than checkpoint 1's" in consistency.problems[0].detail


def test_an_allocation_beyond_its_donation_is_named_by_its_seq() -> None:
    lines = list(LINES)
    last = json.loads(lines[-1])
    last["body"]["amount"] = 5000
    lines[-1] = make_entry(
        last["kind"], last["body"], seq=last["seq"], at=last["at"], actor=last["actor"]
    ).leaf_bytes
    problem = first_problem(verify_journal(iter(lines), []).checks)
    assert (problem.check, problem.seq) == ("accounting", 44)
    assert problem.detail.startswith("allocation.made: body.amount: allocation of 5000 exceeds")


def test_a_blank_or_broken_line_is_named_and_the_rest_still_checked() -> None:
    lines = [*LINES[:3], b"", *LINES[4:10], b"{", *LINES[11:]]
    findings = verify_journal(iter(lines), [])
    entries = findings.checks[0]
    assert [(p.seq, p.detail[:8]) for p in entries.problems] == [(3, "not JSON"), (10, "not JSON")]
    assert findings.size == len(LINES)


def test_an_earlier_export_names_the_exact_seq_and_is_itself_checked_against_the_chain() -> None:
    lines = list(LINES)
    lines[20] = lines[20].replace(b'"amount":1018', b'"amount":1019')
    findings = verify_journal(iter(lines), CHECKPOINTS, earlier=iter(LINES))
    earlier = findings.checks[-1]
    assert earlier.name == "earlier_export"
    assert [p.seq for p in earlier.problems] == [20]
    assert "matches the chain up to 45 entries" in earlier.summary

    forged_earlier = list(LINES)
    forged_earlier[3] = lines[20]
    findings = verify_journal(iter(LINES), CHECKPOINTS, earlier=iter(forged_earlier))
    details = [p.detail for p in findings.checks[-1].problems]
    assert any("the earlier export itself does not match checkpoint 0" in d for d in details)


def test_an_earlier_export_that_was_longer_names_the_first_removed_seq() -> None:
    findings = verify_journal(iter(LINES[:30]), CHECKPOINTS[:3], earlier=iter(LINES))
    (problem,) = findings.checks[-1].problems
    assert problem.seq == 30
    assert "entries 30..44 were removed" in problem.detail


def report_with(*problems: Problem) -> AuditReport:
    check = Check("x", "x")
    for problem in problems:
        check.add(problem)
    return AuditReport(
        journal="j",
        entries=100,
        root_hash=b"\x00" * 32,
        chain_id=1,
        rpc="r",
        contract="c",
        registry=None,
        block=1,
        checkpoints=[],
        checks=[check],
        charities=[],
        totals=[],
        kinds={},
        notes=[],
        elapsed_s=0.0,
    )


def test_the_failure_is_the_earliest_problem_and_an_exact_seq_inside_its_range_wins() -> None:
    ranged = Problem("checkpoints", "range", first=10, last=19)
    exact_inside = Problem("sequence", "inside", seq=14)
    exact_after = Problem("accounting", "after", seq=30)
    assert report_with(ranged, exact_after).failure == ranged
    assert report_with(ranged, exact_inside, exact_after).failure == exact_inside
    assert report_with(Problem("a", "b", seq=3), ranged).failure == Problem("a", "b", seq=3)
    assert report_with().failure is None


def test_progress_is_reported_every_so_many_lines_and_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(journal_module, "PROGRESS_EVERY", 10)
    seen: list[int] = []
    verify_journal(iter(LINES), CHECKPOINTS, progress=seen.append)
    assert seen == [10, 20, 30, 40, 45]


def reencoded(line: bytes, **changes: object) -> bytes:
    """The line with top-level or body fields changed, in canonical form (valid or not)."""
    obj = json.loads(line)
    for key, value in changes.items():
        if key in obj:
            obj[key] = value
        else:
            obj["body"][key] = value
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def tampered() -> dict[str, list[bytes]]:
    def changed(*edits: int | bytes) -> list[bytes]:
        """LINES with each ``index, line`` pair of ``edits`` put in."""
        lines = list(LINES)
        for index, line in zip(edits[::2], edits[1::2], strict=True):
            assert isinstance(index, int)
            assert isinstance(line, bytes)
            lines[index] = line
        return lines

    return {
        "honest": list(LINES),
        "broken line": [*LINES[:3], b"", *LINES[4:10], b"{", *LINES[11:]],
        "entry missing": LINES[:10] + LINES[11:],
        "entry twice": LINES[:10] + LINES[9:],
        "amount changed": changed(20, LINES[20].replace(b'"amount":1018', b'"amount":1019')),
        "unknown currency": changed(12, reencoded(LINES[12], currency="XYZ")),
        "paid on 30 February": changed(
            13, reencoded(LINES[13], paid_at="2026-02-30T10:00:00.000Z")
        ),
        "dated 31 November": changed(14, reencoded(LINES[14], at="2026-11-31T10:00:00.000Z")),
        "dated earlier": changed(15, reencoded(LINES[15], at="2026-11-25T10:00:00.000Z")),
        "seq beyond 2^53": changed(16, reencoded(LINES[16], seq=2**53)),
        "allocation beyond its donation": changed(44, reencoded(LINES[44], amount=5000)),
        "allocation of an unknown donation": changed(43, reencoded(LINES[43], donation_id="dn_x")),
        "allocation booked twice": changed(44, reencoded(LINES[44], allocation_id="al_a")),
        "allocations dated 31 November": changed(
            43,
            reencoded(LINES[43], at="2026-11-31T10:00:00.000Z"),
            44,
            reencoded(LINES[44], at="2026-11-31T10:00:00.000Z"),
        ),
        "allocations across a month": changed(
            43,
            reencoded(LINES[43], at="2026-11-30T10:00:00.000Z"),
            44,
            reencoded(LINES[44], at="2026-12-01T10:00:00.000Z"),
        ),
        "donation to an unknown charity": changed(17, reencoded(LINES[17], charity_id="ch_x")),
        "not canonical": changed(18, LINES[18].replace(b',"at"', b', "at"')),
        "dated after its anchoring": changed(
            25, reencoded(LINES[25], at="2026-11-26T10:05:03.000Z")
        ),
    }


def outcome(findings: JournalFindings) -> object:
    """Everything the report is made of, to compare two passes."""
    return (
        findings.size,
        findings.root_hash,
        [(c.name, c.status, c.summary, c.problem_count, c.problems) for c in findings.checks],
        findings.checkpoints,
        findings.kinds,
        balances(findings.books),
        findings.charities,
        findings.notes,
    )


@pytest.mark.parametrize("name", list(tampered()))
def test_the_fast_path_finds_what_the_reference_path_finds_and_names_the_same_first_seq(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = tampered()[name]
    monkeypatch.setattr(journal_module, "CHUNK_LINES", 8)  # runs of lines across blocks
    fast = verify_journal(iter(lines), CHECKPOINTS)
    reference = verify_journal(iter(lines), CHECKPOINTS, fast=False)
    assert (fast.scanned, reference.scanned) == (SCANNER_AVAILABLE, False)
    assert outcome(fast) == outcome(reference)
    problems = [p for c in reference.checks for p in c.problems]
    if name == "honest":
        assert not problems
    else:
        assert first_problem(fast.checks) == first_problem(reference.checks)


def test_an_audit_without_the_scanner_says_so_and_finds_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = tampered()["amount changed"]
    with_it = verify_journal(iter(lines), CHECKPOINTS)
    monkeypatch.setattr(scanner, "_scan", None)
    monkeypatch.setattr(journal_module, "SCANNER_PROBLEM", scanner._problem())
    without = verify_journal(iter(lines), CHECKPOINTS)
    assert not with_it.notes
    assert not without.scanned
    (note,) = without.notes
    assert note.startswith("audit._scan (the scanner in C) is not built here: every line is ")
    without.notes.clear()
    assert outcome(without) == outcome(with_it)


def test_the_tampered_lines_are_each_found_where_they_are() -> None:
    expected = {
        "broken line": ("entries", "seq 3"),
        "entry missing": ("sequence", "seq 10"),
        "entry twice": ("sequence", "seq 9"),
        "amount changed": ("checkpoints", "entries 16..29"),
        "unknown currency": ("entries", "seq 12"),
        "paid on 30 February": ("entries", "seq 13"),
        "dated 31 November": ("timestamps", "seq 14"),
        "dated earlier": ("timestamps", "entries 14..15"),
        "seq beyond 2^53": ("entries", "seq 16"),
        "allocation beyond its donation": ("accounting", "seq 44"),
        "allocation of an unknown donation": ("accounting", "seq 43"),
        "allocation booked twice": ("accounting", "seq 44"),
        "donation to an unknown charity": ("accounting", "seq 17"),
        "not canonical": ("entries", "seq 18"),
        "dated after its anchoring": ("timestamps", "entries 25..29"),
    }
    lines = tampered()
    for name, (check_name, where) in expected.items():
        checks = verify_journal(iter(lines[name]), CHECKPOINTS).checks
        check = next(c for c in checks if c.name == check_name)
        assert (name, check.problems[0].where) == (name, where)


def test_blocks_of_lines_are_read_as_their_lines() -> None:
    lines = tampered()["broken line"]
    blocks = Blocks([b"\n".join(lines[:7]), b"\n".join(lines[7:8]), b"\n".join(lines[8:])])
    assert outcome(verify_journal(blocks, CHECKPOINTS)) == outcome(
        verify_journal(iter(lines), CHECKPOINTS)
    )


def test_a_line_with_a_newline_in_it_is_refused() -> None:
    with pytest.raises(ValueError, match="holds a newline"):
        verify_journal(iter([LINES[0] + b"\n" + LINES[1]]), [])


def dated(lines: list[bytes], dates: dict[int, str]) -> list[bytes]:
    """``lines`` with the entries from each key of ``dates`` on dated its value."""
    out, date = [], AT
    for seq, line in enumerate(lines):
        date = dates.get(seq, date)
        out.append(reencoded(line, at=date))
    return out


@pytest.mark.parametrize("fast", [True, False])
def test_entries_dated_after_the_block_that_anchored_them_are_named_under_each_checkpoint(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "CHUNK_LINES", 8)  # runs of lines across limits
    # A clock three hours ahead from seq 12 on; each checkpoint was anchored on time.
    lines = dated(LINES, {12: "2026-11-26T13:00:00.000Z"})
    checkpoints = anchored(lines, SIZES)
    findings = verify_journal(iter(lines), checkpoints, fast=fast)
    check = next(c for c in findings.checks if c.name == "timestamps")
    assert check.status == "fail"
    assert [(p.first, p.last) for p in check.problems] == [(12, 15), (16, 29), (30, 44)]
    assert check.problems[0].detail == (
        "seq 12 is dated 2026-11-26T13:00:00.000Z, after checkpoint 1 that covers it was "
        "anchored (2026-11-26T10:00:01.000Z, its block's time): the journal's clock ran "
        "ahead, or the checkpoint's block is dated wrong"
    )
    assert check.summary == "3 problems, the first at entries 12..15"
    others = {c.name: c.status for c in findings.checks if c.name != "timestamps"}
    assert set(others.values()) == {"pass"}


@pytest.mark.parametrize(
    ("date", "late"),
    [
        ("2026-11-26T10:05:00.000Z", False),  # within the tolerance of checkpoint 0's time
        ("2026-11-26T10:05:00.001Z", True),
        ("2026-11-26T10:05:01.000Z", True),
    ],
)
def test_the_anchoring_time_allows_five_minutes_of_clock_skew(date: str, late: bool) -> None:
    lines = dated(LINES, {4: date, 5: "2026-11-26T11:00:00.000Z"})
    checkpoints = anchored(lines, SIZES)
    checkpoints[1:] = [
        Checkpoint(c.index, c.tree_size, c.root_hash, ANCHORED_AT + 7200) for c in checkpoints[1:]
    ]
    check = next(
        c for c in verify_journal(iter(lines), checkpoints).checks if c.name == "timestamps"
    )
    assert [p.where for p in check.problems] == (["entries 4..4"] if late else [])


def test_an_entry_is_bounded_by_the_earliest_anchoring_of_any_checkpoint_that_covers_it() -> None:
    lines = dated(LINES, {20: "2026-11-26T12:00:00.000Z"})
    checkpoints = anchored(lines, SIZES)
    # Checkpoint 2 (size 30) is anchored later than checkpoint 3 (size 45): a chain
    # cannot do that, but if it says so, entry 20 was on chain by checkpoint 3's time.
    checkpoints[2] = Checkpoint(2, 30, checkpoints[2].root_hash, ANCHORED_AT + 10 * 3600)
    checkpoints[3] = Checkpoint(3, 45, checkpoints[3].root_hash, ANCHORED_AT + 3600)
    check = next(
        c for c in verify_journal(iter(lines), checkpoints).checks if c.name == "timestamps"
    )
    assert [p.where for p in check.problems] == ["entries 20..29", "entries 30..44"]
    assert "after checkpoint 3 " in check.problems[0].detail


def test_entries_beyond_the_last_checkpoint_have_no_anchoring_time_to_keep() -> None:
    lines = dated(LINES, {40: "2027-06-01T00:00:00.000Z"})
    checkpoints = anchored(lines, [5, 16, 30])
    check = next(
        c for c in verify_journal(iter(lines), checkpoints).checks if c.name == "timestamps"
    )
    assert check.status == "pass"
