"""/tlog/: the log key, signed checkpoints, tiles and bundles over HTTP (ADR 0031)."""

from __future__ import annotations

import os
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api.cli import main
from api.settings import ApiSettings
from api.tlog import LogKeyError, default_origin, load_log_key
from ledger.signed_note import Signer, Verifier, open_checkpoint
from ledger.store.tlog import SignedCheckpoints, TileName, Tiles
from tests.api.conftest import Api, ApiFactory, Journal

TILE_CACHE = "public, max-age=31536000, immutable"


def vkey_of(api: Api) -> str:
    response = api.client.get("/api/v1/chain")
    assert response.status_code == 200, response.text
    vkey: str = response.json()["log_vkey"]
    assert response.json()["log_origin"] == "testserver/tlog" == Verifier.parse(vkey).name
    return vkey


def test_the_checkpoint_is_a_signed_note_of_the_journals_root(api: Api) -> None:
    Journal(api.store).donate(3)
    response = api.client.get("/tlog/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=5"
    checkpoint = open_checkpoint(response.text, Verifier.parse(vkey_of(api)))
    assert checkpoint.tree_size == 5
    assert checkpoint.root_hash == api.store.root(5)


def test_the_checkpoint_follows_the_journal_and_each_size_is_kept_once(api: Api) -> None:
    journal = Journal(api.store)
    api.services.log._interval_s = 0  # type: ignore[union-attr]  # look at every request
    first = api.client.get("/tlog/checkpoint").text
    assert api.client.get("/tlog/checkpoint").text == first
    journal.donate(2)
    second = open_checkpoint(api.client.get("/tlog/checkpoint").text, Verifier.parse(vkey_of(api)))
    assert second.tree_size == 4
    kept = SignedCheckpoints(api.store.engine)
    record = kept.get(2)
    assert record is not None
    assert record.note == first


def test_an_empty_journal_has_a_checkpoint_of_the_empty_tree(api: Api) -> None:
    checkpoint = open_checkpoint(
        api.client.get("/tlog/checkpoint").text, Verifier.parse(vkey_of(api))
    )
    assert (checkpoint.tree_size, checkpoint.root_hash) == (0, api.store.root(0))


def test_every_anchored_checkpoint_is_signed(api: Api) -> None:
    Journal(api.store).donate(7)
    anchored = api.anchor()
    assert anchored["tree_size"] == 9
    record = SignedCheckpoints(api.store.engine).get(9)
    assert record is not None
    body = open_checkpoint(record.note, Verifier.parse(vkey_of(api)))
    assert body.root_hash == api.store.root(9)
    assert "0x" + body.root_hash.hex() == anchored["root_hash"]


def test_tiles_and_bundles_are_immutable_with_an_etag(api: Api) -> None:
    Journal(api.store).donate(298)  # 300 entries: one full tile, a partial one of 44
    full = api.client.get("/tlog/tile/0/000")
    assert full.status_code == 200
    assert len(full.content) == 8192
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == TILE_CACHE
    assert full.content == b"".join(api.store.leaf_hash(s) for s in range(256))
    etag = full.headers["etag"]
    again = api.client.get("/tlog/tile/0/000", headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    partial = api.client.get("/tlog/tile/0/001.p/44")
    assert partial.status_code == 200
    assert len(partial.content) == 44 * 32
    assert api.client.get("/tlog/tile/1/000.p/1").content == api.store.root(256)
    bundle = api.client.get("/tlog/tile/entries/000")
    assert bundle.headers["cache-control"] == TILE_CACHE
    first = api.store.entry(0).leaf_bytes
    assert bundle.content[:2] == len(first).to_bytes(2, "big")
    assert bundle.content[2 : 2 + len(first)] == first


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/000",  # only 44 entries: not full yet
        "tile/0/000.p/45",  # wider than the journal
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/x000/000",
        "tile/entries/001",
        "tile/1/000.p/1",
        "tile/64/000",
        "tile/7/x999/x999/x999/x999/x999/999",
        "tile/0/" + "x999/" * 2000 + "999",
        "tile/0/" + "9" * 60_000,
        "tile/",
        "tile/0/000.p/44/",
        "tiles/0/000",
        "checkpoint/",
    ],
)
def test_paths_that_name_no_tile_are_404_problems(api: Api, path: str) -> None:
    Journal(api.store).donate(42)
    response = api.client.get(f"/tlog/{path}")
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (
        "cache-control" not in response.headers
        or "immutable" not in response.headers["cache-control"]
    )


def test_the_log_key_file_is_private_and_reused(tmp_path: Path) -> None:
    settings = ApiSettings(
        evidence_dir=tmp_path / "data" / "evidence", public_url="https://g.example/x/"
    )
    created = load_log_key(settings, create=True)
    assert created is not None
    assert created.name == "g.example/x/tlog"
    path = tmp_path / "data" / "log.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_log_key(settings) == created
    assert load_log_key(settings.model_copy(update={"log_origin": "g.example/x/tlog"})) == created


def test_a_key_for_another_origin_is_refused(tmp_path: Path) -> None:
    settings = ApiSettings(evidence_dir=tmp_path / "evidence", log_origin="other.example/tlog")
    (tmp_path / "log.key").write_text(Signer.generate("g.example/tlog").text)
    with pytest.raises(LogKeyError, match=r"signs for origin 'g\.example/tlog'"):
        load_log_key(settings)
    (tmp_path / "log.key").write_text("PRIVATE+KEY+nonsense")
    with pytest.raises(LogKeyError, match="does not hold a log key"):
        load_log_key(settings)


@pytest.mark.postgres
def test_in_production_no_key_is_made_no_checkpoint_served_but_tiles_are(
    make_api: ApiFactory, pg_database: str, tmp_path: Path
) -> None:
    api = make_api(pg_database, environment="production", payment_ref_key="ab" * 32)
    assert api.services.log is None
    assert not (tmp_path / "log.key").exists()
    response = api.client.get("/tlog/checkpoint")
    assert response.status_code == 404
    assert "shanlian keys log create" in response.json()["detail"]
    Journal(api.store)
    assert api.client.get("/tlog/tile/entries/000.p/2").status_code == 200


def test_default_origin_is_host_and_path_without_scheme() -> None:
    assert default_origin("https://give.example.org") == "give.example.org/tlog"
    assert default_origin("https://u:p@give.example.org:8443/charity/") == (
        "give.example.org:8443/charity/tlog"
    )


def test_keys_log_create_makes_a_private_key_once_and_show_prints_its_vkey(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.settings import get_settings

    monkeypatch.setenv("API_LOG_KEY_FILE", str(tmp_path / "keys" / "log.key"))
    get_settings.cache_clear()
    try:
        assert main(["keys", "log", "create", "--origin", "give.example.org/tlog"]) == 0
        vkey = capsys.readouterr().out.strip()
        assert Verifier.parse(vkey).name == "give.example.org/tlog"
        assert stat.S_IMODE(os.stat(tmp_path / "keys" / "log.key").st_mode) == 0o600
        assert "PRIVATE" not in vkey
        assert main(["keys", "log", "create"]) == 2
        assert "never overwritten" in capsys.readouterr().err
        assert main(["keys", "log", "show"]) == 0
        assert capsys.readouterr().out.strip() == vkey
        assert main(["keys", "log", "create", "--origin", "has space"]) == 2
    finally:
        get_settings.cache_clear()


def test_a_proof_bundle_carries_the_signed_checkpoint(api: Api) -> None:
    from audit.bundle import verify_bundle

    charity_id, auth = api.register_charity()
    project_id = api.open_project(charity_id, auth)
    donation = api.donate(charity_id, project_id)
    api.anchor()
    document = api.client.get(f"/api/v1/donations/{donation['id']}/proof").json()
    log_key = Verifier.parse(vkey_of(api))
    body = open_checkpoint(document["checkpoint_note"], log_key)
    assert body.tree_size == document["checkpoint"]["tree_size"]
    steps = verify_bundle(document, api.services.chain, log_key=log_key)  # type: ignore[arg-type]
    assert "signed_checkpoint" in [s.name for s in steps]


def test_public_reads_of_a_sqlite_file_do_not_wait_for_the_write_lock(api: Api) -> None:
    """The writable SQLite engine begins every transaction with ``BEGIN IMMEDIATE``, the
    file's one write lock: tiles, proofs, consistency proofs, checkpoints (anchored and
    signed), the journal and the public views are read from the file's read-only twin,
    and are answered while an append holds it."""
    charity_id, auth = api.register_charity()
    project_id = api.open_project(charity_id, auth)
    donation = api.donate(charity_id, project_id)
    api.anchor()
    size = api.store.size()
    reader = api.services.reader
    assert reader is not None
    assert reader.replica is not None
    assert not reader.lags  # the file's own read-only twin
    paths = [
        f"/tlog/tile/0/000.p/{size}",
        f"/tlog/tile/entries/000.p/{size}",
        f"/api/v1/donations/{donation['id']}/proof",
        f"/api/v1/checkpoints/consistency?first=1&second={size}",
        "/api/v1/checkpoints",
        "/api/v1/checkpoints/latest",
        "/api/v1/entries?limit=10",
        f"/api/v1/donations/{donation['id']}",
        f"/api/v1/charities/{charity_id}",
        f"/api/v1/projects/{project_id}",
        "/tlog/checkpoint",
        "/api/v1/chain",
    ]
    unlocked = {path: api.client.get(path) for path in paths}
    assert all(r.status_code == 200 for r in unlocked.values()), unlocked
    database = api.store.engine.url.database
    assert database is not None
    holder = sqlite3.connect(database, isolation_level=None)
    with ThreadPoolExecutor(1) as pool:
        holder.execute("BEGIN IMMEDIATE")  # what an append holds while it writes
        try:
            for path in paths:
                # Waiting for the lock would take the busy timeout (60 s), not 10.
                response = pool.submit(api.client.get, path).result(timeout=10)
                assert response.status_code == 200, (path, response.text)
                assert response.content == unlocked[path].content, path
        finally:
            holder.execute("ROLLBACK")  # a read stuck on the lock ends before the pool
            holder.close()


def test_a_tile_is_read_from_the_journal_once_and_a_missing_one_every_time(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tile's bytes never change: the process keeps them. A tile the journal has not
    got yet is not kept, so it is served as soon as the journal has it."""
    journal = Journal(api.store)
    journal.donate(3)
    reads: list[str] = []
    read = Tiles.read

    def counted(self: Tiles, name: TileName) -> bytes | None:
        reads.append(name.path)
        return read(self, name)

    monkeypatch.setattr(Tiles, "read", counted)
    first = api.client.get("/tlog/tile/0/000.p/5")
    again = api.client.get("/tlog/tile/0/000.p/5")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content == b"".join(api.store.leaf_hash(s) for s in range(5))
    assert first.headers["etag"] == again.headers["etag"]
    assert reads == ["tile/0/000.p/5"]
    assert api.client.get("/tlog/tile/0/000.p/6").status_code == 404
    journal.donate(1)
    sixth = api.client.get("/tlog/tile/0/000.p/6")
    assert sixth.status_code == 200
    assert sixth.content[: len(first.content)] == first.content
    assert reads == ["tile/0/000.p/5", "tile/0/000.p/6", "tile/0/000.p/6"]


@pytest.mark.parametrize(
    "path",
    ["0/x035/x184/x372/x088/832", "entries/x035/x184/x372/x088/832", "6/000", "7/001", "63/000"],
)
def test_a_tile_beyond_the_largest_journal_is_refused_without_a_read(
    api: Api, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """No journal holds more than MAX_SEQ + 1 entries: a tile that starts beyond costs
    no query, on the primary or a standby (api.replica)."""

    def no_read(*_: object) -> None:
        raise AssertionError("a tile beyond any journal was looked for")

    monkeypatch.setattr(type(api.services), "reading", no_read)
    answer = api.client.get(f"/tlog/tile/{path}")
    assert answer.status_code == 404
    assert answer.json()["code"] == "no_such_tile"
    assert "beyond the largest journal" in answer.json()["detail"]


def test_the_last_tile_a_journal_can_hold_is_still_looked_for(api: Api) -> None:
    # Its last hash is entry MAX_SEQ's: this journal has not got it (yet).
    answer = api.client.get("/tlog/tile/0/x035/x184/x372/x088/831")
    assert answer.status_code == 404
    assert "(yet)" in answer.json()["detail"]
