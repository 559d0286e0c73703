"""The exact page cache: a donation's page kept while what it is drawn from is unchanged
(ADR 0046).

Every test reads each page twice: from an explorer with the exact cache (the default)
and from one that draws every page afresh, on the same journal; they must be the same
bytes after every kind of change, and the cached explorer must not have drawn pages
whose donation nothing touched.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from explorer import caching, urls
from explorer.app import Explorer, create_explorer
from explorer.caching import Drawn, ExactPageCache
from explorer.views import PublicViews
from ledger.errors import LedgerError
from ledger.store.checkpoints import AnchoredCheckpoint, CheckpointLog
from ledger.store.journal import Store
from ledger.store.requests import Draft, new_id
from tests import factories as f
from tests.explorer.conftest import World, record_checkpoint

LANGUAGES = ({"Accept-Language": "en"}, {"Accept-Language": "zh"})


@dataclass
class Pair:
    """The same journal through an explorer with the exact cache and one without."""

    cached: TestClient
    fresh: TestClient
    drawn: list[str] = field(default_factory=list)
    """The paths the cached explorer drew (not served from its cache), in order."""

    @property
    def explorer(self) -> Explorer:
        explorer: Explorer = self.cached.app.state.explorer  # type: ignore[attr-defined]
        return explorer

    def same(self, donation_id: str) -> None:
        """The cached explorer serves what drawing afresh gives, in every form."""
        for path in (urls.donation(donation_id), urls.donation(donation_id, json=True)):
            for headers in LANGUAGES:
                cached, fresh = (
                    self.cached.get(path, headers=headers),
                    self.fresh.get(path, headers=headers),
                )
                assert cached.status_code == fresh.status_code == 200, path
                assert cached.content == fresh.content, (path, headers)
                for name in ("etag", "cache-control", "content-language", "vary"):
                    assert cached.headers.get(name) == fresh.headers.get(name), name

    def draws_of(self, donation_id: str) -> int:
        return sum(path.startswith(urls.donation(donation_id)) for path in self.drawn)


def views_on(store: Store, **settings: Any) -> PublicViews:
    """Read-only views on ``store``; without ``anchor_interval_s``, no page reads the clock
    (the one that does is not kept, and two of them drawn a moment apart differ)."""
    defaults: dict[str, Any] = {"public_url": "http://testserver"}
    return PublicViews(store=store, **(defaults | settings)).read_only()


@pytest.fixture
def pair_on() -> Iterator[Callable[..., Pair]]:
    opened: list[Pair] = []

    def open_pair(store: Store, **settings: Any) -> Pair:
        cached = TestClient(create_explorer(views_on(store, **settings)))
        fresh = TestClient(create_explorer(views_on(store, **settings), page_cache_exact=False))
        pair = Pair(cached, fresh)
        explorer = pair.explorer
        draw = explorer.draw

        def counted(request: Any, *args: Any, **kwargs: Any) -> Drawn:
            pair.drawn.append(request.url.path)
            return draw(request, *args, **kwargs)

        explorer.draw = counted  # type: ignore[method-assign]
        opened.append(pair)
        return pair

    yield open_pair
    for pair in opened:
        for client in (pair.cached, pair.fresh):
            client.app.state.explorer.views.store.engine.dispose()  # type: ignore[attr-defined]


def test_a_page_nothing_changed_is_drawn_once_per_language_and_twin(
    sqlite_world: World, pair_on: Callable[..., Pair]
) -> None:
    pair = pair_on(sqlite_world.store)
    for _ in range(3):
        pair.same(sqlite_world.earmarked)
    # The page in each language, and the twin, the same in every language.
    assert pair.draws_of(sqlite_world.earmarked) == 3
    assert len(pair.explorer.exact or ()) == 3


def matching(charity_id: str, project_id: str) -> tuple[list[Draft], str]:
    """A matcher and its pool for ``project_id`` (ADR 0040), and the pool's id."""
    matcher_id, pool_id = new_id("mt"), new_id("mp")
    pool = {
        "pool_id": pool_id,
        "matcher_id": matcher_id,
        "title": "配捐",
        "currency": "CNY",
        "total": 100_000,
        "ratio_percent": 100,
        "cap_per_donation": 1_000,
        "cap_per_payer_per_day": 50_000,
        "min_interval_s": 0,
        "starts_at": "2026-11-01T00:00:00.000Z",
        "ends_at": "2026-12-31T00:00:00.000Z",
        "day_offset_minutes": 480,
        "project_ids": [project_id],
    }
    matcher = {"matcher_id": matcher_id, "name": "云岭科技", "registration_no": "M1"}
    return [Draft("matcher.registered", matcher), Draft("match_pool.opened", pool)], pool_id


def match(donation_id: str, pool_id: str) -> Draft:
    body = {
        "match_id": new_id("dn"),
        "donation_id": donation_id,
        "pool_id": pool_id,
        "amount": 1_000,
        "payer_hash": "0x" + random.randbytes(32).hex(),
    }
    return Draft("match.made", body)


def test_every_kind_of_entry_about_a_donation_shows_at_the_next_request(
    world: World, pair_on: Callable[..., Pair]
) -> None:
    store = world.store
    ch, pr = world.charity_id, world.project_id
    pair = pair_on(store)
    donation = f.donation(ch, pr, 10_000)
    dn = donation.body["donation_id"]
    drafts, pool_id = matching(ch, pr)
    store.append([donation, *drafts])
    made = match(dn, pool_id)
    matched_money = made.body["match_id"]
    disbursement = f.disbursement(ch, pr, 9_000)
    db = disbursement.body["disbursement_id"]
    allocation = f.allocation(ch, dn, db, 3_000)
    spent = f.allocation(ch, matched_money, db, 400)
    reversed_match = Draft("match.reversed", {"match_id": matched_money, "reason": "退款"})
    changes: list[tuple[str, list[Draft], bool]] = [  # what, its entries, does dn show it
        ("a match", [made], True),
        ("an allocation", [disbursement, allocation], True),
        (
            "another's allocation to its disbursement",
            [f.allocation(ch, world.earmarked, db, 5)],
            False,
        ),
        ("an allocation of its matched money", [spent], False),
        (
            "the reversal of its allocation",
            [f.reversal(ch, allocation.body["allocation_id"])],
            True,
        ),
        ("its matched money unspent", [f.reversal(ch, spent.body["allocation_id"])], False),
        ("the match reversed", [reversed_match], True),
        ("a refund", [f.refund(dn, 100)], True),
    ]
    pair.same(dn)
    pair.same(world.refunded)
    for what, entries, shown in changes:
        before = pair.cached.get(urls.donation(dn, json=True)).content
        store.append(entries)
        pair.same(dn)
        pair.same(matched_money)
        assert (pair.cached.get(urls.donation(dn, json=True)).content != before) is shown, what
    # Drawn once in each form, never again: nothing touched it.
    assert pair.draws_of(world.refunded) == 3


def test_a_void_and_a_signer_change_show_at_the_next_request(
    sqlite_world: World, pair_on: Callable[..., Pair]
) -> None:
    world, store = sqlite_world, sqlite_world.store
    pair = pair_on(store)
    donation = f.donation(world.charity_id, None, 5_000)
    dn = donation.body["donation_id"]
    disbursement = f.disbursement(world.charity_id, None, 2_000)
    db = disbursement.body["disbursement_id"]
    allocation = f.allocation(world.charity_id, dn, db, 2_000)
    store.append([donation, disbursement, allocation])
    pair.same(dn)
    store.append([f.reversal(world.charity_id, allocation.body["allocation_id"])])
    pair.same(dn)
    store.append([f.void(world.charity_id, db)])  # a correction note of the donation
    pair.same(dn)
    assert pair.cached.get(urls.donation(dn, json=True)).json()["correction_notes"][-1]["kind"] == (
        "disbursement.voided"
    )
    charity = PublicViews(store=store, public_url="").read.charity(world.charity_id)
    store.append(
        [
            Draft(
                "charity.signer_changed",
                {
                    "charity_id": world.charity_id,
                    "signer": "0x" + "ab" * 20,
                    "previous_seq": charity.seq,
                    "reason": "a key of its own",
                },
                actor=f"charity:{world.charity_id}",
            )
        ]
    )
    pair.same(dn)
    pair.same(world.earmarked)


def test_checkpoints_anchored_confirmed_and_dropped_show_at_the_next_request(
    sqlite_world: World, pair_on: Callable[..., Pair]
) -> None:
    world, store = sqlite_world, sqlite_world.store
    pair = pair_on(store, lasting_chain=True, anchor_interval_s=600)
    log = CheckpointLog(store.engine)
    # Anchored just now: the unanchored donation's next anchor is due in the future.
    latest = replace(world.checkpoints[1], anchored_at=datetime.now(UTC))
    log.record(latest)
    pair.same(world.unanchored)
    drawn = pair.draws_of(world.unanchored)
    pair.same(world.unanchored)
    assert pair.draws_of(world.unanchored) == drawn  # kept until that moment
    covering = record_checkpoint(store, 2, store.size())
    pair.same(world.unanchored)  # anchored now
    log.record(replace(covering, confirmed=True))
    pair.same(world.unanchored)  # confirmed: its proof is pinned
    assert (
        pair.cached.get(urls.donation(world.unanchored, json=True))
        .json()["proof_url"]
        .endswith("checkpoint=2")
    )
    log.forget(from_index=2)  # a reorg dropped it
    pair.same(world.unanchored)
    log.record(replace(covering, tx_hash=b"\x01" * 32))  # anchored again, in another block
    pair.same(world.unanchored)
    log.record(replace(world.checkpoints[0], confirmed=False))
    pair.same(world.earmarked)


def test_a_page_that_reads_the_clock_is_never_kept(
    sqlite_world: World, pair_on: Callable[..., Pair]
) -> None:
    # The latest checkpoint was anchored long ago: the next anchor is due "now".
    pair = pair_on(sqlite_world.store, anchor_interval_s=600)
    pair.cached.get(urls.donation(sqlite_world.unanchored))
    pair.cached.get(urls.donation(sqlite_world.unanchored))
    assert pair.draws_of(sqlite_world.unanchored) == 2
    assert len(pair.explorer.exact or ()) == 0


def test_a_kept_page_is_dropped_when_its_next_anchor_falls_due(sqlite_world: World) -> None:
    now = datetime.now(UTC)
    cache = ExactPageCache(clock=lambda: now)
    drawn = Drawn(b"page", "en", caching.FRESH, 200)
    cache.put("k", 1, drawn, until=now + timedelta(seconds=10))
    assert cache.get("k", 1) is drawn
    now += timedelta(seconds=10)
    assert cache.get("k", 1) is None
    cache.put("k", 1, drawn, until=now)  # due already: what it shows reads the clock
    assert len(cache) == 0


def test_not_found_other_queries_and_lagging_ids_are_not_kept(
    sqlite_world: World, pair_on: Callable[..., Pair]
) -> None:
    pair = pair_on(sqlite_world.store)
    for i in range(50):
        assert pair.cached.get(f"/donations/dn_nothing{i}").status_code == 404
        assert pair.cached.get(f"/donations/dn_nothing{i}.json").status_code == 404
        page = pair.cached.get(urls.donation(sqlite_world.earmarked) + f"?x={i}&lang=en")
        assert page.status_code == 200
        assert f"x={i}" in page.text  # the language links keep the query: another page
    assert len(pair.explorer.exact or ()) == 0
    # Only the language: the same page as without it, kept once.
    for language in ("en", "zh-CN", "fr", "en"):
        pair.cached.get(urls.donation(sqlite_world.earmarked) + f"?lang={language}")
    assert len(pair.explorer.exact or ()) == 2


def test_the_cache_keeps_at_most_its_pages_and_bytes() -> None:
    cache = ExactPageCache(pages=3, size_bytes=100, page_bytes=60)
    page = Drawn(b"x" * 40, "en", caching.FRESH, 200)
    for key in "abcd":
        cache.put(key, 1, page)
    assert (len(cache), cache.bytes) == (2, 80)  # the bytes bound first
    assert cache.get("a", 1) is None
    assert cache.get("d", 1) is page
    cache.put("big", 1, Drawn(b"x" * 61, "en", caching.FRESH, 200))
    cache.put("private", 1, Drawn(b"x", "en", caching.PRIVATE, 200))
    cache.put("missing", 1, Drawn(b"x", "en", caching.NOT_KEPT, 404))
    assert (len(cache), cache.bytes) == (2, 80)
    small = Drawn(b"x", "en", caching.FRESH, 200)
    for key in "efgh":
        cache.put(key, 1, small)
    assert len(cache) == 3  # the count bound
    assert cache.get("e", 1) is None
    assert cache.get("h", 1) is small
    assert cache.get("h", 2) is None  # another version: dropped
    assert len(cache) == 2


def test_the_setting_turns_it_off(sqlite_world: World) -> None:
    app = create_explorer(views_on(sqlite_world.store), page_cache_exact=False)
    assert app.state.explorer.exact is None
    app.state.explorer.views.store.engine.dispose()


@pytest.mark.parametrize("seed", range(3))
def test_random_appends_never_leave_a_kept_page_behind(
    seed: int, world: World, pair_on: Callable[..., Pair]
) -> None:
    """After each random change, every donation's page is what drawing it afresh gives."""
    rng = random.Random(seed)
    store = world.store
    ch, pr = world.charity_id, world.project_id
    pair = pair_on(store, lasting_chain=rng.random() < 0.5)
    drafts, pool_id = matching(ch, pr)
    store.append(drafts)
    donations = [world.earmarked, world.general, world.refunded, world.unanchored]
    disbursements = [world.disbursement_id, world.general_disbursement_id]
    allocations: list[tuple[str, str]] = []
    log = CheckpointLog(store.engine)
    for _ in range(25):
        views = PublicViews(store=store, public_url="")
        step = rng.choice(
            ["donate", "refund", "disburse", "allocate", "reverse", "match", "anchor"]
        )
        dn = rng.choice(donations)
        state = views.read.donation_version(dn)
        assert state is not None
        available = views.donation_view(dn)
        left = available.amount - available.refunded - available.allocated
        if step == "donate":
            drafted = f.donation(ch, rng.choice([pr, None]), rng.randrange(1_000, 20_000))
            store.append([drafted])
            donations.append(drafted.body["donation_id"])
        elif step == "refund" and left > 0 and not available.matches:
            store.append([f.refund(dn, rng.randrange(1, left + 1))])
        elif step == "disburse":
            drafted = f.disbursement(ch, rng.choice([pr, None]), 50_000)
            store.append([drafted])
            disbursements.append(drafted.body["disbursement_id"])
        elif step == "allocate" and left > 0:
            db = rng.choice(disbursements)
            allocated = f.allocation(ch, dn, db, rng.randrange(1, left + 1))
            try:
                store.append([allocated])
            except LedgerError:  # another project's disbursement: the books refuse it
                pass
            else:
                allocations.append((allocated.body["allocation_id"], dn))
        elif step == "reverse" and allocations:
            allocation_id, _ = allocations.pop(rng.randrange(len(allocations)))
            store.append([f.reversal(ch, allocation_id)])
        elif step == "match" and available.project_id == pr:
            with contextlib.suppress(LedgerError):  # matched already, refunded, matched money
                store.append([match(dn, pool_id)])
        elif step == "anchor":
            latest = log.latest()
            index = 0 if latest is None else latest.checkpoint_index + 1
            if latest is None or latest.tree_size < store.size():
                checkpoint: AnchoredCheckpoint = record_checkpoint(store, index, store.size())
                log.record(replace(checkpoint, confirmed=rng.random() < 0.5))
        for donation_id in rng.sample(donations, min(3, len(donations))):
            pair.same(donation_id)
    for donation_id in donations:
        pair.same(donation_id)
