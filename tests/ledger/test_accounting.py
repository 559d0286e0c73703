"""Accounting rules (``ledger.accounting``, DESIGN.md §3.2) over ``Books``.

Books are built only by applying entries made with ``make_entry``, as the store and the
audit do. Every refusal names its field and leaves the books exactly as they were.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ledger.accounting import (
    Books,
    DisbursementState,
    DonationState,
    check_allocation,
    plan_fifo,
)
from ledger.entries import Entry, make_entry
from ledger.errors import AccountingError, EntryError

AT = "2026-11-26T22:41:26.123Z"
HASH = "0x" + "ab" * 32
PLATFORM = "platform"
CH_A = "charity:ch_a"
CH_B = "charity:ch_b"


# -- bodies ---------------------------------------------------------------------------


def charity(charity_id: str) -> dict[str, Any]:
    return {
        "charity_id": charity_id,
        "name": f"基金会 {charity_id}",
        "registration_no": "R-1",
        "signer": None,
    }


def project(project_id: str, charity_id: str = "ch_a", currency: str = "CNY") -> dict[str, Any]:
    return {
        "project_id": project_id,
        "charity_id": charity_id,
        "title": f"项目 {project_id}",
        "goal_amount": 1_000_000,
        "currency": currency,
    }


def donation(
    donation_id: str,
    amount: int = 100,
    *,
    project_id: str | None = "pr_a",
    charity_id: str = "ch_a",
    currency: str = "CNY",
) -> dict[str, Any]:
    return {
        "donation_id": donation_id,
        "charity_id": charity_id,
        "project_id": project_id,
        "amount": amount,
        "currency": currency,
        "channel": "card",
        "paid_at": "2026-11-26T10:00:00Z",
        "donor_commitment": HASH,
        "payment_ref_hash": HASH,
    }


def refund(donation_id: str, amount: int) -> dict[str, Any]:
    return {"donation_id": donation_id, "amount": amount, "reason": "捐赠人申请"}


def disbursement(
    disbursement_id: str,
    amount: int = 100,
    *,
    project_id: str | None = "pr_a",
    charity_id: str = "ch_a",
    currency: str = "CNY",
) -> dict[str, Any]:
    return {
        "disbursement_id": disbursement_id,
        "charity_id": charity_id,
        "project_id": project_id,
        "amount": amount,
        "currency": currency,
        "payee": "某某公司",
        "purpose": "采购",
        "evidence": [{"sha256": HASH, "media_type": "application/pdf", "public": True}],
    }


def void(disbursement_id: str) -> dict[str, Any]:
    return {"disbursement_id": disbursement_id, "reason": "发票有误"}


def allocation(
    allocation_id: str, donation_id: str, disbursement_id: str, amount: int
) -> dict[str, Any]:
    return {
        "allocation_id": allocation_id,
        "donation_id": donation_id,
        "disbursement_id": disbursement_id,
        "amount": amount,
    }


def reversal(allocation_id: str) -> dict[str, Any]:
    return {"allocation_id": allocation_id, "reason": "分配错误"}


# -- a journal that applies what it appends -------------------------------------------


class Journal:
    """Makes entries with gapless ``seq`` and applies them to ``books``."""

    def __init__(self) -> None:
        self.books = Books()
        self.seq = 0

    def entry(self, kind: str, body: dict[str, Any], actor: str) -> Entry:
        return make_entry(kind, body, seq=self.seq, at=AT, actor=actor)

    def add(self, kind: str, body: dict[str, Any], actor: str = PLATFORM) -> Entry:
        entry = self.entry(kind, body, actor)
        self.books.apply(entry)
        self.seq += 1
        return entry

    def refuse(
        self, kind: str, body: dict[str, Any], actor: str = PLATFORM, *, field: str
    ) -> AccountingError:
        """Assert that the entry is refused, naming ``field``, and changes nothing."""
        entry = self.entry(kind, body, actor)
        before = copy.deepcopy(self.books)
        with pytest.raises(AccountingError) as caught:
            self.books.apply(entry)
        assert caught.value.field == field
        assert self.books == before
        return caught.value

    # one helper per kind, each with the actor the rules expect by default

    def charity(self, charity_id: str) -> Entry:
        return self.add("charity.registered", charity(charity_id))

    def project(self, project_id: str, charity_id: str = "ch_a", currency: str = "CNY") -> Entry:
        body = project(project_id, charity_id, currency)
        return self.add("project.opened", body, f"charity:{charity_id}")

    def donation(self, donation_id: str, amount: int = 100, **kwargs: Any) -> Entry:
        return self.add("donation.received", donation(donation_id, amount, **kwargs))

    def refund(self, donation_id: str, amount: int) -> Entry:
        return self.add("donation.refunded", refund(donation_id, amount))

    def disbursement(self, disbursement_id: str, amount: int = 100, **kwargs: Any) -> Entry:
        body = disbursement(disbursement_id, amount, **kwargs)
        return self.add("disbursement.made", body, f"charity:{body['charity_id']}")

    def allocate(
        self,
        allocation_id: str,
        donation_id: str,
        disbursement_id: str,
        amount: int,
        actor: str = CH_A,
    ) -> Entry:
        body = allocation(allocation_id, donation_id, disbursement_id, amount)
        return self.add("allocation.made", body, actor)

    def reverse(self, allocation_id: str, actor: str = CH_A) -> Entry:
        return self.add("allocation.reversed", reversal(allocation_id), actor)

    def void(self, disbursement_id: str, actor: str = CH_A) -> Entry:
        return self.add("disbursement.voided", void(disbursement_id), actor)


@pytest.fixture
def journal() -> Journal:
    """Charities ch_a (CNY pr_a, pr_a2; USD pr_usd) and ch_b (CNY pr_b)."""
    journal = Journal()
    journal.charity("ch_a")
    journal.charity("ch_b")
    journal.project("pr_a")
    journal.project("pr_a2")
    journal.project("pr_usd", currency="USD")
    journal.project("pr_b", charity_id="ch_b")
    return journal


# -- building the books ---------------------------------------------------------------


def test_applied_entries_become_state_with_their_seq(journal: Journal) -> None:
    journal.donation("dn_1", 300)
    journal.disbursement("db_1", 200)
    journal.allocate("al_1", "dn_1", "db_1", 150)
    books = journal.books

    assert books.charities["ch_a"].name == "基金会 ch_a"
    assert books.projects["pr_usd"].currency == "USD"
    assert books.donations["dn_1"].seq == 6
    assert (books.donations["dn_1"].allocated, books.donations["dn_1"].available) == (150, 150)
    assert (books.disbursements["db_1"].allocated, books.disbursements["db_1"].unfunded) == (
        150,
        50,
    )
    assert books.allocations["al_1"].amount == 150
    assert books.allocations["al_1"].seq == 8


def test_created_and_changed_record_what_a_batch_touched(journal: Journal) -> None:
    journal.donation("dn_1", 300)
    journal.disbursement("db_1", 200)
    books = journal.books
    books.created.clear()
    books.changed.clear()

    journal.allocate("al_1", "dn_1", "db_1", 150)

    assert books.created == [books.allocations["al_1"]]
    changed = list(books.changed.values())
    assert books.donations["dn_1"] in changed
    assert books.disbursements["db_1"] in changed


# -- existence, ownership, currency ---------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "actor", "field"),
    [
        ("charity.registered", charity("ch_a"), PLATFORM, "body.charity_id"),
        ("project.opened", project("pr_a"), CH_A, "body.project_id"),
        ("donation.received", donation("dn_1"), PLATFORM, "body.donation_id"),
        ("disbursement.made", disbursement("db_1"), CH_A, "body.disbursement_id"),
        ("allocation.made", allocation("al_1", "dn_2", "db_2", 1), CH_A, "body.allocation_id"),
    ],
)
def test_a_duplicate_id_is_refused(
    journal: Journal, kind: str, body: dict[str, Any], actor: str, field: str
) -> None:
    journal.donation("dn_1")
    journal.donation("dn_2")
    journal.disbursement("db_1")
    journal.disbursement("db_2")
    journal.allocate("al_1", "dn_1", "db_1", 50)

    journal.refuse(kind, body, actor, field=field)


@pytest.mark.parametrize(
    ("kind", "body", "actor", "field"),
    [
        ("project.opened", project("pr_x", "ch_zz"), "charity:ch_zz", "body.charity_id"),
        ("donation.received", donation("dn_x", charity_id="ch_zz"), PLATFORM, "body.charity_id"),
        ("donation.received", donation("dn_x", project_id="pr_zz"), PLATFORM, "body.project_id"),
        ("donation.refunded", refund("dn_zz", 1), PLATFORM, "body.donation_id"),
        ("disbursement.made", disbursement("db_x", charity_id="ch_zz"), CH_A, "body.charity_id"),
        ("disbursement.made", disbursement("db_x", project_id="pr_zz"), CH_A, "body.project_id"),
        ("disbursement.voided", void("db_zz"), CH_A, "body.disbursement_id"),
        ("allocation.made", allocation("al_x", "dn_zz", "db_1", 1), CH_A, "body.donation_id"),
        ("allocation.made", allocation("al_x", "dn_1", "db_zz", 1), CH_A, "body.disbursement_id"),
        ("allocation.reversed", reversal("al_zz"), CH_A, "body.allocation_id"),
    ],
)
def test_a_reference_to_something_unknown_is_refused(
    journal: Journal, kind: str, body: dict[str, Any], actor: str, field: str
) -> None:
    journal.donation("dn_1")
    journal.disbursement("db_1")

    error = journal.refuse(kind, body, actor, field=field)
    assert "zz" in error.message


@pytest.mark.parametrize(
    ("kind", "body", "actor"),
    [
        ("donation.received", donation("dn_x", project_id="pr_b"), PLATFORM),
        ("disbursement.made", disbursement("db_x", project_id="pr_b"), CH_A),
    ],
)
def test_a_project_of_another_charity_is_refused(
    journal: Journal, kind: str, body: dict[str, Any], actor: str
) -> None:
    error = journal.refuse(kind, body, actor, field="body.project_id")
    assert "another charity" in error.message


@pytest.mark.parametrize(
    ("kind", "body", "actor"),
    [
        ("donation.received", donation("dn_x", currency="USD"), PLATFORM),
        ("donation.received", donation("dn_x", project_id="pr_usd"), PLATFORM),
        ("disbursement.made", disbursement("db_x", currency="EUR"), CH_A),
        ("disbursement.made", disbursement("db_x", project_id="pr_usd"), CH_A),
    ],
)
def test_a_currency_other_than_the_projects_is_refused(
    journal: Journal, kind: str, body: dict[str, Any], actor: str
) -> None:
    journal.refuse(kind, body, actor, field="body.currency")


def test_the_general_fund_takes_any_currency(journal: Journal) -> None:
    journal.donation("dn_usd", currency="USD", project_id=None)
    journal.disbursement("db_eur", currency="EUR", project_id=None)

    assert journal.books.donations["dn_usd"].currency == "USD"
    assert journal.books.disbursements["db_eur"].currency == "EUR"


# -- who may write what ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "actor"),
    [
        pytest.param("charity.registered", charity("ch_c"), CH_A, id="charity-registers-charity"),
        pytest.param("project.opened", project("pr_x"), CH_B, id="opens-anothers-project"),
        pytest.param(
            "project.opened", project("pr_x"), "charity:ch_zz", id="unregistered-opens-project"
        ),
        pytest.param("donation.received", donation("dn_x"), CH_A, id="charity-records-donation"),
        pytest.param("donation.refunded", refund("dn_1", 1), CH_A, id="charity-refunds"),
        pytest.param("disbursement.made", disbursement("db_x"), CH_B, id="disburses-for-another"),
        pytest.param("disbursement.voided", void("db_1"), CH_B, id="voids-anothers"),
        pytest.param(
            "allocation.made", allocation("al_x", "dn_1", "db_1", 1), CH_B, id="allocates-anothers"
        ),
        pytest.param("allocation.reversed", reversal("al_1"), CH_B, id="reverses-anothers"),
    ],
)
def test_an_actor_writing_what_it_may_not_is_refused(
    journal: Journal, kind: str, body: dict[str, Any], actor: str
) -> None:
    journal.donation("dn_1")
    journal.disbursement("db_1")
    journal.allocate("al_1", "dn_1", "db_1", 10)

    error = journal.refuse(kind, body, actor, field="actor")
    assert actor in error.message


def test_a_charity_writes_its_own_projects_disbursements_and_allocations(
    journal: Journal,
) -> None:
    journal.add("project.opened", project("pr_new"), CH_A)
    journal.donation("dn_1", project_id="pr_new")
    journal.add("disbursement.made", disbursement("db_1", project_id="pr_new"), CH_A)
    journal.add("allocation.made", allocation("al_1", "dn_1", "db_1", 100), CH_A)
    journal.add("allocation.reversed", reversal("al_1"), CH_A)
    journal.add("disbursement.voided", void("db_1"), CH_A)
    journal.add("project.opened", project("pr_b2", "ch_b"), CH_B)

    books = journal.books
    assert books.projects["pr_new"].charity_id == "ch_a"
    assert books.projects["pr_b2"].charity_id == "ch_b"
    assert books.allocations["al_1"].reversed
    assert books.disbursements["db_1"].voided


def test_the_platform_may_also_write_a_charitys_entries(journal: Journal) -> None:
    # ADR 0003: projects, disbursements, allocations, reversals and voids may be written
    # by the platform or by the charity itself, never by another charity.
    journal.add("project.opened", project("pr_new"), PLATFORM)
    journal.add("donation.received", donation("dn_1", project_id="pr_new"), PLATFORM)
    journal.add("disbursement.made", disbursement("db_1", project_id="pr_new"), PLATFORM)
    journal.add("allocation.made", allocation("al_1", "dn_1", "db_1", 100), PLATFORM)
    journal.add("allocation.reversed", reversal("al_1"), PLATFORM)
    journal.add("disbursement.voided", void("db_1"), PLATFORM)

    assert journal.books.disbursements["db_1"].voided


def test_the_platform_registers_charities_and_records_donations_and_refunds(
    journal: Journal,
) -> None:
    journal.add("charity.registered", charity("ch_c"), PLATFORM)
    journal.add("donation.received", donation("dn_1", charity_id="ch_c", project_id=None))
    journal.add("donation.refunded", refund("dn_1", 40), PLATFORM)

    assert "ch_c" in journal.books.charities
    assert journal.books.donations["dn_1"].refunded == 40


# -- how much may be allocated --------------------------------------------------------


def test_a_donations_allocations_never_exceed_its_amount(journal: Journal) -> None:
    journal.donation("dn_1", 100)
    journal.disbursement("db_1", 100)
    journal.disbursement("db_2", 100)
    journal.allocate("al_1", "dn_1", "db_1", 60)

    error = journal.refuse(
        "allocation.made", allocation("al_2", "dn_1", "db_2", 41), CH_A, field="body.amount"
    )
    assert "40" in error.message
    journal.allocate("al_2", "dn_1", "db_2", 40)
    assert journal.books.donations["dn_1"].available == 0


def test_a_reversal_gives_the_donation_its_money_back(journal: Journal) -> None:
    journal.donation("dn_1", 100)
    journal.disbursement("db_1", 100)
    journal.disbursement("db_2", 100)
    journal.allocate("al_1", "dn_1", "db_1", 60)
    journal.refuse(
        "allocation.made", allocation("al_2", "dn_1", "db_2", 100), CH_A, field="body.amount"
    )

    journal.reverse("al_1")
    journal.allocate("al_2", "dn_1", "db_2", 100)

    assert journal.books.donations["dn_1"].allocated == 100
    assert journal.books.disbursements["db_1"].allocated == 0


def test_a_donations_allocations_never_exceed_its_amount_less_refunds(journal: Journal) -> None:
    journal.donation("dn_1", 100)
    journal.disbursement("db_1", 100)
    journal.refund("dn_1", 30)

    journal.refuse(
        "allocation.made", allocation("al_1", "dn_1", "db_1", 71), CH_A, field="body.amount"
    )
    journal.allocate("al_1", "dn_1", "db_1", 70)
    assert journal.books.donations["dn_1"].available == 0


def test_a_disbursements_allocations_never_exceed_its_amount(journal: Journal) -> None:
    journal.donation("dn_1", 80)
    journal.donation("dn_2", 80)
    journal.disbursement("db_1", 100)
    journal.allocate("al_1", "dn_1", "db_1", 80)

    error = journal.refuse(
        "allocation.made", allocation("al_2", "dn_2", "db_1", 21), CH_A, field="body.amount"
    )
    assert "20" in error.message
    journal.allocate("al_2", "dn_2", "db_1", 20)
    assert journal.books.disbursements["db_1"].unfunded == 0


@pytest.mark.parametrize(
    "disbursement_kwargs",
    [
        pytest.param({"project_id": "pr_a2"}, id="another-project"),
        pytest.param({"project_id": None}, id="general-disbursement"),
    ],
)
def test_an_earmarked_donation_funds_only_its_projects_disbursements(
    journal: Journal, disbursement_kwargs: dict[str, Any]
) -> None:
    journal.donation("dn_1", project_id="pr_a")
    journal.disbursement("db_x", **disbursement_kwargs)

    error = journal.refuse(
        "allocation.made", allocation("al_1", "dn_1", "db_x", 10), CH_A, field="body.donation_id"
    )
    assert "earmarked" in error.message


@pytest.mark.parametrize("project_id", ["pr_a", "pr_a2", None])
def test_a_general_fund_donation_funds_any_disbursement_of_its_charity(
    journal: Journal, project_id: str | None
) -> None:
    journal.donation("dn_general", project_id=None)
    journal.disbursement("db_1", project_id=project_id)

    journal.allocate("al_1", "dn_general", "db_1", 100)

    assert journal.books.disbursements["db_1"].unfunded == 0


def test_a_donation_to_another_charity_funds_nothing_here(journal: Journal) -> None:
    journal.donation("dn_b", charity_id="ch_b", project_id=None)
    journal.disbursement("db_1")

    error = journal.refuse(
        "allocation.made", allocation("al_1", "dn_b", "db_1", 10), CH_A, field="body.donation_id"
    )
    assert "another charity" in error.message


@pytest.mark.parametrize("project_id", ["pr_usd", None])
def test_a_donation_funds_only_a_disbursement_in_its_currency(
    journal: Journal, project_id: str | None
) -> None:
    journal.donation("dn_cny", project_id=None, currency="CNY")
    journal.disbursement("db_usd", project_id=project_id, currency="USD")

    error = journal.refuse(
        "allocation.made",
        allocation("al_1", "dn_cny", "db_usd", 10),
        CH_A,
        field="body.donation_id",
    )
    assert "CNY" in error.message
    assert "USD" in error.message


# -- refunds --------------------------------------------------------------------------


def test_a_refund_cannot_take_back_allocated_money_until_the_allocation_is_reversed(
    journal: Journal,
) -> None:
    journal.donation("dn_1", 100)
    journal.disbursement("db_1", 100)
    journal.allocate("al_1", "dn_1", "db_1", 80)

    error = journal.refuse("donation.refunded", refund("dn_1", 30), field="body.amount")
    assert "reverse the allocation first" in error.message
    journal.refund("dn_1", 20)
    journal.refuse("donation.refunded", refund("dn_1", 1), field="body.amount")

    journal.reverse("al_1")
    journal.refund("dn_1", 80)

    assert journal.books.donations["dn_1"].refunded == 100
    assert journal.books.donations["dn_1"].available == 0


@pytest.mark.parametrize(("first", "second"), [(0, 101), (60, 41), (100, 1)])
def test_refunds_beyond_the_amount_are_refused(journal: Journal, first: int, second: int) -> None:
    journal.donation("dn_1", 100)
    if first:
        journal.refund("dn_1", first)

    error = journal.refuse("donation.refunded", refund("dn_1", second), field="body.amount")
    assert "exceeds" in error.message


def test_a_donation_may_be_refunded_in_parts_up_to_its_amount(journal: Journal) -> None:
    journal.donation("dn_1", 100)
    journal.refund("dn_1", 60)
    journal.refund("dn_1", 40)
    assert journal.books.donations["dn_1"].refunded == 100


# -- voids and reversals --------------------------------------------------------------


def test_voiding_a_disbursement_with_live_allocations_is_refused_until_they_are_reversed(
    journal: Journal,
) -> None:
    journal.donation("dn_1", 100)
    journal.disbursement("db_1", 100)
    journal.allocate("al_1", "dn_1", "db_1", 70)

    error = journal.refuse("disbursement.voided", void("db_1"), CH_A, field="body.disbursement_id")
    assert "reverse" in error.message

    journal.reverse("al_1")
    journal.void("db_1")
    assert journal.books.disbursements["db_1"].voided
    assert journal.books.disbursements["db_1"].unfunded == 0
    assert journal.books.donations["dn_1"].available == 100


def test_voiding_twice_is_refused(journal: Journal) -> None:
    journal.disbursement("db_1")
    journal.void("db_1")

    error = journal.refuse("disbursement.voided", void("db_1"), CH_A, field="body.disbursement_id")
    assert "already voided" in error.message


def test_allocating_to_a_voided_disbursement_is_refused(journal: Journal) -> None:
    journal.donation("dn_1")
    journal.disbursement("db_1")
    journal.void("db_1")

    error = journal.refuse(
        "allocation.made",
        allocation("al_1", "dn_1", "db_1", 10),
        CH_A,
        field="body.disbursement_id",
    )
    assert "voided" in error.message


def test_reversing_twice_is_refused(journal: Journal) -> None:
    journal.donation("dn_1")
    journal.disbursement("db_1")
    journal.allocate("al_1", "dn_1", "db_1", 10)
    journal.reverse("al_1")

    error = journal.refuse(
        "allocation.reversed", reversal("al_1"), CH_A, field="body.allocation_id"
    )
    assert "already reversed" in error.message
    assert journal.books.donations["dn_1"].allocated == 0


def test_a_reversed_allocations_id_cannot_be_used_again(journal: Journal) -> None:
    journal.donation("dn_1")
    journal.disbursement("db_1")
    journal.allocate("al_1", "dn_1", "db_1", 10)
    journal.reverse("al_1")

    journal.refuse(
        "allocation.made",
        allocation("al_1", "dn_1", "db_1", 10),
        CH_A,
        field="body.allocation_id",
    )


# -- a failed apply changes nothing ---------------------------------------------------


def test_a_failed_apply_changes_nothing_not_even_the_batch_records(journal: Journal) -> None:
    journal.donation("dn_1", 100)
    journal.disbursement("db_1", 100)
    journal.allocate("al_1", "dn_1", "db_1", 50)
    failing = [
        journal.entry("allocation.made", allocation("al_2", "dn_1", "db_1", 51), CH_A),
        journal.entry("donation.refunded", refund("dn_1", 51), PLATFORM),
        journal.entry("disbursement.voided", void("db_1"), CH_A),
        journal.entry("allocation.reversed", reversal("al_1"), CH_B),
        journal.entry("project.opened", project("pr_x"), CH_B),
    ]
    before = copy.deepcopy(journal.books)
    created, changed = list(journal.books.created), dict(journal.books.changed)

    for entry in failing:
        with pytest.raises(AccountingError):
            journal.books.apply(entry)

    assert journal.books == before
    assert journal.books.created == created
    assert journal.books.changed == changed


def test_an_accounting_error_is_an_entry_error() -> None:
    assert issubclass(AccountingError, EntryError)


def test_apply_all_stops_at_the_first_refused_entry() -> None:
    journal = Journal()
    entries = [
        journal.entry("charity.registered", charity("ch_a"), PLATFORM),
        journal.entry("charity.registered", charity("ch_a"), PLATFORM),
        journal.entry("charity.registered", charity("ch_b"), PLATFORM),
    ]
    with pytest.raises(AccountingError):
        journal.books.apply_all(entries)
    assert list(journal.books.charities) == ["ch_a"]


# -- check_allocation and plan_fifo ---------------------------------------------------


def donation_state(
    donation_id: str,
    amount: int,
    *,
    project_id: str | None = "pr_a",
    charity_id: str = "ch_a",
    currency: str = "CNY",
    seq: int = 0,
    allocated: int = 0,
    refunded: int = 0,
) -> DonationState:
    return DonationState(
        donation_id=donation_id,
        charity_id=charity_id,
        project_id=project_id,
        amount=amount,
        currency=currency,
        channel="card",
        paid_at=AT,
        seq=seq,
        allocated=allocated,
        refunded=refunded,
    )


def disbursement_state(
    amount: int, *, project_id: str | None = "pr_a", allocated: int = 0, voided: bool = False
) -> DisbursementState:
    return DisbursementState(
        disbursement_id="db_1",
        charity_id="ch_a",
        project_id=project_id,
        amount=amount,
        currency="CNY",
        payee="某某公司",
        purpose="采购",
        seq=0,
        allocated=allocated,
        voided=voided,
    )


def planned(plan: list[tuple[DonationState, int]]) -> list[tuple[str, int]]:
    return [(donation.donation_id, amount) for donation, amount in plan]


def test_check_allocation_accepts_exactly_what_is_left() -> None:
    check_allocation(donation_state("dn_1", 100, allocated=40), disbursement_state(60), 60)
    with pytest.raises(AccountingError) as caught:
        check_allocation(donation_state("dn_1", 100, allocated=41), disbursement_state(60), 60)
    assert caught.value.field == "body.amount"


def test_plan_fifo_takes_the_projects_donations_oldest_first_then_the_general_fund() -> None:
    candidates = [
        donation_state("dn_old", 300, seq=1),
        donation_state("dn_new", 400, seq=5),
        donation_state("dn_gen_old", 500, project_id=None, seq=2),
        donation_state("dn_gen_new", 500, project_id=None, seq=6),
    ]

    plan = plan_fifo(disbursement_state(1000), candidates)

    assert planned(plan) == [("dn_old", 300), ("dn_new", 400), ("dn_gen_old", 300)]


def test_plan_fifo_takes_only_what_is_left_of_a_donation() -> None:
    candidates = [
        donation_state("dn_1", 300, allocated=100, refunded=50),
        donation_state("dn_2", 300),
    ]
    assert planned(plan_fifo(disbursement_state(400), candidates)) == [("dn_1", 150), ("dn_2", 250)]


def test_plan_fifo_skips_donations_that_may_not_fund_the_disbursement() -> None:
    candidates = [
        donation_state("dn_other_project", 500, project_id="pr_a2"),
        donation_state("dn_usd", 500, currency="USD"),
        donation_state("dn_other_charity", 500, charity_id="ch_b"),
        donation_state("dn_exhausted", 500, allocated=500),
        donation_state("dn_refunded", 500, refunded=500),
        donation_state("dn_ok", 100),
        donation_state("dn_gen_usd", 500, project_id=None, currency="USD"),
        donation_state("dn_gen", 500, project_id=None),
    ]

    plan = plan_fifo(disbursement_state(300), candidates)

    assert planned(plan) == [("dn_ok", 100), ("dn_gen", 200)]


def test_plan_fifo_covers_part_when_money_is_short() -> None:
    candidates = [donation_state("dn_1", 100), donation_state("dn_2", 50, project_id=None)]

    plan = plan_fifo(disbursement_state(1000), candidates)

    assert planned(plan) == [("dn_1", 100), ("dn_2", 50)]
    assert sum(amount for _, amount in plan) == 150


def test_plan_fifo_plans_only_the_unfunded_part() -> None:
    candidates = [donation_state("dn_1", 1000)]
    assert planned(plan_fifo(disbursement_state(500, allocated=450), candidates)) == [("dn_1", 50)]


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(disbursement_state(500, voided=True), id="voided"),
        pytest.param(disbursement_state(500, allocated=500), id="fully-funded"),
    ],
)
def test_plan_fifo_plans_nothing_for_a_disbursement_that_needs_nothing(
    target: DisbursementState,
) -> None:
    assert plan_fifo(target, [donation_state("dn_1", 1000)]) == []


def test_plan_fifo_for_a_general_disbursement_uses_only_the_general_fund() -> None:
    candidates = [
        donation_state("dn_earmarked", 500),
        donation_state("dn_gen", 500, project_id=None),
    ]
    assert planned(plan_fifo(disbursement_state(300, project_id=None), candidates)) == [
        ("dn_gen", 300)
    ]


def test_plan_fifo_uses_candidates_in_the_order_given() -> None:
    # Ordering is the caller's job (ledger.store.derived.load_fifo_candidates).
    candidates = [donation_state("dn_gen", 500, project_id=None), donation_state("dn_1", 500)]
    assert planned(plan_fifo(disbursement_state(300), candidates)) == [("dn_gen", 300)]


def test_a_fifo_plan_applies_as_allocations(journal: Journal) -> None:
    journal.donation("dn_old", 300)
    journal.donation("dn_other", 900, project_id="pr_a2")
    journal.donation("dn_gen", 500, project_id=None)
    journal.donation("dn_new", 400)
    journal.disbursement("db_1", 1000)
    books = journal.books
    candidates = [books.donations[d] for d in ("dn_old", "dn_new", "dn_other", "dn_gen")]

    plan = plan_fifo(books.disbursements["db_1"], candidates)
    for number, (state, amount) in enumerate(plan):
        journal.allocate(f"al_{number}", state.donation_id, "db_1", amount)

    assert planned(plan) == [("dn_old", 300), ("dn_new", 400), ("dn_gen", 300)]
    assert books.disbursements["db_1"].unfunded == 0
    assert books.donations["dn_other"].allocated == 0


# -- random operations keep the invariants --------------------------------------------

AMOUNTS = st.integers(min_value=1, max_value=150)
VALID_PLACES = st.sampled_from(
    [
        ("ch_a", "pr_a", "CNY"),
        ("ch_a", None, "CNY"),
        ("ch_a", "pr_usd", "USD"),
        ("ch_b", "pr_b", "CNY"),
    ]
)
ANY_PLACE = st.tuples(
    st.sampled_from(["ch_a", "ch_b"]),
    st.sampled_from(["pr_a", "pr_a2", "pr_b", "pr_usd", None]),
    st.sampled_from(["CNY", "USD", "EUR"]),
)
PLACES = st.one_of(VALID_PLACES, VALID_PLACES, VALID_PLACES, ANY_PLACE)
"""Where money is: (charity, project, currency); mostly consistent, sometimes anything."""
OWN = "own"
"""The actor of the charity that owns the disbursement (when there is one)."""
ACTORS = st.sampled_from([OWN, OWN, OWN, PLATFORM, CH_A, CH_B])


class BooksMachine(RuleBasedStateMachine):
    """Random valid and invalid entries; a refused one changes nothing.

    Rules pick ids mostly among what the books hold (so that allocations, reversals,
    refunds and voids often apply) and sometimes an id that does not exist.
    """

    def __init__(self) -> None:
        super().__init__()
        self.journal = Journal()
        self.counter = 0
        self.applied = 0

    @initialize()
    def open_charities_and_projects(self) -> None:
        self.journal.charity("ch_a")
        self.journal.charity("ch_b")
        self.journal.project("pr_a")
        self.journal.project("pr_a2")
        self.journal.project("pr_usd", currency="USD")
        self.journal.project("pr_b", charity_id="ch_b")
        self.applied = self.journal.seq

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    @staticmethod
    def pick(data: st.DataObject, known: Iterable[str], prefix: str) -> str:
        """One of the ``known`` ids, or (less often) one that does not exist."""
        choices = sorted(known) * 4 + [f"{prefix}_zz"]
        return data.draw(st.sampled_from(choices))

    def actor_for(self, actor: str, disbursement_id: str) -> str:
        if actor != OWN:
            return actor
        target = self.journal.books.disbursements.get(disbursement_id)
        return CH_A if target is None else f"charity:{target.charity_id}"

    def attempt(self, kind: str, body: dict[str, Any], actor: str) -> bool:
        entry = self.journal.entry(kind, body, actor)
        before = copy.deepcopy(self.journal.books)
        try:
            self.journal.books.apply(entry)
        except AccountingError as error:
            assert self.journal.books == before
            event(f"{kind} refused: {error.field}")
            return False
        event(f"{kind} applied")
        self.journal.seq += 1
        self.applied += 1
        return True

    @rule(place=PLACES, amount=AMOUNTS)
    def receive(self, place: tuple[str, str | None, str], amount: int) -> None:
        charity_id, project_id, currency = place
        body = donation(
            self.new_id("dn"),
            amount,
            project_id=project_id,
            charity_id=charity_id,
            currency=currency,
        )
        self.attempt("donation.received", body, PLATFORM)

    @rule(data=st.data())
    def receive_again(self, data: st.DataObject) -> None:
        donation_id = self.pick(data, self.journal.books.donations, "dn")
        existed = donation_id in self.journal.books.donations
        assert self.attempt("donation.received", donation(donation_id), PLATFORM) != existed

    @rule(place=PLACES, amount=AMOUNTS, actor=ACTORS)
    def disburse(self, place: tuple[str, str | None, str], amount: int, actor: str) -> None:
        charity_id, project_id, currency = place
        body = disbursement(
            self.new_id("db"),
            amount,
            project_id=project_id,
            charity_id=charity_id,
            currency=currency,
        )
        self.attempt("disbursement.made", body, f"charity:{charity_id}" if actor == OWN else actor)

    @rule(data=st.data(), amount=AMOUNTS, actor=ACTORS)
    def allocate(self, data: st.DataObject, amount: int, actor: str) -> None:
        books = self.journal.books
        donation_id = self.pick(data, books.donations, "dn")
        disbursement_id = self.pick(data, books.disbursements, "db")
        body = allocation(self.new_id("al"), donation_id, disbursement_id, amount)
        self.attempt("allocation.made", body, self.actor_for(actor, disbursement_id))

    @rule(data=st.data(), actor=ACTORS)
    def reverse(self, data: st.DataObject, actor: str) -> None:
        allocation_id = self.pick(data, self.journal.books.allocations, "al")
        state = self.journal.books.allocations.get(allocation_id)
        own = self.actor_for(actor, "db_zz" if state is None else state.disbursement_id)
        self.attempt("allocation.reversed", reversal(allocation_id), own)

    @rule(data=st.data(), amount=AMOUNTS, actor=st.sampled_from([PLATFORM, PLATFORM, CH_A]))
    def refund(self, data: st.DataObject, amount: int, actor: str) -> None:
        donation_id = self.pick(data, self.journal.books.donations, "dn")
        self.attempt("donation.refunded", refund(donation_id, amount), actor)

    @rule(data=st.data(), actor=ACTORS)
    def void(self, data: st.DataObject, actor: str) -> None:
        disbursement_id = self.pick(data, self.journal.books.disbursements, "db")
        actor = self.actor_for(actor, disbursement_id)
        self.attempt("disbursement.voided", void(disbursement_id), actor)

    @rule(data=st.data())
    def fund_by_fifo(self, data: st.DataObject) -> None:
        books = self.journal.books
        target = books.disbursements.get(self.pick(data, books.disbursements, "db"))
        if target is None:
            return
        candidates = sorted(books.donations.values(), key=lambda d: (d.project_id is None, d.seq))
        plan = plan_fifo(target, candidates)
        assert sum(amount for _, amount in plan) <= target.unfunded
        for state, amount in plan:
            body = allocation(self.new_id("al"), state.donation_id, target.disbursement_id, amount)
            assert self.attempt("allocation.made", body, f"charity:{target.charity_id}")

    @invariant()
    def donations_are_never_over_allocated_or_over_refunded(self) -> None:
        for state in self.journal.books.donations.values():
            assert 0 <= state.refunded <= state.amount
            assert 0 <= state.allocated <= state.amount - state.refunded

    @invariant()
    def disbursements_are_never_over_funded_and_voided_ones_hold_nothing(self) -> None:
        for state in self.journal.books.disbursements.values():
            assert 0 <= state.allocated <= state.amount
            if state.voided:
                assert state.allocated == 0

    @invariant()
    def live_allocations_add_up_to_what_donations_and_disbursements_record(self) -> None:
        books = self.journal.books
        per_donation = dict.fromkeys(books.donations, 0)
        per_disbursement = dict.fromkeys(books.disbursements, 0)
        for state in books.allocations.values():
            if not state.reversed:
                per_donation[state.donation_id] += state.amount
                per_disbursement[state.disbursement_id] += state.amount
        assert per_donation == {d: s.allocated for d, s in books.donations.items()}
        assert per_disbursement == {d: s.allocated for d, s in books.disbursements.items()}

    @invariant()
    def seq_advances_only_when_an_entry_is_applied(self) -> None:
        assert self.journal.seq == self.applied


BooksMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)
test_random_operations_keep_the_invariants = BooksMachine.TestCase


# -- many donations at once (the audit's replay) ----------------------------------------

donation_drafts = st.lists(
    st.tuples(
        st.sampled_from(["dn_1", "dn_2", "dn_3", "dn_4", "dn_old"]),
        st.sampled_from(["ch_a", "ch_b", "ch_x"]),
        st.sampled_from(["pr_a", "pr_usd", "pr_b", "pr_x", None]),
        st.sampled_from(["CNY", "USD"]),
        st.sampled_from([PLATFORM, PLATFORM, PLATFORM, CH_A]),
    ),
    max_size=5,
)


@settings(max_examples=300)
@given(donation_drafts)
def test_donations_at_once_are_applied_exactly_when_one_by_one_all_would_be(
    drafts: list[tuple[str, str, str | None, str, str]],
) -> None:
    def fresh() -> Journal:
        journal = Journal()
        for charity_id in ("ch_a", "ch_b"):
            journal.charity(charity_id)
        journal.project("pr_a")
        journal.project("pr_usd", currency="USD")
        journal.project("pr_b", charity_id="ch_b")
        journal.donation("dn_old", project_id=None)
        return journal

    one_by_one, at_once = fresh(), fresh()
    entries = [
        one_by_one.entry(
            "donation.received",
            donation(
                donation_id,
                100 + n,
                project_id=project_id,
                charity_id=charity_id,
                currency=currency,
            ),
            actor,
        )
        for n, (donation_id, charity_id, project_id, currency, actor) in enumerate(drafts)
    ]
    try:
        for entry in entries:
            one_by_one.books.apply(entry)
        all_kept = True
    except AccountingError:
        all_kept = False
    before = copy.deepcopy(at_once.books)
    applied = at_once.books.receive_donations(
        *(
            [column(entry) for entry in entries]
            for column in (
                lambda e: e.seq,
                lambda e: e.actor,
                lambda e: e.body["donation_id"],
                lambda e: e.body["charity_id"],
                lambda e: e.body["project_id"],
                lambda e: e.body["amount"],
                lambda e: e.body["currency"],
                lambda e: e.body["channel"],
                lambda e: e.body["paid_at"],
            )
        )
    )
    event(f"applied: {applied}")
    assert applied == all_kept
    assert at_once.books == (one_by_one.books if applied else before)


def test_donations_at_once_need_columns_of_one_length() -> None:
    with pytest.raises(ValueError, match="one length"):
        Books().receive_donations([0], [], [], [], [], [], [], [], [])
