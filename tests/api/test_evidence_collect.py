"""Files no disbursement cites are removed after a grace period; cited files never are."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from api.cli import main
from api.evidence import TEMP_PREFIX, EvidenceStore
from api.settings import get_settings
from ledger.entries import from_hex
from ledger.store.tables import EVIDENCE_FILE
from tests.api.conftest import ApiFactory
from tests.api.evidence_files import age, files_on_disk, image, rows, text_file

GRACE = 24 * 3600


def make_old(path: Path, seconds: int = GRACE + 60) -> None:
    moment = datetime.now(UTC).timestamp() - seconds
    os.utime(path, (moment, moment))


def later(seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_an_uncited_file_goes_one_grace_period_after_its_row_and_a_cited_one_stays(
    make_api: ApiFactory, database_url: str
) -> None:
    api = make_api(database_url)
    charity_id, key = api.register_charity()
    other_id, other = api.register_charity("another")
    cited = api.upload(key, text_file(1), "text/plain")
    public = api.upload(key, image("PNG"), "image/png")
    orphan = api.upload(key, text_file(2), "text/plain")
    shared = api.upload(key, text_file(3), "text/plain")  # cited by the other charity only
    assert api.upload(other, text_file(3), "text/plain") == shared
    api.disburse(
        charity_id,
        None,
        key,
        evidence=[{"sha256": cited, "public": False}, {"sha256": public, "public": True}],
    )
    api.disburse(other_id, None, other, evidence=[{"sha256": shared, "public": False}])
    store: EvidenceStore = api.services.evidence

    # Young: nothing goes.
    assert store.collect().rows_removed == 0
    assert len(rows(api)) == 5

    # A day later: the rows no disbursement of their charity cites go; their files wait.
    age(api, GRACE + 60)
    for path in files_on_disk(api):
        make_old(path)
    done = store.collect()
    assert done.rows_removed == 2  # the orphan, and the first charity's copy of `shared`
    assert done.files_removed == 0
    left = {(r["charity_id"], "0x" + bytes(r["sha256"]).hex()) for r in rows(api)}
    assert left == {(charity_id, cited), (charity_id, public), (other_id, shared)}
    assert store.path(from_hex(orphan)).exists()  # its time was reset: one more grace period

    # Another day later: the orphan's file goes, with nothing else.
    done = store.collect(later(GRACE + 60))
    assert (done.rows_removed, done.files_removed) == (0, 1)
    assert done.bytes_freed == 3000
    assert not store.path(from_hex(orphan)).exists()
    for sha in (cited, public, shared):
        assert store.path(from_hex(sha)).exists()
    assert api.client.get(f"/api/v1/evidence/{public}").status_code == 200
    assert api.client.get(f"/api/v1/evidence/{cited}", headers=key).status_code == 200
    assert api.client.get(f"/api/v1/evidence/{orphan}", headers=key).status_code == 404
    # It may be uploaded again (and counts as new).
    assert api.upload(key, text_file(2), "text/plain") == orphan


def test_a_cited_file_is_never_removed_even_when_its_rows_are_gone(
    make_api: ApiFactory, database_url: str
) -> None:
    api = make_api(database_url)
    charity_id, key = api.register_charity()
    sha = api.upload(key, image("PNG"), "image/png")
    api.disburse(charity_id, None, key, evidence=[{"sha256": sha, "public": True}])
    with api.store.engine.begin() as connection:
        connection.execute(delete(EVIDENCE_FILE))  # the rows say: nobody has this file
    (path,) = files_on_disk(api)
    make_old(path, 10 * GRACE)
    done = api.services.evidence.collect(later(10 * GRACE))
    assert done.files_removed == 0
    assert done.rows_restored == 1
    assert path.exists()
    (row,) = rows(api)
    assert (row["charity_id"], row["media_type"], row["public"]) == (charity_id, "image/png", True)
    assert row["size"] == path.stat().st_size
    assert api.client.get(f"/api/v1/evidence/{sha}").status_code == 200


def test_partial_uploads_left_by_a_crash_go_and_files_not_ours_stay(
    make_api: ApiFactory, sqlite_url: str
) -> None:
    api = make_api(sqlite_url)
    _, key = api.register_charity()
    api.upload(key)
    root = api.services.evidence.root
    crashed = root / (TEMP_PREFIX + "crashed")
    crashed.write_bytes(b"half an upload")
    make_old(crashed)
    running = root / (TEMP_PREFIX + "running")
    running.write_bytes(b"an upload in progress")
    foreign = [root / "README", root / "ab" / "notes.txt", root / ("cd" * 32)]
    for path in foreign:
        path.parent.mkdir(exist_ok=True)
        path.write_text("the operator's")
        make_old(path, 10 * GRACE)
    done = api.services.evidence.collect()
    assert done.temp_removed == 1
    assert not crashed.exists()
    assert running.exists()
    assert all(path.exists() for path in foreign)


def test_shanlian_evidence_collect_removes_what_serve_would(
    make_api: ApiFactory,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = make_api(sqlite_url, evidence_orphan_grace_s=3600)
    _, key = api.register_charity()
    api.upload(key)
    age(api, 3700)
    monkeypatch.setenv("API_EVIDENCE_DIR", str(api.services.evidence.root))
    monkeypatch.setenv("API_EVIDENCE_ORPHAN_GRACE_S", "3600")
    get_settings.cache_clear()
    try:
        assert main(["--database", sqlite_url, "evidence", "collect"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert out.startswith("removed 1 evidence rows and 0 files (0 bytes)")
    assert "older than 3600 s" in out
    with api.store.engine.connect() as connection:
        assert connection.execute(select(EVIDENCE_FILE)).first() is None


def test_the_collector_thread_collects_until_stopped(make_api: ApiFactory, sqlite_url: str) -> None:
    """What ``shanlian serve`` runs beside the API (every API_EVIDENCE_COLLECT_INTERVAL_S)."""
    api = make_api(sqlite_url)
    _, key = api.register_charity()
    api.upload(key)
    age(api, GRACE + 60)
    stop = threading.Event()
    thread = threading.Thread(target=api.services.evidence.run_collector, args=(stop,))
    thread.start()
    try:
        for _ in range(3000):  # a wait for the first round, not a timed assertion
            if not rows(api):
                break
            time.sleep(0.01)
        assert rows(api) == []
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
