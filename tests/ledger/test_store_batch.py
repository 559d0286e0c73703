"""Batched appends (ADR 0017): many callers in one transaction, each refused alone.

The property: ``Store.append_batch(items)`` gives every request the result (or error)
that appending the same requests one by one, in the same order, gives it, and leaves
the same journal, projections, side rows and idempotency keys behind.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ledger.entries import Entry
from ledger.errors import AccountingError, EntryError, IdempotencyConflictError
from ledger.store import derived, projections, writes
from ledger.store.journal import Store
from ledger.store.requests import AppendRequest, AppendResult, Draft, FifoAllocation
from ledger.store.tables import DONOR, IDEMPOTENCY
from tests import factories as f
from tests.conftest import PG_ADMIN_URL, pg_url

CHARITY = "ch_batch"
PROJECT = "pr_batch"
DONATIONS = ["dn_base0", "dn_base1", "dn_base2"]
DISBURSEMENT = "db_base0"
ACTOR = f"charity:{CHARITY}"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def seed(store: Store) -> None:
    """One charity and project, three donations of 1,000 and a disbursement of 1,500."""
    store.append(
        [
            f.charity(CHARITY),
            f.project(CHARITY, PROJECT),
            *(f.donation(CHARITY, PROJECT, 1_000, donation_id=d) for d in DONATIONS),
            f.disbursement(CHARITY, PROJECT, 1_500, disbursement_id=DISBURSEMENT),
        ],
        at=T0,
    )


def donor_row(donation_id: str) -> tuple[Any, dict[str, Any]]:
    return DONOR, {
        "donation_id": donation_id,
        "receipt_secret": b"\x01" * 16,
        "name": "王小明",
        "phone": None,
        "email": None,
        "anonymous": False,
        "created_at": T0,
    }


# -- the property: a batch is the same as one by one -------------------------------------------


@st.composite
def batches(draw: st.DrawFn) -> list[AppendRequest]:
    """A burst of requests: valid ones, malformed ones, ones that break a rule, repeated keys."""
    donations = list(DONATIONS)
    disbursements = [DISBURSEMENT]
    allocations = ["al_never"]
    items: list[AppendRequest] = []
    for i in range(draw(st.integers(1, 12))):
        op = draw(
            st.sampled_from(
                [
                    "donate",
                    "donate",
                    "donate_taken_id",
                    "refund",
                    "refund",
                    "allocate",
                    "reverse",
                    "disburse",
                    "disburse_fifo",
                    "void",
                    "invalid",
                    "repeat",
                ]
            )
        )
        amount = draw(st.integers(1, 1_600))
        rows: list[tuple[Any, dict[str, Any]]] = []
        requests: list[Draft | FifoAllocation]
        if op == "repeat" and items:
            items.append(items[draw(st.integers(0, len(items) - 1))])
            continue
        if op in ("donate", "repeat"):
            donation_id = f"dn_b{i}"
            project = draw(st.sampled_from([PROJECT, None]))
            requests = [f.donation(CHARITY, project, amount, donation_id=donation_id)]
            rows = [donor_row(donation_id)]
            donations.append(donation_id)
        elif op == "donate_taken_id":  # only the database knows: the batch falls back
            requests = [f.donation(CHARITY, PROJECT, amount, donation_id=DONATIONS[0])]
        elif op == "refund":
            requests = [f.refund(draw(st.sampled_from(donations)), amount)]
        elif op == "allocate":
            allocation_id = f"al_b{i}"
            requests = [
                f.allocation(
                    CHARITY,
                    draw(st.sampled_from(donations)),
                    draw(st.sampled_from(disbursements)),
                    amount,
                    allocation_id=allocation_id,
                )
            ]
            allocations.append(allocation_id)
        elif op == "reverse":
            requests = [f.reversal(CHARITY, draw(st.sampled_from(allocations)))]
        elif op in ("disburse", "disburse_fifo"):
            disbursement_id = f"db_b{i}"
            requests = [
                f.disbursement(
                    CHARITY,
                    draw(st.sampled_from([PROJECT, None])),
                    amount,
                    disbursement_id=disbursement_id,
                )
            ]
            if op == "disburse_fifo":
                requests.append(FifoAllocation(disbursement_id, actor=ACTOR))
            for j in range(draw(st.integers(0, 3)) if op == "disburse" else 0):
                allocation_id = f"al_b{i}x{j}"
                requests.append(
                    f.allocation(
                        CHARITY,
                        draw(st.sampled_from(donations)),
                        disbursement_id,
                        draw(st.integers(1, 900)),
                        allocation_id=allocation_id,
                    )
                )
                allocations.append(allocation_id)
            disbursements.append(disbursement_id)
        elif op == "void":
            requests = [f.void(CHARITY, draw(st.sampled_from(disbursements)))]
        else:  # invalid: refused before the batch's transaction
            requests = [f.refund(draw(st.sampled_from(donations)), -amount)]
        key = draw(st.sampled_from([None, None, "k1", "k2", "k3"]))
        at = T0 + timedelta(seconds=draw(st.integers(-3, 3)))
        items.append(AppendRequest(requests, idempotency_key=key, at=at, rows=rows))
    return items


def one_by_one(store: Store, items: list[AppendRequest]) -> list[AppendResult | Exception]:
    results: list[AppendResult | Exception] = []
    for item in items:
        try:
            results.append(
                store.append(
                    item.requests,
                    idempotency_key=item.idempotency_key,
                    request_hash=item.request_hash,
                    at=item.at,
                    alongside=item.alongside,
                    rows=item.rows,
                )
            )
        except Exception as error:
            results.append(error)
    return results


_FIFO_ID = re.compile(rb"al_[a-z0-9]{20}")


def fifo_blind(text: bytes) -> bytes:
    """The ids FIFO gives its allocations are random: compare what they allocate instead."""
    return _FIFO_ID.sub(b"al_fifo", text)


def described(result: AppendResult | Exception | None) -> tuple[Any, ...]:
    if isinstance(result, AppendResult):
        return ("ok", result.replayed, [fifo_blind(e.leaf_bytes) for e in result.entries])
    assert isinstance(result, Exception), result
    return ("error", type(result).__name__, str(result))


def stored(store: Store) -> dict[str, Any]:
    """Everything an append writes, in a comparable form."""
    with store.engine.connect() as connection:
        books = projections.read_books(connection)
        donors = sorted(
            (row.donation_id, bytes(row.receipt_secret))
            for row in connection.execute(select(DONOR.c.donation_id, DONOR.c.receipt_secret))
        )
        keys = sorted(
            (row.key, bytes(row.request_hash), row.first_seq, row.entry_count)
            for row in connection.execute(select(IDEMPOTENCY))
        )
    return {
        "leaves": [fifo_blind(leaf) for leaf in store.leaves()],
        "books": {
            kind.__name__: sorted(
                fifo_blind(repr(state).encode()) for state in books.shelf(kind).values()
            )
            for kind in projections.TABLES
        },
        "donors": donors,
        "keys": keys,
    }


def assert_batch_equals_one_by_one(batched: Store, single: Store, items: list[AppendRequest]):
    outcome = batched.append_batch(items)
    expected = one_by_one(single, items)
    got = [described(r) for r in outcome.results]
    for index, (batch_result, single_result) in enumerate(zip(got, expected, strict=True)):
        if (
            batch_result[:2] == ("error", "AccountingError")
            and batch_result[2].endswith("already exists")
            and isinstance(single_result, AccountingError)
        ):
            # An id created earlier in the batch is on the batch's books; appended
            # alone, its request meets the id only at the primary key, after the other
            # rules: refused either way, perhaps for another rule first.
            got[index] = described(single_result)
    assert got == [described(r) for r in expected]
    # Only an id that the books do not hold but the database does makes the database
    # refuse the batch (and each request is appended again alone, which is equal by
    # construction): anything else must be decided on the books, in the batch.
    if not any(
        isinstance(r, Draft) and r.body.get("donation_id") in DONATIONS
        for item in items
        if item.requests and item.requests[0].kind == "donation.received"  # type: ignore[union-attr]
        for r in item.requests
    ):
        assert not outcome.fell_back
    assert stored(batched) == stored(single)
    for store in (batched, single):
        report = store.verify()
        assert report.ok, report.problems[:3]


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "journal.db"
    store = Store.open(f"sqlite:///{path}")
    seed(store)
    store.engine.dispose()
    return path


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=batches())
def test_a_batch_gives_each_request_what_appending_one_by_one_gives_on_sqlite(
    seeded_sqlite: Path, items: list[AppendRequest]
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="batch-"))
    try:
        stores = []
        for name in ("batched", "single"):
            shutil.copy(seeded_sqlite, folder / f"{name}.db")
            stores.append(Store.open(f"sqlite:///{folder}/{name}.db", upgrade=False))
        try:
            assert_batch_equals_one_by_one(stores[0], stores[1], items)
        finally:
            for store in stores:
                store.engine.dispose()
    finally:
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def seeded_pg(pg_template: str) -> Iterator[str]:
    name = f"shanlian_seeded_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    store = Store.open(pg_url(name), upgrade=False)
    seed(store)
    store.engine.dispose()
    yield name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def two_pg_stores(seeded_pg: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on copies of the seeded database, dropped after."""
    names = [f"shanlian_b_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{seeded_pg}"')
    stores = [Store.open(pg_url(name), upgrade=False) for name in names]
    try:
        yield stores[0], stores[1]
    finally:
        for store in stores:
            store.engine.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=batches())
def test_a_batch_gives_each_request_what_appending_one_by_one_gives_on_postgres(
    seeded_pg: str, items: list[AppendRequest]
) -> None:
    with two_pg_stores(seeded_pg) as (batched, single):
        assert_batch_equals_one_by_one(batched, single, items)


@pytest.mark.postgres
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=batches())
def test_a_batch_written_while_it_is_built_gives_what_appending_one_by_one_gives(
    seeded_pg: str, items: list[AppendRequest]
) -> None:
    # A chunk of one entry and one donation row: a COPY is open from the first accepted
    # request on, so every FIFO allocation reads the books across it (its pages of two
    # holding the batch's own donations), and every fallback and refusal leaves it
    # mid-stream.
    with two_pg_stores(seeded_pg) as (batched, single), pytest.MonkeyPatch.context() as patch:
        patch.setattr(writes, "ENTRY_CHUNK", 1)
        patch.setattr(derived, "FIFO_PAGE", 2)
        assert_batch_equals_one_by_one(batched, single, items)


# -- examples: each refused request is refused alone --------------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.open(database_url)
    seed(store)
    yield store
    store.engine.dispose()


def results(store: Store, *items: AppendRequest) -> list[AppendResult | Exception | None]:
    return store.append_batch(list(items)).results


def test_two_refunds_of_one_donation_in_a_batch_refuse_only_the_one_that_overdraws(
    store: Store,
) -> None:
    size = store.size()
    first, second, third = results(
        store,
        AppendRequest([f.refund(DONATIONS[0], 700)]),
        AppendRequest([f.refund(DONATIONS[0], 700)]),
        AppendRequest([f.refund(DONATIONS[0], 300)]),
    )
    assert isinstance(first, AppendResult)
    assert first.first_seq == size
    assert isinstance(second, AccountingError)
    assert second.field == "entries[0].body.amount"
    assert "exceeds the 300 not yet refunded" in second.message
    assert isinstance(third, AppendResult)
    assert third.first_seq == size + 1
    assert store.size() == size + 2
    with store.engine.connect() as connection:
        donation = projections.get(connection, projections.DonationState, DONATIONS[0])
    assert donation is not None
    assert donation.refunded == 1_000


def test_a_request_failing_on_its_last_draft_leaves_nothing_for_the_next_request(
    store: Store,
) -> None:
    """A disbursement whose second allocation overdraws is refused whole: its first
    allocation's money is free again for the request after it."""
    size = store.size()
    refused, taken = results(
        store,
        AppendRequest(
            [
                f.disbursement(CHARITY, PROJECT, 2_000, disbursement_id="db_refused"),
                f.allocation(CHARITY, DONATIONS[1], "db_refused", 1_000, allocation_id="al_r1"),
                f.allocation(CHARITY, DONATIONS[1], "db_refused", 1, allocation_id="al_r2"),
            ]
        ),
        AppendRequest(
            [f.allocation(CHARITY, DONATIONS[1], DISBURSEMENT, 1_000, allocation_id="al_ok")]
        ),
    )
    assert isinstance(refused, AccountingError)
    assert refused.field == "entries[2].body.amount"
    assert isinstance(taken, AppendResult)
    assert taken.first_seq == size
    with store.engine.connect() as connection:
        assert projections.get(connection, projections.DisbursementState, "db_refused") is None
        assert projections.get(connection, projections.AllocationState, "al_r1") is None
        donation = projections.get(connection, projections.DonationState, DONATIONS[1])
        disbursement = projections.get(connection, projections.DisbursementState, DISBURSEMENT)
    assert donation is not None
    assert donation.allocated == 1_000
    assert disbursement is not None
    assert disbursement.allocated == 1_000
    assert store.verify().ok


def test_a_fifo_allocation_after_written_entries_reads_the_donations_and_the_batch_commits(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL the entries' COPY is open when the FIFO allocation reads its page of
    # donations (a chunk of one entry): the read must finish it first, not fail the batch.
    monkeypatch.setattr(writes, "ENTRY_CHUNK", 1)
    outcome = store.append_batch(
        [
            AppendRequest([f.donation(CHARITY, PROJECT, 700, donation_id="dn_fresh")]),
            AppendRequest(
                [
                    f.disbursement(CHARITY, PROJECT, 1_200, disbursement_id="db_fifo"),
                    FifoAllocation("db_fifo", actor=ACTOR),
                ]
            ),
            AppendRequest([f.donation(CHARITY, PROJECT, 300, donation_id="dn_after")]),
        ]
    )
    assert not outcome.fell_back
    assert all(isinstance(r, AppendResult) for r in outcome.results), outcome.results
    made = outcome.results[1]
    assert isinstance(made, AppendResult)
    allocated = {
        e.body["donation_id"]: e.body["amount"] for e in made.entries if e.kind == "allocation.made"
    }
    # The oldest first: what the seed's disbursement left of the first donations.
    assert sum(allocated.values()) == 1_200
    assert "dn_after" not in allocated
    assert store.verify().ok


def test_malformed_requests_are_refused_before_the_batch_and_the_rest_commit(
    store: Store,
) -> None:
    size = store.size()
    outcome = store.append_batch(
        [
            AppendRequest([f.donation(CHARITY, PROJECT, 0)]),
            AppendRequest([f.donation(CHARITY, PROJECT, 500)]),
            AppendRequest([]),
            AppendRequest([f.donation(CHARITY, PROJECT, 600)], idempotency_key="x" * 201),
            AppendRequest([Draft("donation.received", {"amount": 5})]),
            AppendRequest([f.donation(CHARITY, "pr_missing", 700)]),
            AppendRequest([f.donation(CHARITY, None, 800)]),
        ]
    )
    kinds = [type(r).__name__ for r in outcome.results]
    assert kinds == [
        "EntryError",
        "AppendResult",
        "EntryError",
        "EntryError",
        "EntryError",
        "AccountingError",
        "AppendResult",
    ]
    fields = [r.field for r in outcome.results if isinstance(r, EntryError)]
    assert fields[0] == "body.amount"
    assert fields[1] == "entries"
    assert fields[2] == "idempotency_key"
    assert fields[4] == "entries[0].body.project_id"
    assert [e.seq for r in outcome.results if isinstance(r, AppendResult) for e in r.entries] == [
        size,
        size + 1,
    ]
    assert store.size() == size + 2


def test_one_key_twice_in_a_batch_makes_one_entry_and_two_identical_answers(
    store: Store,
) -> None:
    size = store.size()
    donation = f.donation(CHARITY, PROJECT, 500)
    same = AppendRequest([donation], idempotency_key="k", rows=[donor_row("dn_x")])
    first, second, other = results(
        store, same, same, AppendRequest([f.donation(CHARITY, PROJECT, 501)], idempotency_key="k")
    )
    assert isinstance(first, AppendResult)
    assert not first.replayed
    assert isinstance(second, AppendResult)
    assert second.replayed
    assert first.entries == second.entries
    assert isinstance(other, IdempotencyConflictError)
    assert store.size() == size + 1
    # …and in a later batch, the key replays the stored result.
    (later,) = results(store, same)
    assert isinstance(later, AppendResult)
    assert later.replayed
    assert later.entries == first.entries
    with store.engine.connect() as connection:
        assert connection.execute(select(DONOR.c.donation_id)).scalars().all() == ["dn_x"]


AWKWARD_KEYS = [
    'a "quoted" key',
    "back\\slash\\",
    "{braces},commas",
    "NULL",
    " spaced ",
    "键\t\u00e9",
]
"""Keys that an array literal must quote and escape (the batch looks keys up as one)."""


def test_keys_with_quotes_backslashes_braces_and_commas_replay_in_a_later_batch(
    store: Store,
) -> None:
    size = store.size()
    requests = [
        AppendRequest([f.donation(CHARITY, PROJECT, 700 + i)], idempotency_key=key)
        for i, key in enumerate(AWKWARD_KEYS)
    ]
    first = results(store, *requests)
    assert all(isinstance(r, AppendResult) and not r.replayed for r in first)
    again = results(store, *requests)
    assert all(isinstance(r, AppendResult) and r.replayed for r in again)
    assert [r.entries for r in again] == [r.entries for r in first]  # type: ignore[union-attr]
    assert store.size() == size + len(AWKWARD_KEYS)
    with store.engine.connect() as connection:
        stored = connection.execute(select(IDEMPOTENCY.c.key)).scalars().all()
    assert set(AWKWARD_KEYS) <= set(stored)


def test_the_key_lookup_is_planned_for_its_keys_every_batch(pg_database: str) -> None:
    """psycopg prepares a statement run five times on one connection, and PostgreSQL then
    may keep a generic plan that knows nothing of the array: on a young table it scans
    every row for each of a batch's thousand keys, and each batch waits longer than the
    last (21 ms to 190 ms over ten batches of 1,000). The lookup is never prepared."""
    store = Store.open(pg_database)
    try:
        seed(store)
        for batch in range(8):
            requests = [
                AppendRequest(
                    [f.donation(CHARITY, PROJECT, 100 + i)], idempotency_key=f"{batch}.{i}"
                )
                for i in range(3)
            ]
            assert all(isinstance(r, AppendResult) for r in results(store, *requests))
        with store.engine.connect() as connection:
            prepared = (
                connection.exec_driver_sql("SELECT statement FROM pg_prepared_statements")
                .scalars()
                .all()
            )
        assert prepared, "psycopg prepared none of the batch's other statements"
        assert not [s for s in prepared if "FROM idempotency" in s]
    finally:
        store.engine.dispose()


def test_a_key_refused_in_a_batch_is_free_for_its_repeat(store: Store) -> None:
    """A refused request stores no key: its repeat in the same batch is tried afresh."""
    bad = AppendRequest([f.refund(DONATIONS[2], 5_000)], idempotency_key="r")
    good = AppendRequest([f.refund(DONATIONS[2], 5)], idempotency_key="r")
    refused, accepted = results(store, bad, good)
    assert isinstance(refused, AccountingError)
    assert isinstance(accepted, AppendResult)
    assert not accepted.replayed


def test_an_id_the_database_already_holds_falls_back_and_fails_alone(store: Store) -> None:
    """Only the primary key knows the donation id is taken: the batch is appended again
    one request at a time, and the others commit."""
    size = store.size()
    outcome = store.append_batch(
        [
            AppendRequest([f.donation(CHARITY, PROJECT, 100)], rows=[donor_row("dn_a")]),
            AppendRequest(
                [f.donation(CHARITY, PROJECT, 200, donation_id=DONATIONS[0])],
                rows=[donor_row(DONATIONS[0])],
            ),
            AppendRequest([f.donation(CHARITY, PROJECT, 300)], idempotency_key="after"),
        ]
    )
    assert outcome.fell_back
    first, taken, last = outcome.results
    assert isinstance(first, AppendResult)
    assert first.first_seq == size
    assert isinstance(taken, AccountingError)
    assert taken.field == "entries[0].body.donation_id"
    assert isinstance(last, AppendResult)
    assert last.first_seq == size + 1
    assert store.verify().ok


def test_a_side_write_that_fails_fails_only_its_request(store: Store) -> None:
    def explode(_connection: Connection, _entries: list[Entry]) -> None:
        raise RuntimeError("the evidence table said no")

    outcome = store.append_batch(
        [
            AppendRequest([f.donation(CHARITY, PROJECT, 100)]),
            AppendRequest([f.donation(CHARITY, PROJECT, 200)], alongside=explode),
            AppendRequest([f.donation(CHARITY, PROJECT, 300)]),
        ]
    )
    assert outcome.fell_back
    assert [type(r).__name__ for r in outcome.results] == [
        "AppendResult",
        "RuntimeError",
        "AppendResult",
    ]
    assert store.verify().ok


def test_entries_of_a_batch_never_go_back_in_time(store: Store) -> None:
    moments = [T0 + timedelta(hours=1), T0, T0 + timedelta(hours=2), T0 + timedelta(minutes=1)]
    outcome = store.append_batch(
        [AppendRequest([f.donation(CHARITY, None, 100)], at=moment) for moment in moments]
    )
    stamps = [r.entries[0].at for r in outcome.results if isinstance(r, AppendResult)]
    assert stamps == [
        "2026-11-26T11:00:00.000Z",
        "2026-11-26T11:00:00.000Z",
        "2026-11-26T12:00:00.000Z",
        "2026-11-26T12:00:00.000Z",
    ]


def test_a_batch_of_refunds_writes_each_projection_row(store: Store) -> None:
    outcome = store.append_batch(
        [AppendRequest([f.refund(d, 10 * (i + 1))]) for i, d in enumerate(DONATIONS)]
    )
    assert all(isinstance(r, AppendResult) for r in outcome.results)
    with store.engine.connect() as connection:
        refunded = [
            projections.get(connection, projections.DonationState, d).refunded  # type: ignore[union-attr]
            for d in DONATIONS
        ]
    assert refunded == [10, 20, 30]
    assert store.projection_differences() == []


def test_append_is_a_batch_of_one(store: Store) -> None:
    with pytest.raises(AccountingError) as refused:
        store.append([f.refund(DONATIONS[0], 1_001)])
    assert refused.value.field == "entries[0].body.amount"
    with pytest.raises(AccountingError, match="already exists"):
        store.append([f.donation(CHARITY, PROJECT, 1, donation_id=DONATIONS[0])])
    assert store.verify().ok


@pytest.mark.postgres
def test_a_commit_that_fails_fails_every_request_and_appends_nothing_again(
    pg_database: str,
) -> None:
    """The commit's outcome is what the database says: when the commit itself fails (here
    a deferred trigger, checked only at COMMIT), the batch is not appended again request
    by request — a commit that failed on the wire may have landed — and every request
    gets the error."""
    store = Store.open(pg_database)
    seed(store)
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            """
            CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.name = 'refused at commit' THEN
                    RAISE EXCEPTION 'refused at commit';
                END IF;
                RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON donor
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();
            """
        )
    size = store.size()
    bomb = donor_row("dn_bomb")
    bomb[1]["name"] = "refused at commit"
    outcome = store.append_batch(
        [
            AppendRequest([f.donation(CHARITY, None, 1)], idempotency_key="a"),
            AppendRequest([f.donation(CHARITY, None, 2, donation_id="dn_bomb")], rows=[bomb]),
            AppendRequest([f.donation(CHARITY, None, 3)]),
        ]
    )
    assert not outcome.fell_back
    assert all(isinstance(r, Exception) for r in outcome.results)
    assert all("refused at commit" in str(r) for r in outcome.results)
    assert store.size() == size
    with store.engine.connect() as connection:
        assert connection.execute(select(IDEMPOTENCY.c.key)).scalars().all() == []
    # A retry of the others, without the one the database refuses, goes through.
    (retried,) = store.append_batch(
        [AppendRequest([f.donation(CHARITY, None, 1)], idempotency_key="a")]
    ).results
    assert isinstance(retried, AppendResult)
    assert retried.first_seq == size
    store.engine.dispose()
