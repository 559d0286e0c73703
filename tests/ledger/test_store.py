"""The store on SQLite and PostgreSQL: appends, proofs, rules, idempotency, projections."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from ledger import merkle
from ledger.entries import Entry
from ledger.errors import AccountingError, EntryError, IdempotencyConflictError, ProofSizeError
from ledger.store import derived as derived_module
from ledger.store import projections
from ledger.store.journal import Store
from ledger.store.requests import CLOCK_TOLERANCE, Draft, FifoAllocation, check_not_ahead
from tests import factories as f


@pytest.fixture
def books(store: Store) -> dict[str, str]:
    """A charity with one project: the ids."""
    charity = f.charity()
    charity_id = charity.body["charity_id"]
    project = f.project(charity_id)
    store.append([charity, project])
    return {"charity_id": charity_id, "project_id": project.body["project_id"]}


def snapshot(store: Store) -> tuple[int, bytes, list[str]]:
    """Everything a failed append must leave as it was."""
    with store.engine.connect() as connection:
        live = projections.read_books(connection)
    return store.size(), store.root(), [repr(live)]


def memory_tree(store: Store) -> merkle.MemoryTree:
    return merkle.MemoryTree.from_leaf_hashes(merkle.leaf_hash(leaf) for leaf in store.leaves())


def test_append_assigns_gapless_seq_from_zero(store: Store, books: dict[str, str]) -> None:
    result = store.append([f.donation(**books) for _ in range(5)])
    assert [e.seq for e in result.entries] == [2, 3, 4, 5, 6]
    assert [e.seq for e in store.entries()] == list(range(7))
    assert store.size() == 7


def test_appended_entry_reads_back_with_the_same_leaf_bytes(
    store: Store, books: dict[str, str]
) -> None:
    (entry,) = store.append([f.donation(**books)]).entries
    assert store.entry(entry.seq) == entry
    assert next(iter(store.leaves(entry.seq))) == entry.leaf_bytes
    assert store.leaf_hash(entry.seq) == merkle.leaf_hash(entry.leaf_bytes)
    assert json.loads(entry.leaf_bytes)["at"].endswith("Z")


def test_root_and_proofs_match_a_fresh_recomputation_at_every_size(
    store: Store, books: dict[str, str]
) -> None:
    for batch in (1, 2, 5, 13, 20):
        store.append([f.donation(**books) for _ in range(batch)])
    tree = memory_tree(store)
    size = store.size()
    assert store.root() == tree.root()
    for n in range(1, size + 1):
        assert store.root(n) == tree.root(n)
        for seq in {0, n // 2, n - 1}:
            proof = store.inclusion_proof(seq, n)
            assert proof == tree.inclusion_proof(seq, n)
            merkle.verify_inclusion(seq, n, store.leaf_hash(seq), proof, store.root(n))
        for first in {1, n // 3 or 1, n}:
            proof = store.consistency_proof(first, n)
            merkle.verify_consistency(first, n, store.root(first), store.root(n), proof)
    assert store.root(0) == merkle.EMPTY_ROOT


def test_proofs_beyond_the_journal_are_refused(store: Store, books: dict[str, str]) -> None:
    with pytest.raises(ProofSizeError):
        store.root(3)
    with pytest.raises(ProofSizeError):
        store.inclusion_proof(2, 2)
    with pytest.raises(ProofSizeError):
        store.consistency_proof(1, 5)


def test_a_root_or_proof_reads_a_logarithmic_number_of_nodes(
    store: Store, books: dict[str, str]
) -> None:
    for _ in range(4):
        store.append([f.donation(**books) for _ in range(250)])
    size = store.size()
    statements: list[Any] = []

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "merkle_node" in statement or "entry" in statement:
            statements.append(parameters)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        for call in (
            lambda: store.root(size - 1),
            lambda: store.inclusion_proof(517, size),
            lambda: store.consistency_proof(333, size),
        ):
            statements.clear()
            call()
            # A size check, then leaf hashes and interior nodes, bounded by the height.
            assert len(statements) <= 3
            values = [v for p in statements for v in (p.values() if isinstance(p, dict) else p)]
            assert len(values) <= 4 * size.bit_length() + 4
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


INVALID_DONATIONS = [
    ({"amount": -1}, "body.amount"),
    ({"amount": 0}, "body.amount"),
    ({"amount": 100.0}, "body.amount"),
    ({"amount": 10**12 + 1}, "body.amount"),
    ({"currency": "XYZ"}, "body.currency"),
    ({"channel": "x" * 40}, "body.channel"),
    ({"paid_at": "yesterday"}, "body.paid_at"),
    ({"donor_commitment": "0x1234"}, "body.donor_commitment"),
    ({"name": "not a field of a donation"}, "body.name"),
]


@pytest.mark.parametrize(("change", "field"), INVALID_DONATIONS)
def test_invalid_entries_are_refused_naming_the_field_and_nothing_is_stored(
    store: Store, books: dict[str, str], change: dict[str, Any], field: str
) -> None:
    before = snapshot(store)
    good = f.donation(**books)
    bad = f.donation(**books)
    bad = Draft(bad.kind, dict(bad.body) | change, bad.actor)
    with pytest.raises(EntryError) as caught:
        store.append([good, bad])
    assert caught.value.field == field
    assert snapshot(store) == before


def test_unknown_kinds_and_overlong_strings_are_refused(
    store: Store, books: dict[str, str]
) -> None:
    before = snapshot(store)
    with pytest.raises(EntryError) as caught:
        store.append([Draft("donation.stolen", {"amount": 1})])
    assert caught.value.field == "kind"
    with pytest.raises(EntryError) as caught:
        store.append([f.charity(name="名" * 201)])
    assert caught.value.field == "body.name"
    with pytest.raises(EntryError) as caught:
        store.append([f.disbursement(**books, purpose="p" * 501)])
    assert caught.value.field == "body.purpose"
    assert snapshot(store) == before


def test_over_allocation_is_refused_and_nothing_is_stored(
    store: Store, books: dict[str, str]
) -> None:
    donation = f.donation(**books, amount=5_000)
    disbursement = f.disbursement(**books, amount=10_000)
    store.append([donation, disbursement])
    before = snapshot(store)
    ids = (books["charity_id"], donation.body["donation_id"], disbursement.body["disbursement_id"])
    with pytest.raises(AccountingError) as caught:
        store.append([f.allocation(*ids, 3_000), f.allocation(*ids, 3_000)])
    assert caught.value.field == "entries[1].body.amount"
    assert "exceeds the 2000 left" in caught.value.message
    assert snapshot(store) == before


def test_refund_of_allocated_money_is_refused_until_the_allocation_is_reversed(
    store: Store, books: dict[str, str]
) -> None:
    donation = f.donation(**books, amount=10_000)
    disbursement = f.disbursement(**books, amount=8_000)
    ids = (books["charity_id"], donation.body["donation_id"], disbursement.body["disbursement_id"])
    allocation = f.allocation(*ids, 8_000)
    store.append([donation, disbursement, allocation])
    before = snapshot(store)
    with pytest.raises(AccountingError) as caught:
        store.append([f.refund(donation.body["donation_id"], 5_000)])
    assert caught.value.field == "entries[0].body.amount"
    assert "reverse the allocation first" in caught.value.message
    assert snapshot(store) == before
    store.append(
        [
            f.reversal(books["charity_id"], allocation.body["allocation_id"]),
            f.refund(donation.body["donation_id"], 5_000),
        ]
    )
    with store.engine.connect() as connection:
        (balance,) = projections.balances(connection, project_id=books["project_id"])
    assert (balance.received, balance.refunded, balance.allocated, balance.held) == (
        10_000,
        5_000,
        0,
        5_000,
    )


def test_a_charity_cannot_write_for_another_charity(store: Store, books: dict[str, str]) -> None:
    other = f.charity()
    store.append([other])
    intruder = f.project(books["charity_id"])
    intruder = Draft(intruder.kind, intruder.body, actor=f"charity:{other.body['charity_id']}")
    with pytest.raises(AccountingError) as caught:
        store.append([intruder])
    assert caught.value.field == "entries[0].actor"


@pytest.mark.parametrize("key", ["pay-1", 'pay\t1\\N\n"2"\r 王'])
def test_repeated_idempotency_key_returns_the_first_result_once(
    store: Store, books: dict[str, str], key: str
) -> None:
    request = [f.donation(**books)]
    first = store.append(request, idempotency_key=key)
    size = store.size()
    again = store.append(request, idempotency_key=key)
    assert again.replayed
    assert not first.replayed
    assert again.entries == first.entries
    assert store.size() == size
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT key FROM idempotency")).scalars().all() == [key]


def test_idempotency_key_reused_for_another_request_is_a_conflict(
    store: Store, books: dict[str, str]
) -> None:
    store.append([f.donation(**books)], idempotency_key="pay-2")
    before = snapshot(store)
    with pytest.raises(IdempotencyConflictError) as caught:
        store.append([f.donation(**books)], idempotency_key="pay-2")
    assert caught.value.key == "pay-2"
    assert snapshot(store) == before


def test_fifo_allocates_the_projects_oldest_donations_then_the_general_fund(
    store: Store, books: dict[str, str]
) -> None:
    general = f.donation(books["charity_id"], None, amount=10_000)
    older = f.donation(**books, amount=3_000)
    newer = f.donation(**books, amount=4_000)
    other_project = f.project(books["charity_id"])
    elsewhere = f.donation(books["charity_id"], other_project.body["project_id"], amount=9_000)
    store.append([general, older, newer, other_project, elsewhere])
    disbursement = f.disbursement(**books, amount=9_000)
    result = store.append(
        [disbursement, FifoAllocation(disbursement.body["disbursement_id"], disbursement.actor)]
    )
    funded = [(e.body["donation_id"], e.body["amount"]) for e in result.entries[1:]]
    assert funded == [
        (older.body["donation_id"], 3_000),
        (newer.body["donation_id"], 4_000),
        (general.body["donation_id"], 2_000),
    ]
    with store.engine.connect() as connection:
        funding = projections.donation_funded(connection, general.body["donation_id"])
    assert [(x.disbursement_id, x.amount) for x in funding] == [
        (disbursement.body["disbursement_id"], 2_000)
    ]


def test_fifo_pages_through_more_donations_than_one_query_returns(
    store: Store, books: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(derived_module, "FIFO_PAGE", 7)  # where the FIFO pages are read
    store.append([f.donation(**books, amount=100) for _ in range(30)])
    disbursement = f.disbursement(**books, amount=2_550)
    result = store.append([disbursement, FifoAllocation(disbursement.body["disbursement_id"])])
    amounts = [e.body["amount"] for e in result.entries[1:]]
    assert amounts == [100] * 25 + [50]
    assert not store.projection_differences()


def test_fifo_covers_what_it_can_when_donations_run_short(
    store: Store, books: dict[str, str]
) -> None:
    store.append([f.donation(**books, amount=1_000)])
    disbursement = f.disbursement(**books, amount=5_000)
    result = store.append([disbursement, FifoAllocation(disbursement.body["disbursement_id"])])
    assert [e.body["amount"] for e in result.entries[1:]] == [1_000]


def test_projections_equal_a_rebuild_from_the_journal(store: Store, books: dict[str, str]) -> None:
    donations = [f.donation(**books, amount=1_000 * (i + 1)) for i in range(4)]
    disbursement = f.disbursement(**books, amount=2_500)
    store.append([*donations, disbursement])
    store.append([FifoAllocation(disbursement.body["disbursement_id"], disbursement.actor)])
    store.append([f.refund(donations[3].body["donation_id"], 1_000)])
    assert store.projection_differences() == []
    with store.engine.connect() as connection:
        (charity_balance,) = projections.balances(connection, charity_id=books["charity_id"])
    assert charity_balance.received == 10_000
    assert charity_balance.refunded == 1_000
    assert charity_balance.allocated == 2_500
    assert charity_balance.disbursed == 2_500
    assert charity_balance.held == 6_500


def test_rebuild_repairs_projections_changed_behind_the_stores_back(
    store: Store, books: dict[str, str]
) -> None:
    store.append([f.donation(**books, amount=1_000)])
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE donation SET amount = 99"))
    differences = store.projection_differences()
    assert len(differences) == 1
    assert "donation" in differences[0]
    store.rebuild_projections()
    assert store.projection_differences() == []


def test_only_entries_that_refer_to_an_existing_id_get_a_timeline_row(
    store: Store, books: dict[str, str]
) -> None:
    charity_id = books["charity_id"]
    donation = f.donation(**books)
    donation_id = donation.body["donation_id"]
    disbursement = f.disbursement(**books, amount=500)
    disbursement_id = disbursement.body["disbursement_id"]
    allocation = f.allocation(charity_id, donation_id, disbursement_id, 500)
    store.append([donation, disbursement, allocation])  # seqs 2, 3, 4
    store.append([f.reversal(charity_id, allocation.body["allocation_id"])])  # 5
    store.append([f.refund(donation_id, 100)])  # 6

    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT ref_id, seq FROM entry_ref")).all()

    # The ids an entry creates are found by their projection rows' seq, not here.
    assert sorted(rows, key=lambda row: (row.seq, row.ref_id)) == sorted(
        [
            (disbursement_id, 4),
            (donation_id, 4),
            (allocation.body["allocation_id"], 5),
            (donation_id, 6),
        ],
        key=lambda row: (row[1], row[0]),
    )


def test_entries_read_back_as_entries(store: Store, books: dict[str, str]) -> None:
    store.append([f.donation(**books)])
    assert all(isinstance(e, Entry) for e in store.entries())
    with pytest.raises(KeyError):
        store.entry(99)


@pytest.mark.parametrize(
    "ahead",
    [
        timedelta(minutes=2, milliseconds=1),
        timedelta(hours=3),
        timedelta(days=365 * 7000),
    ],
)
def test_an_entry_dated_ahead_of_the_clock_is_refused_naming_at_and_nothing_is_stored(
    store: Store, books: dict[str, str], ahead: timedelta
) -> None:
    before = snapshot(store)
    future = min(datetime.now(UTC) + ahead, datetime(9999, 1, 1, tzinfo=UTC))
    with pytest.raises(EntryError) as caught:
        store.append([f.donation(**books)], at=future)
    assert caught.value.field == "at"
    assert "ahead of the clock" in caught.value.message
    assert snapshot(store) == before


def test_the_clock_check_allows_skew_and_the_past_but_no_naive_time() -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    check_not_ahead(None, now)
    check_not_ahead(now - timedelta(days=200), now)
    check_not_ahead(now + CLOCK_TOLERANCE, now)
    with pytest.raises(EntryError, match="ahead of the clock"):
        check_not_ahead(now + CLOCK_TOLERANCE + timedelta(milliseconds=1), now)
    with pytest.raises(EntryError, match="timezone-aware"):
        check_not_ahead(datetime(2026, 12, 5, 12, 0), now)  # naive
