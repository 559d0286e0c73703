"""The disclosure core (ADR 0039): periods, one report's figures, corrections, the schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.accounting import Books
from ledger.disclosure import (
    DisclosureError,
    Publication,
    compare_reports,
    compute_report,
    quarter_bounds,
    quarter_of,
    schedule,
)
from ledger.entries import Entry, make_entry
from ledger.errors import AccountingError

Z = "0x" + "ab" * 32
CH = "charity:ch_a"


def journal(*extra: tuple[str, dict[str, Any], str, str]) -> list[Entry]:
    """A project opened 6 Jan 2026, ¥100 in Q1, ¥60 spent in Q1 and voided in Q2."""
    rows = [
        ("charity.registered", {"charity_id": "ch_a", "name": "阅读会", "registration_no": "X1",
                                "signer": None}, "platform", "2026-01-05T00:00:00.000Z"),
        ("project.opened", {"project_id": "pr_a", "charity_id": "ch_a", "title": "课本",
                            "goal_amount": 100_000, "currency": "CNY"}, CH,
         "2026-01-06T00:00:00.000Z"),
        ("donation.received", {"donation_id": "dn_1", "charity_id": "ch_a", "project_id": "pr_a",
                               "amount": 10_000, "currency": "CNY", "channel": "card",
                               "paid_at": "2026-02-01T00:00:00Z", "donor_commitment": Z,
                               "payment_ref_hash": Z}, "platform", "2026-02-01T00:00:00.000Z"),
        ("disbursement.made", {"disbursement_id": "db_1", "charity_id": "ch_a",
                               "project_id": "pr_a", "amount": 6_000, "currency": "CNY",
                               "payee": "书店", "purpose": "textbooks",
                               "evidence": [{"sha256": Z, "media_type": "application/pdf",
                                             "public": True}]}, CH, "2026-03-01T00:00:00.000Z"),
        ("allocation.made", {"allocation_id": "al_1", "donation_id": "dn_1",
                             "disbursement_id": "db_1", "amount": 6_000}, CH,
         "2026-03-01T00:00:00.000Z"),
        # 2026-04-01 00:00 +08:00 is 2026-03-31 16:00 UTC: this is in Q2 already.
        ("allocation.reversed", {"allocation_id": "al_1", "reason": "wrong invoice"}, CH,
         "2026-03-31T16:00:00.000Z"),
        ("disbursement.voided", {"disbursement_id": "db_1", "reason": "wrong invoice"}, CH,
         "2026-03-31T16:00:00.000Z"),
        *extra,
    ]  # fmt: skip
    entries = [make_entry(k, b, seq=i, at=at, actor=a) for i, (k, b, a, at) in enumerate(rows)]
    Books().apply_all(entries)  # every rule holds
    return entries


def test_quarters_are_calendar_quarters_in_beijing_time() -> None:
    assert quarter_of(datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)) == "2026-Q1"
    assert quarter_of(datetime(2026, 3, 31, 16, 0, tzinfo=UTC)) == "2026-Q2"
    start, end = quarter_bounds("2026-Q4")
    assert (start.isoformat(), end.isoformat()) == (
        "2026-10-01T00:00:00+08:00",
        "2027-01-01T00:00:00+08:00",
    )
    for bad in ("2026-Q0", "2026-Q5", "26-Q1", "1999-Q4", "final"):
        with pytest.raises(DisclosureError):
            quarter_bounds(bad)


def test_a_quarter_shows_its_own_flows_and_the_cumulative_ones() -> None:
    entries = journal()
    q1 = compute_report(entries, tree_size=len(entries), period="2026-Q1", project_id="pr_a")
    (flows,) = q1.period_flows
    assert (flows.received, flows.allocated, flows.disbursed) == (10_000, 6_000, 6_000)
    assert q1.complete  # the void, in Q2, is past Q1's end
    q2 = compute_report(entries, tree_size=len(entries), period="2026-Q2", project_id="pr_a")
    (flows,) = q2.period_flows
    assert (flows.allocated, flows.reversed, flows.disbursed, flows.voided) == (
        -6_000,
        6_000,
        -6_000,
        6_000,
    )
    (cumulative,) = q2.cumulative_flows
    assert (cumulative.disbursed, cumulative.held) == (0, 10_000)
    assert not q2.complete  # nothing after Q2 yet: later entries may add to it
    assert q2.categories == []  # the voided disbursement was not of Q2


def test_a_correction_is_a_note_on_the_report_of_what_it_corrects_and_of_when_it_was_made() -> None:
    entries = journal()
    for period in ("2026-Q1", "2026-Q2"):
        report = compute_report(entries, tree_size=len(entries), period=period, project_id="pr_a")
        kinds = [(c.kind, c.corrects, c.corrected_period, c.reason) for c in report.corrections]
        assert kinds == [
            ("allocation.reversed", "al_1", "2026-Q1", "wrong invoice"),
            ("disbursement.voided", "db_1", "2026-Q1", "wrong invoice"),
        ]
    # Before the void (the checkpoint of 5 entries) Q1 knew of no correction.
    early = compute_report(entries, tree_size=5, period="2026-Q1", project_id="pr_a")
    assert early.corrections == []
    assert early.disbursements[0].voided_seq is None


def test_the_digest_covers_every_figure_and_a_changed_one_is_named() -> None:
    entries = journal()
    report = compute_report(entries, tree_size=len(entries), period="2026-Q1", project_id="pr_a")
    again = compute_report(entries, tree_size=len(entries), period="2026-Q1", project_id="pr_a")
    assert report.digest == again.digest
    assert compare_reports(report, report.model_dump(mode="json")) == []
    claimed = report.model_dump(mode="json")
    claimed["period_flows"][0]["received"] = 10_001
    claimed["disbursements"][0]["evidence"][0]["sha256"] = "0x" + "cd" * 32
    assert compare_reports(report, claimed) == [
        "disbursements[0].evidence[0].sha256",
        "period_flows[0].received",
    ]


def test_a_report_needs_every_entry_up_to_its_checkpoint() -> None:
    entries = journal()
    with pytest.raises(DisclosureError, match="fewer than"):
        compute_report(entries[:4], tree_size=5, period="2026-Q1", project_id="pr_a")
    with pytest.raises(DisclosureError, match="entry 2 is missing"):
        compute_report(entries[:2] + entries[3:], tree_size=5, period="2026-Q1", project_id="pr_a")
    with pytest.raises(DisclosureError, match="only a project"):
        compute_report(entries, tree_size=5, period="final", charity_id="ch_a")


def test_a_charitys_report_holds_all_its_projects_money() -> None:
    entries = journal()
    report = compute_report(entries, tree_size=len(entries), period="2026-Q1", charity_id="ch_a")
    assert report.scope.name == "阅读会"
    assert report.period_flows[0].received == 10_000


def test_publishing_a_final_report_needs_a_closed_project_and_a_past_checkpoint() -> None:
    entries = journal()
    books = Books()
    books.apply_all(entries)
    final = {
        "charity_id": "ch_a",
        "project_id": "pr_a",
        "period": "final",
        "tree_size": 7,
        "digest": Z,
        "reason": None,
    }
    with pytest.raises(AccountingError, match="close it first"):
        books.apply(make_entry("report.published", final, seq=7, at=entries[-1].at, actor=CH))
    books.apply(
        make_entry(
            "project.closed",
            {"project_id": "pr_a", "reason": "done"},
            seq=7,
            at=entries[-1].at,
            actor=CH,
        )
    )
    with pytest.raises(AccountingError, match="already closed"):
        books.apply(
            make_entry(
                "project.closed",
                {"project_id": "pr_a", "reason": "again"},
                seq=8,
                at=entries[-1].at,
                actor=CH,
            )
        )
    with pytest.raises(AccountingError, match="at most the 8 entries"):
        books.apply(
            make_entry(
                "report.published", final | {"tree_size": 9}, seq=8, at=entries[-1].at, actor=CH
            )
        )
    with pytest.raises(AccountingError, match="may not write"):
        books.apply(
            make_entry("report.published", final, seq=8, at=entries[-1].at, actor="charity:ch_b")
        )
    books.apply(make_entry("report.published", final, seq=8, at=entries[-1].at, actor=CH))


OPENED = "2026-01-06T00:00:00.000Z"


def rows(
    now: datetime, closed_at: str | None = None, published: tuple[str, ...] = ()
) -> dict[str, Any]:
    publications = [
        Publication(seq=100 + i, at=at, period=period, tree_size=50, digest=Z, reason=None)
        for i, (period, at) in enumerate(p.split("@") for p in published)
    ]
    found = schedule(opened_at=OPENED, closed_at=closed_at, publications=publications, now=now)
    return {row.period: row for row in found}


def test_progress_reports_are_due_once_the_project_has_lasted_six_months() -> None:
    found = rows(datetime(2026, 12, 5, tzinfo=UTC))
    # Opened 6 Jan: by Q1's deadline (30 Apr) it had lasted under six months, by Q2's
    # (31 Jul) over six (6 Jul): Q2 is the first report it owes.
    assert [p for p, r in found.items() if r.required] == ["2026-Q2", "2026-Q3", "2026-Q4"]
    assert found["2026-Q1"].status == "not_required"
    assert (found["2026-Q2"].due_by, found["2026-Q2"].status) == ("2026-07-31", "late")
    assert (found["2026-Q3"].due_by, found["2026-Q3"].status) == ("2026-10-31", "late")
    assert found["2026-Q4"].status == "upcoming"
    due = rows(datetime(2026, 10, 20, tzinfo=UTC))["2026-Q3"]
    assert due.status == "due"


def test_a_report_published_after_its_deadline_is_published_late() -> None:
    found = rows(
        datetime(2026, 12, 5, tzinfo=UTC),
        published=("2026-Q2@2026-07-20T00:00:00.000Z", "2026-Q3@2026-11-02T00:00:00.000Z"),
    )
    assert found["2026-Q2"].status == "published"
    assert found["2026-Q3"].status == "published_late"
    # The deadline is the whole last day in Beijing: 31 Oct 23:59 +08:00 is on time.
    on_time = rows(
        datetime(2026, 12, 5, tzinfo=UTC), published=("2026-Q3@2026-10-31T15:59:00.000Z",)
    )
    assert on_time["2026-Q3"].status == "published"


def test_a_closed_project_owes_a_final_report_within_three_months() -> None:
    found = rows(datetime(2026, 9, 1, tzinfo=UTC), closed_at="2026-05-20T04:00:00.000Z")
    assert list(found) == ["2026-Q1", "2026-Q2", "final"]
    assert found["2026-Q2"].status == "not_required"  # closed within it: the final covers it
    assert (found["final"].due_by, found["final"].status) == ("2026-08-20", "late")
    # A project that lasted under six months owes no progress report at all.
    assert not any(r.required for p, r in found.items() if p != "final")


def test_matched_money_is_received_and_spent_like_a_donation_and_a_reversed_match_returned() -> (
    None
):
    """ADR 0040 beside ADR 0039: a match is the matcher's donation to the matched project."""
    pool = {
        "pool_id": "mp_1",
        "matcher_id": "mt_1",
        "title": "配捐",
        "currency": "CNY",
        "total": 5_000,
        "ratio_percent": 100,
        "cap_per_donation": 1_000,
        "cap_per_payer_per_day": 3_000,
        "min_interval_s": 15,
        "starts_at": "2026-04-01T00:00:00.000Z",
        "ends_at": "2026-05-01T00:00:00.000Z",
        "day_offset_minutes": 480,
        "project_ids": ["pr_a"],
    }

    def donation(n: int) -> tuple[str, dict[str, Any], str, str]:
        return (
            "donation.received",
            {
                "donation_id": f"dn_{n}",
                "charity_id": "ch_a",
                "project_id": "pr_a",
                "amount": 2_000,
                "currency": "CNY",
                "channel": "card",
                "paid_at": "2026-04-10T00:00:00Z",
                "donor_commitment": Z,
                "payment_ref_hash": Z,
            },
            "platform",
            "2026-04-10T00:00:00.000Z",
        )

    def match(n: int, payer: str) -> tuple[str, dict[str, Any], str, str]:
        return (
            "match.made",
            {
                "match_id": f"dn_m{n}",
                "donation_id": f"dn_{n}",
                "pool_id": "mp_1",
                "amount": 1_000,
                "payer_hash": payer,
            },
            "platform",
            "2026-04-10T00:00:00.000Z",
        )

    entries = journal(
        ("matcher.registered", {"matcher_id": "mt_1", "name": "云岭科技",
                                "registration_no": "M1"}, "platform", "2026-04-01T00:00:00.000Z"),
        ("match_pool.opened", pool, "platform", "2026-04-01T00:00:00.000Z"),
        donation(2), match(2, "0x" + "01" * 32), donation(3), match(3, "0x" + "02" * 32),
        ("disbursement.made", {"disbursement_id": "db_2", "charity_id": "ch_a",
                               "project_id": "pr_a", "amount": 1_000, "currency": "CNY",
                               "payee": "书店", "purpose": "textbooks", "evidence": []}, CH,
         "2026-04-20T00:00:00.000Z"),
        ("allocation.made", {"allocation_id": "al_2", "donation_id": "dn_m2",
                             "disbursement_id": "db_2", "amount": 1_000}, CH,
         "2026-04-20T00:00:00.000Z"),
        ("match.reversed", {"match_id": "dn_m3", "reason": "捐赠已退款"}, "platform",
         "2026-04-21T00:00:00.000Z"),
    )  # fmt: skip
    q2 = compute_report(entries, tree_size=len(entries), period="2026-Q2", project_id="pr_a")
    (flows,) = q2.period_flows
    # Two donations and two matches received; the second match went back to its pool.
    assert (flows.received, flows.donations) == (2 * 2_000 + 2 * 1_000, 4)
    assert (flows.refunded, flows.refunds) == (1_000, 1)
    assert flows.allocated == -6_000 + 1_000  # the Q1 reversal, and the matched money spent
    assert [(r.donation_id, r.amount, r.reason) for r in q2.refunds] == [
        ("dn_m3", 1_000, "捐赠已退款")
    ]
    (cumulative,) = q2.cumulative_flows
    assert cumulative.held == 10_000 + 4_000 + 2_000 - 1_000 - 1_000
