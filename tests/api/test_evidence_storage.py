"""Evidence on disk: content checks, limits per charity, nothing stored when refused, downloads."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.evidence import EvidenceStore
from api.settings import ApiSettings
from tests.api.conftest import MINIMAL_PDF, Api, ApiFactory
from tests.api.evidence_files import (
    DISGUISED,
    HTML,
    VALID,
    age,
    files_on_disk,
    image,
    noisy_jpeg,
    rows,
    text_file,
)

SMALL = {"max_upload_bytes": 4096}
"""Small limits, to reach them with small files (the quota and rate may not be below this)."""


def upload(
    api: Api,
    key: dict[str, str],
    content: bytes,
    media_type: str,
    filename: str = "invoice",
) -> Any:
    return api.client.post(
        "/api/v1/evidence", files={"file": (filename, content, media_type)}, headers=key
    )


def assert_refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    return problem


# -- content ------------------------------------------------------------------------------


@pytest.mark.parametrize("media_type", sorted(VALID))
def test_each_accepted_type_is_stored_and_served_as_an_attachment_of_its_checked_type(
    make_api: ApiFactory, sqlite_url: str, media_type: str
) -> None:
    api = make_api(sqlite_url)
    _, key = api.register_charity()
    response = upload(api, key, VALID[media_type], media_type + "; charset=whatever")
    assert response.status_code == 201, response.text
    sha = response.json()["sha256"]
    assert response.json()["media_type"] == media_type
    served = api.client.get(f"/api/v1/evidence/{sha}", headers=key)
    assert served.status_code == 200
    assert served.content == VALID[media_type]
    assert served.headers["content-type"].split(";")[0] == media_type
    extension = {"application/pdf": "pdf", "text/plain": "txt"}.get(
        media_type, media_type.split("/")[1].replace("jpeg", "jpg")
    )
    assert served.headers["content-disposition"] == f'attachment; filename="{sha[2:]}.{extension}"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    assert served.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize(
    ("what", "media_type", "content"), DISGUISED, ids=[d[0] for d in DISGUISED]
)
def test_a_file_that_is_not_its_declared_type_is_refused_and_nothing_is_stored(
    make_api: ApiFactory, sqlite_url: str, what: str, media_type: str, content: bytes
) -> None:
    api = make_api(sqlite_url)
    _, key = api.register_charity()
    problem = assert_refused(upload(api, key, content, media_type), 415, "unsupported_media_type")
    assert problem["field"] == "file"
    assert media_type in problem["detail"]
    assert str(api.services.evidence.root) not in problem["detail"]  # no server path shown
    assert rows(api) == []
    assert files_on_disk(api) == []


def test_an_image_over_the_pixel_limit_is_refused_before_it_is_decoded(
    make_api: ApiFactory, sqlite_url: str
) -> None:
    api = make_api(sqlite_url, evidence_max_pixels=100 * 100)
    _, key = api.register_charity()
    assert upload(api, key, image("PNG", (100, 100)), "image/png").status_code == 201
    problem = assert_refused(
        upload(api, key, image("PNG", (101, 100)), "image/png"), 415, "unsupported_media_type"
    )
    assert "API_EVIDENCE_MAX_PIXELS" in problem["detail"]
    assert len(rows(api)) == 1


def test_polyglots_are_served_so_that_no_browser_renders_them(
    make_api: ApiFactory, sqlite_url: str
) -> None:
    """A JPEG with HTML after its end (phones append data there too) and HTML sent as text
    are accepted, but never rendered: an attachment, not sniffed, sandboxed."""
    api = make_api(sqlite_url)
    _, key = api.register_charity()
    for content, media_type in ((noisy_jpeg() + HTML, "image/jpeg"), (HTML, "text/plain")):
        response = upload(api, key, content, media_type, filename="page.html")
        assert response.status_code == 201, response.text
        served = api.client.get(f"/api/v1/evidence/{response.json()['sha256']}", headers=key)
        assert served.headers["content-type"].split(";")[0] == media_type
        assert served.headers["content-disposition"].startswith("attachment; ")
        assert ".html" not in served.headers["content-disposition"]
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"


# -- file names ---------------------------------------------------------------------------


def raw_upload(api: Api, key: dict[str, str], disposition: bytes) -> Any:
    """A multipart upload whose part header is exactly ``disposition`` (no client escaping)."""
    boundary = b"shanlian-test-boundary"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; ' + disposition + b"\r\n"
        b"Content-Type: application/pdf\r\n\r\n" + MINIMAL_PDF + b"\r\n"
        b"--" + boundary + b"--\r\n"
    )
    return api.client.post(
        "/api/v1/evidence",
        content=body,
        headers=key | {"Content-Type": "multipart/form-data; boundary=" + boundary.decode()},
    )


@pytest.mark.parametrize(
    "disposition",
    [
        b'filename="invoice\x00.pdf"',
        b'filename="\x00"',
        b'filename="invoice.pdf\x00.html"',
        b'filename="invoice\x1b[31m.pdf"',
        b'filename="invoice\x7f.pdf"',
        b'filename="invoice\xc2\x85.pdf"',  # U+0085, a C1 control
        b'filename="invoice\xe2\x80\xaefdp.exe"',  # U+202E: shows as "invoiceexe.pdf"
        b'filename="invoice\xe2\x81\xa6.pdf"',  # U+2066
    ],
)
def test_a_file_name_with_a_control_character_is_refused_and_nothing_is_stored(
    make_api: ApiFactory, database_url: str, disposition: bytes
) -> None:
    """On PostgreSQL a NUL in the name was a 500 that left the file behind."""
    api = make_api(database_url)
    _, key = api.register_charity()
    response = raw_upload(api, key, disposition)
    problem = assert_refused(response, 422, "invalid_field")
    assert problem["field"] == "file"
    assert "rename the file" in problem["detail"]
    assert rows(api) == []
    assert files_on_disk(api) == []


@pytest.mark.parametrize(
    ("disposition", "kept"),
    [
        (b'filename="../../etc/passwd"', "passwd"),
        (b'filename="C:\\\\fakepath\\\\\xe5\x8f\x91\xe7\xa5\xa8.pdf"', "发票.pdf"),
        (b'filename="  invoice.pdf  "', "invoice.pdf"),
        (b'filename=".."', None),
        (b'filename="' + b"a" * 300 + b'.pdf"', "a" * 255),
    ],
)
def test_a_file_name_is_kept_without_its_folders_and_never_served(
    make_api: ApiFactory, database_url: str, disposition: bytes, kept: str | None
) -> None:
    api = make_api(database_url)
    _, key = api.register_charity()
    response = raw_upload(api, key, disposition)
    assert response.status_code == 201, response.text
    assert [r["filename"] for r in rows(api)] == [kept]
    served = api.client.get(f"/api/v1/evidence/{response.json()['sha256']}", headers=key)
    sha = response.json()["sha256"][2:]
    assert served.headers["content-disposition"] == f'attachment; filename="{sha}.pdf"'


# -- limits per charity -------------------------------------------------------------------


def test_a_charity_over_its_quota_is_refused_and_others_are_not(
    make_api: ApiFactory, database_url: str
) -> None:
    api = make_api(database_url, **SMALL, evidence_quota_bytes=8000)
    _, key = api.register_charity("first")
    _, other = api.register_charity("second")
    assert upload(api, key, text_file(1), "text/plain").status_code == 201
    assert upload(api, key, text_file(2), "text/plain").status_code == 201
    problem = assert_refused(
        upload(api, key, text_file(3), "text/plain"), 413, "evidence_quota_exceeded"
    )
    assert problem["limit"] == "API_EVIDENCE_QUOTA_BYTES"
    assert problem["limit_value"] == 8000
    assert "8000" in problem["detail"]
    assert "6000" in problem["detail"]  # what it holds
    assert len(rows(api)) == 2
    assert len(files_on_disk(api)) == 2
    # The same bytes again take no room: accepted. Another charity has its own quota.
    assert upload(api, key, text_file(1), "text/plain").status_code == 201
    assert upload(api, other, text_file(3), "text/plain").status_code == 201
    # A charity already at its quota is refused before its file is even written.
    assert upload(api, key, text_file(4, 2000), "text/plain").status_code == 201
    assert_refused(upload(api, key, b"x", "text/plain"), 413, "evidence_quota_exceeded")
    assert len(files_on_disk(api)) == 4


def test_a_charity_over_its_upload_rate_in_files_gets_429_with_retry_after(
    make_api: ApiFactory, database_url: str
) -> None:
    api = make_api(database_url, **SMALL, evidence_rate_files=2, evidence_rate_window_s=600)
    _, key = api.register_charity()
    _, other = api.register_charity("another")
    assert upload(api, key, text_file(1), "text/plain").status_code == 201
    assert upload(api, key, text_file(2), "text/plain").status_code == 201
    response = upload(api, key, text_file(3), "text/plain")
    problem = assert_refused(response, 429, "evidence_rate_limited")
    assert problem["limit"] == "API_EVIDENCE_RATE_FILES"
    assert problem["limit_value"] == 2
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= 600
    assert problem["retry_after_s"] == retry
    assert len(files_on_disk(api)) == 2
    assert upload(api, other, text_file(3), "text/plain").status_code == 201
    # The oldest upload leaves the window 100 s from now: that is when to retry.
    age(api, 500)
    response = upload(api, key, text_file(3), "text/plain")
    assert response.status_code == 429
    assert 90 <= int(response.headers["retry-after"]) <= 100
    age(api, 101)
    assert upload(api, key, text_file(3), "text/plain").status_code == 201


def test_a_charity_over_its_upload_rate_in_bytes_gets_429(
    make_api: ApiFactory, database_url: str
) -> None:
    api = make_api(database_url, **SMALL, evidence_rate_bytes=7000)
    _, key = api.register_charity()
    assert upload(api, key, text_file(1), "text/plain").status_code == 201
    assert upload(api, key, text_file(2), "text/plain").status_code == 201
    response = upload(api, key, text_file(3, 1001), "text/plain")
    problem = assert_refused(response, 429, "evidence_rate_limited")
    assert problem["limit"] == "API_EVIDENCE_RATE_BYTES"
    assert problem["limit_value"] == 7000
    assert int(response.headers["retry-after"]) >= 1
    assert upload(api, key, text_file(3, 1000), "text/plain").status_code == 201  # fits
    assert len(rows(api)) == 3


def test_uploads_stop_before_the_disk_is_full(make_api: ApiFactory, sqlite_url: str) -> None:
    api = make_api(sqlite_url, evidence_min_free_bytes=10**18)
    _, key = api.register_charity()
    problem = assert_refused(
        upload(api, key, MINIMAL_PDF, "application/pdf"), 507, "insufficient_storage"
    )
    assert problem["limit"] == "API_EVIDENCE_MIN_FREE_BYTES"
    assert files_on_disk(api) == []


def test_limits_that_would_refuse_every_file_are_refused_at_start(sqlite_url: str) -> None:
    from pydantic import ValidationError

    for bad in (
        {"evidence_quota_bytes": 1000},
        {"evidence_rate_bytes": 1000},
        {"evidence_orphan_grace_s": 10, "evidence_rate_window_s": 60},
    ):
        with pytest.raises(ValidationError, match="API_EVIDENCE_"):
            ApiSettings(database_url=sqlite_url, max_upload_bytes=4096, **bad)


# -- failures leave nothing behind ----------------------------------------------------------


def test_a_database_error_leaves_no_file(make_api: ApiFactory, pg_database: str) -> None:
    api = make_api(pg_database)
    _, key = api.register_charity()
    with psycopg.connect(pg_database, autocommit=True) as connection:
        connection.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the disk is full'; END $$"
        )
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON evidence_file "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response = client.post(
        "/api/v1/evidence", files={"file": ("a.pdf", MINIMAL_PDF, "application/pdf")}, headers=key
    )
    assert response.status_code == 500
    assert rows(api) == []
    assert files_on_disk(api) == []


def test_a_file_that_cannot_be_put_in_place_leaves_no_row(
    make_api: ApiFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename comes after the commit: if it fails, the row is taken back."""
    api = make_api(sqlite_url)
    _, key = api.register_charity()

    def no_room(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("api.evidence.os.replace", no_room)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response = client.post(
        "/api/v1/evidence", files={"file": ("a.pdf", MINIMAL_PDF, "application/pdf")}, headers=key
    )
    assert response.status_code == 500
    assert rows(api) == []
    assert files_on_disk(api) == []


def test_an_upload_that_breaks_off_midway_leaves_no_file(
    make_api: ApiFactory, sqlite_url: str
) -> None:
    api = make_api(sqlite_url)
    charity_id, _ = api.register_charity()
    store: EvidenceStore = api.services.evidence
    started = asyncio.Event()

    async def disconnected() -> AsyncIterator[bytes]:
        yield MINIMAL_PDF[:10]
        raise ConnectionResetError("the client went away")

    async def endless() -> AsyncIterator[bytes]:
        yield MINIMAL_PDF[:10]
        started.set()
        await asyncio.Event().wait()  # until cancelled
        yield b""  # pragma: no cover

    async def scenario() -> None:
        with pytest.raises(ConnectionResetError):
            await store.save(
                disconnected(), media_type="application/pdf", charity_id=charity_id, filename=None
            )
        task = asyncio.create_task(
            store.save(
                endless(), media_type="application/pdf", charity_id=charity_id, filename=None
            )
        )
        await started.wait()
        assert len(files_on_disk(api)) == 1  # the partial upload, while it streams
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert rows(api) == []
    assert files_on_disk(api) == []


def test_an_upload_over_the_size_limit_leaves_no_file(
    make_api: ApiFactory, sqlite_url: str
) -> None:
    api = make_api(sqlite_url, **SMALL)
    _, key = api.register_charity()
    problem = assert_refused(upload(api, key, b"x" * 4097, "text/plain"), 413, "payload_too_large")
    assert problem["limit_value"] == 4096
    assert upload(api, key, b"x" * 4096, "text/plain").status_code == 201
    assert len(files_on_disk(api)) == 1


# -- downloads ----------------------------------------------------------------------------


def test_a_file_missing_on_disk_is_a_clear_404_not_a_500(
    make_api: ApiFactory, database_url: str
) -> None:
    api = make_api(database_url)
    _, key = api.register_charity()
    sha = api.upload(key)
    (stored,) = files_on_disk(api)
    stored.unlink()
    client = TestClient(api.client.app, raise_server_exceptions=False)
    problem = assert_refused(
        client.get(f"/api/v1/evidence/{sha}", headers=key), 404, "evidence_file_missing"
    )
    assert "upload the same file again" in problem["detail"]
    # Uploading the same bytes again restores it.
    assert api.upload(key) == sha
    assert client.get(f"/api/v1/evidence/{sha}", headers=key).content == MINIMAL_PDF


def test_public_evidence_is_served_to_anyone_as_an_attachment(
    make_api: ApiFactory, sqlite_url: str
) -> None:
    api = make_api(sqlite_url)
    charity_id, key = api.register_charity()
    sha = api.upload(key, image("PNG"), "image/png")
    api.disburse(charity_id, None, key, evidence=[{"sha256": sha, "public": True}])
    served = api.client.get(f"/api/v1/evidence/{sha}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"] == f'attachment; filename="{sha[2:]}.png"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"].startswith("public")


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_a_private_upload_is_stored_readable_by_its_owner_only(
    make_api: ApiFactory, sqlite_url: str, umask: int
) -> None:
    old = os.umask(umask)
    try:
        api = make_api(sqlite_url)
        _, key = api.register_charity()
        api.upload(key)
    finally:
        os.umask(old)
    (stored,) = files_on_disk(api)
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o777 == 0o700
    assert api.services.evidence.root.stat().st_mode & 0o777 == 0o700


def test_the_demo_files_pass_the_checks(make_api: ApiFactory, sqlite_url: str) -> None:
    from api.demo_data import invoice_pdf, redacted_photo

    api = make_api(sqlite_url)
    charity_id, _ = api.register_charity()
    day = datetime(2026, 11, 26, tzinfo=UTC)
    store = api.services.evidence
    store.save_bytes(
        invoice_pdf("2026-1", "Shop", 100, day, "chalk"),
        media_type="application/pdf",
        charity_id=charity_id,
        filename="2026-1.pdf",
    )
    store.save_bytes(
        redacted_photo("2026-1", 100, day),
        media_type="image/png",
        charity_id=charity_id,
        filename="2026-1.png",
    )
    assert len(rows(api)) == 2


def test_concurrent_uploads_from_two_processes_never_exceed_the_quota(
    pg_database: str, tmp_path: Path
) -> None:
    """Two API instances on one PostgreSQL database and one evidence folder, ten uploads at
    once: the quota check and the insert are one step (a lock per charity)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.api.conftest import build_api, close_api

    limits = {"max_upload_bytes": 4096, "evidence_quota_bytes": 12_288}
    apis = [build_api(pg_database, None, tmp_path / "evidence", **limits) for _ in range(2)]
    try:
        _, key = apis[0].register_charity()

        def send(n: int) -> int:
            response = upload(apis[n % 2], key, text_file(n), "text/plain")
            return int(response.status_code)

        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = sorted(pool.map(send, range(10)))
        assert statuses == [201] * 4 + [413] * 6
        assert sum(row["size"] for row in rows(apis[0])) == 12_000
        assert len(files_on_disk(apis[0])) == 4
    finally:
        for api in apis:
            close_api(api)
