"""The store's read model (ADR 0026): lookups, lists, and times read back in UTC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from ledger.accounting import CharityState, DonationState
from ledger.errors import NotFoundError
from ledger.store import projections
from ledger.store.checkpoints import AnchoredCheckpoint, CheckpointLog
from ledger.store.journal import Store
from ledger.store.queries import ReadModel
from ledger.store.tables import CHECKPOINT, ENTRY
from tests import factories as f


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.open(database_url)
    yield store
    store.engine.dispose()


def _charity_with_money(store: Store, currencies: tuple[str, ...]) -> str:
    """A charity with donations in each currency, a refund, spending and a voided payment."""
    charity = f.charity()
    ch = charity.body["charity_id"]
    drafts = [charity]
    for i, currency in enumerate(currencies):
        given = f.donation(ch, None, 10_000 + i, currency=currency)
        paid = f.disbursement(ch, None, 4_000 + i, currency=currency)
        voided = f.disbursement(ch, None, 1_000, currency=currency)
        dn, db = given.body["donation_id"], paid.body["disbursement_id"]
        drafts += [
            given,
            f.refund(dn, 500),
            paid,
            f.allocation(ch, dn, db, 3_000),
            voided,
            f.void(ch, voided.body["disbursement_id"]),
        ]
    store.append(drafts)
    return str(ch)


def test_a_lookup_of_nothing_raises_the_ledgers_not_found_error(store: Store) -> None:
    read = ReadModel(store.engine)
    for lookup, what in [
        (read.charity, "charity"),
        (read.project, "project"),
        (read.donation, "donation"),
        (read.disbursement, "disbursement"),
        (read.allocation, "allocation"),
    ]:
        for key in ("xx_missing", "ch_\x00nul"):
            with pytest.raises(NotFoundError) as caught:
                lookup(key)
            assert (caught.value.what, caught.value.key) == (what, key)
            assert str(caught.value) == f"no {what} {key!r}"
            assert isinstance(caught.value, LookupError)


def test_a_lookup_finds_what_the_journal_recorded(store: Store) -> None:
    charity = f.charity()
    donation = f.donation(charity.body["charity_id"], None, 1_234)
    store.append([charity, donation])
    read = ReadModel(store.engine)
    assert read.charity(str(charity.body["charity_id"])).name == charity.body["name"]
    found = read.donation(str(donation.body["donation_id"]))
    assert isinstance(found, DonationState)
    assert (found.amount, found.seq) == (1_234, 1)


def test_the_charity_index_has_each_charitys_own_balances(store: Store) -> None:
    charities = [
        _charity_with_money(store, ("CNY",)),
        _charity_with_money(store, ("CNY", "USD")),
        _charity_with_money(store, ()),
    ]
    listing = ReadModel(store.engine).charities(offset=0, limit=10)
    assert listing.count == 3
    assert [row.charity.charity_id for row in listing.rows] == charities
    with store.engine.connect() as connection:
        for row in listing.rows:
            assert row.balances == projections.balances(
                connection, charity_id=row.charity.charity_id
            )
    usd = listing.rows[1].balances[1]
    assert (usd.currency, usd.received, usd.refunded, usd.allocated, usd.disbursed) == (
        "USD",
        10_001,
        500,
        3_000,
        4_001,  # the voided disbursement is not money spent
    )
    assert listing.rows[2].balances == []


def test_the_charity_index_costs_the_same_queries_for_one_charity_or_fifty(store: Store) -> None:
    def statements(limit: int) -> int:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(store.engine, "before_cursor_execute", count)
        try:
            listing = ReadModel(store.engine).charities(offset=0, limit=limit)
        finally:
            event.remove(store.engine, "before_cursor_execute", count)
        assert len(listing.rows) == limit
        return len([sql for sql in seen if sql.lstrip().upper().startswith(("SELECT", "("))])

    for _ in range(50):
        _charity_with_money(store, ("CNY", "EUR"))
    assert statements(1) == statements(50) == 5  # count, rows, projects, donations, balances


def test_a_listing_past_the_end_is_empty_but_counts_everything(store: Store) -> None:
    _charity_with_money(store, ("CNY",))
    listing = ReadModel(store.engine).charities(offset=5, limit=5)
    assert (listing.rows, listing.count) == ([], 1)


def test_funding_pairs_each_live_allocation_with_its_disbursement(store: Store) -> None:
    charity = f.charity()
    ch = charity.body["charity_id"]
    donation = f.donation(ch, None, 10_000)
    dn = donation.body["donation_id"]
    first, second = f.disbursement(ch, None, 3_000), f.disbursement(ch, None, 2_000)
    reversed_one = f.allocation(ch, dn, second.body["disbursement_id"], 1_000)
    store.append(
        [
            charity,
            donation,
            first,
            second,
            f.allocation(ch, dn, first.body["disbursement_id"], 3_000),
            reversed_one,
            f.reversal(ch, reversed_one.body["allocation_id"]),
            f.allocation(ch, dn, second.body["disbursement_id"], 2_000),
        ]
    )
    funding = ReadModel(store.engine).funding(str(dn))
    assert [(a.amount, d.disbursement_id, d.amount) for a, d in funding] == [
        (3_000, first.body["disbursement_id"], 3_000),
        (2_000, second.body["disbursement_id"], 2_000),
    ]
    assert ReadModel(store.engine).funding("dn_none") == []


def test_a_stored_entry_is_read_exactly_with_its_time_in_utc(store: Store) -> None:
    charity = f.charity()
    at = datetime(2026, 11, 26, 18, 30, 0, 123_000, tzinfo=timezone(timedelta(hours=8)))
    store.append([charity], at=at)
    entry = ReadModel(store.engine).stored_entry(0)
    assert entry is not None
    assert entry.at == at
    assert entry.at.tzinfo is UTC
    assert entry.at.hour == 10  # the same instant, in UTC
    assert entry.leaf == next(iter(store.leaves(0, 1))).decode("utf-8")
    assert ReadModel(store.engine).stored_entry(1) is None


def test_every_stored_time_reads_back_aware_in_utc(store: Store) -> None:
    """The column type does what the SQLite patches did, on both databases."""
    beijing = timezone(timedelta(hours=8))
    anchored = datetime(2026, 11, 27, 16, 5, tzinfo=beijing)
    CheckpointLog(store.engine).record(
        AnchoredCheckpoint(
            checkpoint_index=0,
            tree_size=1,
            root_hash=b"\x01" * 32,
            chain_id=31337,
            contract="0x" + "5f" * 20,
            tx_hash=b"\x02" * 32,
            block_number=1,
            block_hash=b"\x03" * 32,
            anchored_at=anchored,
            confirmed=True,
        )
    )
    with store.engine.connect() as connection:
        raw = connection.execute(select(CHECKPOINT.c.anchored_at)).scalar_one()
    assert raw == anchored
    assert raw.tzinfo is UTC
    assert raw.hour == 8
    latest = CheckpointLog(store.engine).latest()
    assert latest is not None
    assert latest.anchored_at.tzinfo is UTC
    assert CheckpointLog(store.engine).first_covering(0) == latest


def test_a_naive_time_is_refused_before_it_reaches_the_database(store: Store) -> None:
    with pytest.raises(Exception, match="timezone-aware") as caught, store.engine.connect() as c:
        c.execute(select(ENTRY.c.seq).where(ENTRY.c.at > datetime(2026, 1, 1)))
    assert "2026" in str(caught.value)


def test_search_by_name_escapes_like_wildcards(store: Store) -> None:
    store.append([f.charity(name="100% 希望"), f.charity(name="1000 希望")])
    read = ReadModel(store.engine)
    assert [name for _, name in read.search_names("100%", 20).charities] == ["100% 希望"]
    assert [name for _, name in read.search_names("希望", 20).charities] == [
        "100% 希望",
        "1000 希望",
    ]
    assert read.get(CharityState, "ch_\x00") is None
