"""The audit checks every match against its pool's rules (ADR 0040): a forged match in an
export is named by its seq, with the rule it breaks."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from audit.journal import verify_journal
from ledger.entries import make_entry, to_hex
from tests.audit.test_journal import first_problem, statuses

AT = "2026-09-07T10:00:00.000Z"


def payer(name: str) -> str:
    return to_hex(hashlib.sha256(name.encode()).digest())


def donation(i: int, amount: int = 10_000, paid_at: str = AT) -> tuple[str, dict[str, Any]]:
    return (
        "donation.received",
        {
            "donation_id": f"dn_{i}",
            "charity_id": "ch_a",
            "project_id": "pr_a",
            "amount": amount,
            "currency": "CNY",
            "channel": "wechat_pay",
            "paid_at": paid_at,
            "donor_commitment": to_hex(hashlib.sha256(b"c%d" % i).digest()),
            "payment_ref_hash": to_hex(hashlib.sha256(b"r%d" % i).digest()),
        },
    )


def match(
    i: int, amount: int, who: str, donation_i: int | None = None
) -> tuple[str, dict[str, Any]]:
    return (
        "match.made",
        {
            "match_id": f"dn_m{i}",
            "donation_id": f"dn_{i if donation_i is None else donation_i}",
            "pool_id": "mp_a",
            "amount": amount,
            "payer_hash": payer(who),
        },
    )


def export(*tail: tuple[str, dict[str, Any]]) -> list[bytes]:
    """A charity, a project, a matcher and its pool (ratio 100 %, at most 5,000 a donation,
    10,000 a payer a day, 15 s between a payer's matches, 12,000 in all), then ``tail``."""
    drafts: list[tuple[str, dict[str, Any]]] = [
        (
            "charity.registered",
            {"charity_id": "ch_a", "name": "学校", "registration_no": "1", "signer": None},
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
        ),
        ("matcher.registered", {"matcher_id": "mt_a", "name": "某某公司", "registration_no": "9"}),
        (
            "match_pool.opened",
            {
                "pool_id": "mp_a",
                "matcher_id": "mt_a",
                "title": "配捐",
                "currency": "CNY",
                "total": 12_000,
                "ratio_percent": 100,
                "cap_per_donation": 5_000,
                "cap_per_payer_per_day": 10_000,
                "min_interval_s": 15,
                "starts_at": "2026-09-07T00:00:00.000Z",
                "ends_at": "2026-09-08T00:00:00.000Z",
                "day_offset_minutes": 480,
                "project_ids": ["pr_a"],
            },
        ),
        *tail,
    ]
    return [
        make_entry(kind, body, seq=seq, at=AT, actor="platform").leaf_bytes
        for seq, (kind, body) in enumerate(drafts)
    ]


VALID = [donation(0), match(0, 5_000, "a"), donation(1), match(1, 5_000, "b")]


def test_matches_within_every_rule_pass_the_audit() -> None:
    findings = verify_journal(iter(export(*VALID)), [])
    assert statuses(findings.checks)["accounting"] == "pass"
    assert findings.kinds["match.made"] == 2


@pytest.mark.parametrize(
    ("before", "forged", "field", "words"),
    [
        ([], match(2, 6_000, "c"), "body.amount", "match this donation with 5000, not 6000"),
        (VALID, match(2, 5_000, "a"), "body.payer_hash", "less than 15 s apart"),
        (VALID, match(2, 5_000, "c", donation_i=0), "body.donation_id", "already matched"),
        (VALID, match(2, 5_000, "c"), "body.amount", "exceeds the 2000 left in the pool"),
    ],
    ids=["over the ratio and cap", "a fast payer", "matched twice", "over the pool's total"],
)
def test_a_forged_match_in_an_export_fails_the_audit_naming_its_seq(
    before: list[tuple[str, dict[str, Any]]],
    forged: tuple[str, dict[str, Any]],
    field: str,
    words: str,
) -> None:
    lines = export(*before, donation(2), forged)
    problem = first_problem(verify_journal(iter(lines), []).checks)
    assert (problem.check, problem.seq) == ("accounting", len(lines) - 1)
    assert "match.made" in problem.detail
    assert field in problem.detail
    assert words in problem.detail


def test_a_match_outside_the_window_or_over_a_payers_day_fails_the_audit() -> None:
    late = export(donation(0, paid_at="2026-09-08T00:00:00.000Z"), match(0, 5_000, "a"))
    problem = first_problem(verify_journal(iter(late), []).checks)
    assert problem.seq == 5
    assert "outside the pool's window" in problem.detail
    day = export(
        donation(0, paid_at="2026-09-07T01:00:00.000Z"),
        match(0, 5_000, "a"),
        donation(1, paid_at="2026-09-07T02:00:00.000Z"),
        match(1, 5_000, "a"),
        donation(2, amount=100, paid_at="2026-09-07T03:00:00.000Z"),
        match(2, 100, "a"),
    )
    problem = first_problem(verify_journal(iter(day), []).checks)
    assert problem.seq == 9
    assert "exceeds the 10000 a day" in problem.detail
