"""Rows sent while a batch is still being built (``EntryWriter``).

On PostgreSQL the new donations' rows go out in chunks while the batch is applied to the
books, before the batch knows how it ends: a later request may refund one of them, and
the batch's only request may still fail after some of its rows were sent. Each test
holds the stored rows to what appending one by one would leave (``Store.verify``
rebuilds the projections from the journal and compares).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger.errors import AccountingError
from ledger.store import derived, writes
from ledger.store.journal import Store
from ledger.store.requests import AppendRequest, AppendResult, Draft, FifoAllocation
from ledger.store.tables import DONATION
from tests import factories as f

MANY = 3 * writes.ENTRY_CHUNK // 2
"""More donations than a chunk: some rows are sent before the batch is built."""


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Donation rows each COPY chunk sent, in order."""
    chunks: list[int] = []
    original = writes.EntryWriter._send_donations

    def counted(writer: writes.EntryWriter) -> None:
        chunks.append(len(writer._donations))
        original(writer)

    monkeypatch.setattr(writes.EntryWriter, "_send_donations", counted)
    return chunks


@pytest.fixture
def books(store: Store) -> tuple[Store, str, str]:
    charity = f.charity()
    project = f.project(charity.body["charity_id"])
    store.append([charity, project])
    return store, charity.body["charity_id"], project.body["project_id"]


def donation_row(store: Store, donation_id: str) -> dict[str, object]:
    with store.engine.connect() as connection:
        row = connection.execute(
            select(DONATION).where(DONATION.c.donation_id == donation_id)
        ).one()
    return dict(row._mapping)


def donation_rows(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(DONATION)).scalar_one())


def assert_stored_as_appended_one_by_one(store: Store) -> None:
    verification = store.verify()
    assert verification.ok, verification.problems
    assert store.projection_differences() == []


def sent_during_the_build(store: Store, chunks: list[int], *, closed: bool = True) -> None:
    """On PostgreSQL, rows went out before the batch was built: a chunk before the one
    the close sends (if the batch got that far)."""
    if store.engine.dialect.name == "postgresql":
        assert len([c for c in chunks if c]) >= 1 + closed, chunks


def test_a_donation_refunded_later_in_its_batch_is_stored_refunded(
    books: tuple[Store, str, str], sent: list[int]
) -> None:
    store, charity_id, project_id = books
    donations = [f.donation(charity_id, project_id, amount=1_000 + i) for i in range(MANY)]
    refunded = donations[3].body["donation_id"]
    outcome = store.append_batch(
        [AppendRequest([d]) for d in donations] + [AppendRequest([f.refund(refunded, 400)])]
    )
    assert all(isinstance(r, AppendResult) for r in outcome.results), outcome.results
    assert not outcome.fell_back
    sent_during_the_build(store, sent)
    assert donation_row(store, refunded)["refunded"] == 400
    assert donation_row(store, donations[4].body["donation_id"])["refunded"] == 0
    assert_stored_as_appended_one_by_one(store)


def test_one_append_that_refunds_its_own_first_donation_stores_it_refunded(
    books: tuple[Store, str, str], sent: list[int]
) -> None:
    store, charity_id, project_id = books
    donations = [f.donation(charity_id, project_id, amount=2_000) for _ in range(MANY)]
    first = donations[0].body["donation_id"]
    store.append([*donations, f.refund(first, 2_000)])
    sent_during_the_build(store, sent)
    assert donation_row(store, first)["refunded"] == 2_000
    assert_stored_as_appended_one_by_one(store)


def test_one_append_refused_after_its_rows_went_out_stores_nothing(
    books: tuple[Store, str, str], sent: list[int]
) -> None:
    store, charity_id, project_id = books
    size, rows = store.size(), donation_rows(store)
    donations = [f.donation(charity_id, project_id, amount=3_000) for _ in range(MANY)]
    too_much = f.refund(donations[-1].body["donation_id"], 3_001)
    with pytest.raises(AccountingError, match=rf"entries\[{MANY}\]\.body\.amount"):
        store.append([*donations, too_much])
    sent_during_the_build(store, sent, closed=False)
    assert (store.size(), donation_rows(store)) == (size, rows)
    # Nothing of it is left, on the books or in the tree: the same donations go in.
    store.append(donations)
    assert (store.size(), donation_rows(store)) == (size + MANY, rows + MANY)
    assert_stored_as_appended_one_by_one(store)


def test_a_refused_request_among_others_leaves_its_neighbours_rows(
    books: tuple[Store, str, str], sent: list[int]
) -> None:
    store, charity_id, project_id = books
    donations = [f.donation(charity_id, project_id, amount=500) for _ in range(MANY)]
    refused = Draft(
        "donation.refunded",
        {"donation_id": donations[0].body["donation_id"], "amount": 501, "reason": "too much"},
    )
    outcome = store.append_batch(
        [AppendRequest([d]) for d in donations[:50]]
        + [AppendRequest([refused])]
        + [AppendRequest([d]) for d in donations[50:]]
    )
    assert isinstance(outcome.results[50], AccountingError)
    accepted = [r for r in outcome.results if isinstance(r, AppendResult)]
    assert len(accepted) == MANY
    sent_during_the_build(store, sent)
    assert donation_row(store, donations[0].body["donation_id"])["refunded"] == 0
    assert_stored_as_appended_one_by_one(store)


def test_a_fifo_allocation_after_streamed_donations_still_reaches_the_general_fund(
    books: tuple[Store, str, str], sent: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The FIFO pages now hold the batch's own donations, already on the books: a page
    of nothing but those must not end the search before the general fund's."""
    store, charity_id, project_id = books
    monkeypatch.setattr(derived, "FIFO_PAGE", 7)
    general = f.donation(charity_id, None, amount=5_000)
    store.append([general])
    donations = [f.donation(charity_id, project_id, amount=10) for _ in range(MANY)]
    disbursement = f.disbursement(charity_id, project_id, amount=MANY * 10 + 1_000)
    outcome = store.append_batch(
        [AppendRequest([d]) for d in donations]
        + [
            AppendRequest(
                [
                    disbursement,
                    FifoAllocation(disbursement.body["disbursement_id"], disbursement.actor),
                ]
            )
        ]
    )
    assert all(isinstance(r, AppendResult) for r in outcome.results), outcome.results[-1]
    sent_during_the_build(store, sent)
    last = outcome.results[-1]
    assert isinstance(last, AppendResult)
    funded = [(e.body["donation_id"], e.body["amount"]) for e in last.entries[1:]]
    assert funded == [(d.body["donation_id"], 10) for d in donations] + [
        (general.body["donation_id"], 1_000)
    ]
    assert_stored_as_appended_one_by_one(store)
