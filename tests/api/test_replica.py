"""Public reads from a real PostgreSQL hot standby, and what happens while it lags.

A primary and a streaming standby are made for the run (``tests/replica/cluster.py``);
the API writes to the primary and reads its explorer pages, proofs, consistency proofs
and journal lines from the standby (``API_READ_ONLY_DATABASE_URL``). With the standby's
replay paused, everything new is still answered — from the primary — and every proof
still leads to its anchored root.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit.bundle import verify_bundle_offline
from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from ledger import merkle
from ledger.entries import from_hex
from tests.api.conftest import Api, ApiFactory
from tests.replica.cluster import Replicated, replicated

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def clusters() -> Iterator[Replicated]:
    with replicated() as made:
        yield made


@pytest.fixture
def api(clusters: Replicated, make_api: ApiFactory) -> Api:
    primary, standby = clusters.database("j" + uuid.uuid4().hex[:12])
    chain = ChainClient.embedded(chain=EmbeddedChain())
    chain.deploy()
    made = make_api(primary, chain, read_only_database_url=standby)
    clusters.caught_up()  # the tables the primary made are on the standby too
    return made


def proof_holds(api: Api, bundle: dict[str, Any]) -> None:
    """The bundle's entry leads through its proof to its root, the journal's at that size."""
    steps = verify_bundle_offline(bundle)  # raises when the entry or a hash does not hold
    assert "inclusion" in [step.name for step in steps]
    checkpoint = bundle["checkpoint"]
    assert from_hex(checkpoint["root_hash"]) == api.store.root(checkpoint["tree_size"])


def donate_and_anchor(api: Api, count: int) -> tuple[str, list[dict[str, Any]]]:
    charity, auth = api.register_charity()
    project = api.open_project(charity, auth)
    donations = [api.donate(charity, project, amount=1_000 + i) for i in range(count)]
    api.anchor()
    return charity, donations


def test_the_explorer_and_proofs_read_from_the_standby(api: Api, clusters: Replicated) -> None:
    _, donations = donate_and_anchor(api, 5)
    clusters.caught_up()
    reader = api.services.reader
    assert reader is not None
    assert reader.replica is not None
    size = api.store.size()
    assert reader.store_for(size) is reader.replica  # caught up: the standby answers
    page = api.client.get(f"/donations/{donations[2]['id']}.json")
    assert page.status_code == 200, page.text
    assert page.json()["donation"]["amount"] == 1_002
    bundle = api.client.get(f"/api/v1/donations/{donations[2]['id']}/proof")
    assert bundle.status_code == 200, bundle.text
    proof_holds(api, bundle.json())
    lines = api.client.get("/api/v1/entries", params={"limit": 1000}).text.splitlines()
    assert len(lines) == size


def test_while_the_standby_lags_new_reads_come_from_the_primary_and_proofs_hold(
    api: Api, clusters: Replicated
) -> None:
    donate_and_anchor(api, 3)
    clusters.caught_up()
    replayed = api.store.size()
    clusters.pause_replay()
    try:
        _, fresh = donate_and_anchor(api, 4)
        reader = api.services.reader
        assert reader is not None
        assert reader.replica is not None
        assert reader.replica.size() == replayed  # the standby has not seen them
        size = api.store.size()
        assert reader.store_for(size) is reader.primary
        newest = fresh[-1]["id"]
        page = api.client.get(f"/donations/{newest}.json")
        assert page.status_code == 200, page.text  # asked of the primary, not a 404
        html = api.client.get(f"/donations/{newest}")
        assert html.status_code == 200
        bundle = api.client.get(f"/api/v1/donations/{newest}/proof")
        assert bundle.status_code == 200, bundle.text
        proof_holds(api, bundle.json())
        assert bundle.json()["checkpoint"]["tree_size"] > replayed
        consistency = api.client.get(
            "/api/v1/checkpoints/consistency", params={"first": replayed, "second": size}
        )
        assert consistency.status_code == 200, consistency.text
        body = consistency.json()
        merkle.verify_consistency(  # raises when the proof does not hold
            replayed,
            size,
            from_hex(body["first_root"]),
            from_hex(body["second_root"]),
            [from_hex(h) for h in body["proof"]],
        )
        assert from_hex(body["second_root"]) == api.store.root(size)
        lines = api.client.get("/api/v1/entries", params={"limit": 1000}).text.splitlines()
        assert len(lines) == size  # the whole journal, though the standby has less
        assert size < 256
        tile = api.client.get(f"/tlog/tile/0/000.p/{size}")  # past the standby: the primary's
        assert tile.status_code == 200, tile.text
        assert tile.content == b"".join(api.store.leaf_hash(s) for s in range(size))
        bundle_of_entries = api.client.get(f"/tlog/tile/entries/000.p/{size}")
        assert bundle_of_entries.status_code == 200, bundle_of_entries.text
    finally:
        clusters.resume_replay()
    clusters.caught_up()
    assert api.services.reader.store_for(api.store.size()) is api.services.reader.replica  # type: ignore[union-attr]


def test_the_standby_refuses_writes(api: Api, clusters: Replicated, tmp_path: Path) -> None:
    import psycopg

    reader = api.services.reader
    assert reader is not None
    assert reader.replica is not None
    url = reader.replica.engine.url.render_as_string(hide_password=False)
    with (
        psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        connection.execute("INSERT INTO entry_ref VALUES ('x', 1)")


class CountedStore:
    """A store that only knows its size, and counts how often it was asked."""

    def __init__(self, size: int) -> None:
        self.entries = size
        self.asked = 0

    def size(self) -> int:
        self.asked += 1
        return self.entries


def test_a_size_the_standby_reported_spares_the_next_reads_their_query_for_a_second() -> None:
    from api.replica import REPLAYED_FOR_S, Reader

    now = [100.0]
    primary, standby = CountedStore(10), CountedStore(8)
    reader = Reader(primary, standby, clock=lambda: now[0])  # type: ignore[arg-type]
    assert reader.store_for(8) is standby
    assert reader.store_for(5) is standby  # within what it reported: not asked again
    assert standby.asked == 1
    assert reader.store_for(9) is primary  # past it: asked, and it has not replayed it
    assert standby.asked == 2
    standby.entries = 10
    assert reader.store_for(9) is standby
    now[0] += REPLAYED_FOR_S
    assert reader.store_for(3) is standby  # a second on: asked again
    assert standby.asked == 4
    assert primary.asked == 0
