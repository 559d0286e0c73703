"""Evidence files (invoices, photos), stored by the SHA-256 of their bytes.

An upload is streamed to a temporary file in the evidence folder while it is hashed; its
content is checked against its declared type; its row is committed (the charity's quota
and upload rate are checked in the same transaction); only then is the file renamed into
place. A refused or failed upload leaves neither a row nor a file.

Files no disbursement cites are removed a grace period after their upload (``collect``),
with their rows; a file that some ``disbursement.made`` entry cites is never removed,
whatever the rows say.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Connection, Engine

from api.errors import ApiError
from api.uploads import ContentError, check_content, clean_filename
from ledger.entries import from_hex
from ledger.store.files import PRIVATE_FILE_MODE, private_dir
from ledger.store.tables import ENTRY, EVIDENCE_FILE

if TYPE_CHECKING:
    from api.settings import ApiSettings

log = logging.getLogger("shanlian.evidence")

TEMP_PREFIX = ".upload-"
"""Uploads in progress: ``<root>/.upload-XXXX``, renamed to ``<root>/<2 hex>/<64 hex>``."""

SUFFIXES = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "text/plain": "txt",
}
"""The file name extension a download gets, from its checked type."""


@dataclass(frozen=True)
class EvidenceRecord:
    sha256: bytes
    charity_id: str
    media_type: str
    size: int
    filename: str | None
    public: bool
    uploaded_at: datetime


@dataclass(frozen=True)
class EvidenceLimits:
    """What one charity may store and upload; see ``ApiSettings`` for each."""

    quota_bytes: int = 1024**3
    rate_bytes: int = 256 * 1024**2
    rate_files: int = 200
    rate_window_s: int = 3600
    orphan_grace_s: int = 24 * 3600
    collect_interval_s: int = 3600
    min_free_bytes: int = 0
    max_pixels: int = 50_000_000


@dataclass
class Collected:
    """What one ``collect`` removed (and restored)."""

    rows_removed: int = 0
    files_removed: int = 0
    bytes_freed: int = 0
    temp_removed: int = 0
    rows_restored: int = 0


class RateLimitedError(ApiError):
    """429: the charity uploaded too much in the window; ``Retry-After`` says when to retry."""

    def __init__(self, detail: str, *, limit: str, value: int, retry_after_s: int) -> None:
        super().__init__(
            429,
            "evidence_rate_limited",
            detail,
            field="file",
            limit=limit,
            limit_value=value,
            retry_after_s=retry_after_s,
        )
        self.headers = {"Retry-After": str(retry_after_s)}


def _lock(connection: Connection, name: bytes) -> None:
    """Serialize the transactions about one charity's quota or one file (PostgreSQL).

    SQLite needs nothing: every write transaction starts with ``BEGIN IMMEDIATE``.
    """
    if connection.dialect.name == "postgresql":
        digest = hashlib.sha256(b"shanlian.evidence." + name).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _record(row: Any) -> EvidenceRecord:
    values = dict(row._mapping)
    values["sha256"] = bytes(values["sha256"])
    return EvidenceRecord(**values)


class EvidenceStore:
    """Files on disk under ``root/<2 hex>/<64 hex>``, their metadata in ``evidence_file``."""

    def __init__(
        self,
        engine: Engine,
        root: Path,
        *,
        max_bytes: int,
        media_types: tuple[str, ...],
        limits: EvidenceLimits | None = None,
    ) -> None:
        self.engine = engine
        self.root = root
        self.max_bytes = max_bytes
        self.media_types = media_types
        self.limits = limits or EvidenceLimits()

    @classmethod
    def from_settings(cls, engine: Engine, settings: ApiSettings) -> EvidenceStore:
        """The store the service's settings describe (``API_EVIDENCE_*``)."""
        return cls(
            engine,
            settings.evidence_dir,
            max_bytes=settings.max_upload_bytes,
            media_types=settings.evidence_media_types,
            # Each limit is the setting of its name (API_EVIDENCE_QUOTA_BYTES, …).
            limits=EvidenceLimits(
                **{
                    limit.name: getattr(settings, f"evidence_{limit.name}")
                    for limit in dataclasses.fields(EvidenceLimits)
                }
            ),
        )

    def path(self, sha256: bytes) -> Path:
        digest = sha256.hex()
        return self.root / digest[:2] / digest

    def save_bytes(
        self, content: bytes, *, media_type: str, charity_id: str, filename: str | None
    ) -> EvidenceRecord:
        """Store a file already in memory (the demo's generated invoices)."""

        async def one_chunk() -> AsyncIterator[bytes]:
            yield content

        return asyncio.run(
            self.save(one_chunk(), media_type=media_type, charity_id=charity_id, filename=filename)
        )

    async def save(
        self,
        chunks: AsyncIterator[bytes],
        *,
        media_type: str,
        charity_id: str,
        filename: str | None,
    ) -> EvidenceRecord:
        """Stream an upload to disk, hashing it; refuse it whole if it breaks a limit.

        Raises:
            ApiError: 415 for a media type not accepted or not matching the content,
                413 for a file over the size limit or the charity's quota, 422 for an
                empty file or a bad file name, 429 (``RateLimitedError``) over the
                charity's upload rate, 507 when the disk is nearly full.
        """
        media_type = media_type.split(";")[0].strip().lower()
        if media_type not in self.media_types:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"evidence of type {media_type!r} is not accepted; send one of "
                + ", ".join(self.media_types),
                field="file",
            )
        name = clean_filename(filename)
        private_dir(self.root)
        # Refuse early, before the file is written, when the charity has no room at all.
        with self.engine.connect() as connection:
            self._check_room(connection, charity_id, 1)
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.root)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)  # mkstemp's 0600 is umasked
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ApiError(
                            413,
                            "payload_too_large",
                            f"evidence files are limited to {self.max_bytes} bytes "
                            "(API_MAX_UPLOAD_BYTES)",
                            field="file",
                            limit="API_MAX_UPLOAD_BYTES",
                            limit_value=self.max_bytes,
                        )
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            if size == 0:
                raise ApiError(422, "invalid_field", "file: the file is empty", field="file")
            try:
                await asyncio.to_thread(
                    check_content, media_type, Path(temp), max_pixels=self.limits.max_pixels
                )
            except ContentError as error:
                raise ApiError(
                    415,
                    "unsupported_media_type",
                    f"the file's content is not {media_type}: {error}",
                    field="file",
                ) from None
            sha256 = digest.digest()
            record, created = self._commit(sha256, charity_id, media_type, size, name)
            target = self.path(sha256)
            try:
                private_dir(target.parent)
                if not target.exists():  # the same bytes may be stored already
                    os.replace(temp, target)
            except OSError:
                if created:  # the row must not outlive its file
                    with self.engine.begin() as connection:
                        connection.execute(
                            delete(EVIDENCE_FILE).where(
                                EVIDENCE_FILE.c.sha256 == sha256,
                                EVIDENCE_FILE.c.charity_id == charity_id,
                            )
                        )
                raise
            return record
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def _commit(
        self, sha256: bytes, charity_id: str, media_type: str, size: int, filename: str | None
    ) -> tuple[EvidenceRecord, bool]:
        """This charity's row of the file: the one it has, or a new one within its limits."""
        with self.engine.begin() as connection:
            _lock(connection, b"charity:" + charity_id.encode())
            _lock(connection, b"file:" + sha256)
            existing = connection.execute(
                select(EVIDENCE_FILE).where(
                    EVIDENCE_FILE.c.sha256 == sha256, EVIDENCE_FILE.c.charity_id == charity_id
                )
            ).first()
            if existing is not None:
                return _record(existing), False
            self._check_room(connection, charity_id, size)
            record = EvidenceRecord(
                sha256=sha256,
                charity_id=charity_id,
                media_type=media_type,
                size=size,
                filename=filename,
                public=False,
                uploaded_at=datetime.now(UTC),
            )
            connection.execute(EVIDENCE_FILE.insert().values(**vars(record)))
        return record, True

    def _check_room(self, connection: Connection, charity_id: str, size: int) -> None:
        """Refuse a file of ``size`` bytes over the disk's reserve, the quota or the rate."""
        limits = self.limits
        free = shutil.disk_usage(self.root).free
        if free - size < limits.min_free_bytes:
            log.warning("evidence refused: %d bytes free under %s", free, self.root)
            raise ApiError(
                507,
                "insufficient_storage",
                "the server keeps at least "
                f"{limits.min_free_bytes} bytes free (API_EVIDENCE_MIN_FREE_BYTES) and has no "
                "room for this file now; try again later",
                field="file",
                limit="API_EVIDENCE_MIN_FREE_BYTES",
                limit_value=limits.min_free_bytes,
            )
        mine = EVIDENCE_FILE.c.charity_id == charity_id
        used = connection.execute(
            select(func.coalesce(func.sum(EVIDENCE_FILE.c.size), 0)).where(mine)
        ).scalar_one()
        if used + size > limits.quota_bytes:
            raise ApiError(
                413,
                "evidence_quota_exceeded",
                f"a charity keeps at most {limits.quota_bytes} bytes of evidence "
                f"(API_EVIDENCE_QUOTA_BYTES); it holds {used} and this file is {size}. Files "
                f"no disbursement cites are removed {limits.orphan_grace_s} s after upload",
                field="file",
                limit="API_EVIDENCE_QUOTA_BYTES",
                limit_value=limits.quota_bytes,
            )
        now = datetime.now(UTC)
        window = timedelta(seconds=limits.rate_window_s)
        recent = [
            (at, stored)
            for at, stored in connection.execute(
                select(EVIDENCE_FILE.c.uploaded_at, EVIDENCE_FILE.c.size)
                .where(mine, EVIDENCE_FILE.c.uploaded_at > now - window)
                .order_by(EVIDENCE_FILE.c.uploaded_at)
            )
        ]
        files_over = len(recent) + 1 - limits.rate_files
        bytes_over = sum(stored for _, stored in recent) + size - limits.rate_bytes
        if files_over <= 0 and bytes_over <= 0:
            return
        # The moment enough of the window's uploads have aged out of it.
        freed_bytes = 0
        retry_at = now + window
        for freed_files, (at, stored) in enumerate(recent, start=1):
            freed_bytes += stored
            if freed_files >= files_over and freed_bytes >= bytes_over:
                retry_at = at + window
                break
        retry_after_s = max(1, math.ceil((retry_at - now).total_seconds()))
        limit, value = (
            ("API_EVIDENCE_RATE_FILES", limits.rate_files)
            if files_over > 0
            else ("API_EVIDENCE_RATE_BYTES", limits.rate_bytes)
        )
        unit = "files" if files_over > 0 else "bytes"
        raise RateLimitedError(
            f"a charity uploads at most {value} {unit} of evidence in "
            f"{limits.rate_window_s} s ({limit}, API_EVIDENCE_RATE_WINDOW_S); "
            f"retry in {retry_after_s} s",
            limit=limit,
            value=value,
            retry_after_s=retry_after_s,
        )

    def records(self, sha256: bytes) -> list[EvidenceRecord]:
        """Every charity's record of this file (the same bytes may be uploaded by several)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(EVIDENCE_FILE).where(EVIDENCE_FILE.c.sha256 == sha256)
            ).all()
        return [_record(row) for row in rows]

    def get(self, sha256: bytes, charity_id: str) -> EvidenceRecord | None:
        """This charity's record of the file, if it uploaded it."""
        return next((r for r in self.records(sha256) if r.charity_id == charity_id), None)

    def read(self, sha256: bytes) -> bytes | None:
        """The file's bytes, or None if it is missing on disk (logged: the operator's to fix)."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            log.error("evidence %s has a row but no file under %s", sha256.hex(), self.root)
            return None

    # -- collecting files no disbursement cites ---------------------------------------------

    def citations(self) -> dict[tuple[str, bytes], tuple[str, bool]]:
        """What the journal's disbursements cite: (charity, sha256) -> (media type, public)."""
        cited: dict[tuple[str, bytes], tuple[str, bool]] = {}
        query = select(ENTRY.c.leaf).where(ENTRY.c.kind == "disbursement.made")
        with self.engine.connect() as connection:
            for leaf in connection.execute(query.execution_options(yield_per=1000)).scalars():
                body = json.loads(leaf)["body"]
                for item in body.get("evidence", ()):
                    key = (str(body["charity_id"]), from_hex(str(item["sha256"])))
                    public = bool(item["public"]) or cited.get(key, ("", False))[1]
                    cited[key] = (str(item["media_type"]), public)
        return cited

    def collect(self, now: datetime | None = None) -> Collected:
        """Remove the files and rows no disbursement cites, older than the grace period.

        1. A charity's row older than the grace period that none of its disbursements
           cites (and not public) is deleted; if it was the file's last row, the file's
           time is set to now, so the file itself waits one more grace period: a
           disbursement checked against the row just before will have cited it by then.
        2. A file with no row and older than the grace period is removed, unless a
           disbursement cites it: then its rows are written again from the citations.
        3. Uploads in progress (``.upload-*``) older than the grace period are leftovers of
           a crash: removed.

        Each removal re-checks under the file's lock, so uploads may go on meanwhile.
        """
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(seconds=self.limits.orphan_grace_s)
        cited = self.citations()
        cited_files = {sha256 for _, sha256 in cited}
        done = Collected()
        with self.engine.connect() as connection:
            candidates = connection.execute(
                select(EVIDENCE_FILE.c.sha256, EVIDENCE_FILE.c.charity_id).where(
                    EVIDENCE_FILE.c.uploaded_at < cutoff, EVIDENCE_FILE.c.public.is_(False)
                )
            ).all()
        for raw, charity_id in candidates:
            sha256 = bytes(raw)
            if (charity_id, sha256) in cited:
                continue
            with self.engine.begin() as connection:
                _lock(connection, b"file:" + sha256)
                removed = connection.execute(
                    delete(EVIDENCE_FILE).where(
                        EVIDENCE_FILE.c.sha256 == sha256,
                        EVIDENCE_FILE.c.charity_id == charity_id,
                        EVIDENCE_FILE.c.uploaded_at < cutoff,
                        EVIDENCE_FILE.c.public.is_(False),
                    )
                ).rowcount
                left = self._row_count(connection, sha256)
            done.rows_removed += removed
            if removed and not left:
                with contextlib.suppress(FileNotFoundError):
                    os.utime(self.path(sha256))
        with self.engine.connect() as connection:
            held = {
                bytes(raw) for raw in connection.execute(select(EVIDENCE_FILE.c.sha256)).scalars()
            }
        for path in self._stored_files():
            sha256 = bytes.fromhex(path.name)
            if sha256 in held:  # re-checked below only for files that had no row
                continue
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            if datetime.fromtimestamp(info.st_mtime, UTC) >= cutoff:
                continue
            with self.engine.begin() as connection:
                _lock(connection, b"file:" + sha256)
                if self._row_count(connection, sha256):
                    continue
                if sha256 in cited_files:
                    done.rows_restored += self._restore(connection, sha256, info.st_size, cited)
                    continue
                path.unlink(missing_ok=True)
            done.files_removed += 1
            done.bytes_freed += info.st_size
        if self.root.is_dir():
            for path in self.root.glob(TEMP_PREFIX + "*"):
                with contextlib.suppress(FileNotFoundError):
                    if datetime.fromtimestamp(path.stat().st_mtime, UTC) < cutoff:
                        path.unlink()
                        done.temp_removed += 1
        return done

    @staticmethod
    def _row_count(connection: Connection, sha256: bytes) -> int:
        return int(
            connection.execute(
                select(func.count()).where(EVIDENCE_FILE.c.sha256 == sha256)
            ).scalar_one()
        )

    @staticmethod
    def _restore(
        connection: Connection,
        sha256: bytes,
        size: int,
        cited: dict[tuple[str, bytes], tuple[str, bool]],
    ) -> int:
        """Write again the rows of a cited file whose rows are gone (its citations say how)."""
        rows = [
            {
                "sha256": sha256,
                "charity_id": charity_id,
                "media_type": media_type,
                "size": size,
                "filename": None,
                "public": public,
                "uploaded_at": datetime.now(UTC),
            }
            for (charity_id, cited_sha), (media_type, public) in cited.items()
            if cited_sha == sha256
        ]
        connection.execute(EVIDENCE_FILE.insert(), rows)
        log.warning("evidence %s is cited but had no row: %d restored", sha256.hex(), len(rows))
        return len(rows)

    def _stored_files(self) -> list[Path]:
        """The files under ``root/<2 hex>/<64 hex>`` (nothing else there is ours to touch)."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for path in folder.iterdir():
                name = path.name
                if len(name) == 64 and name.startswith(folder.name) and _is_hex(name):
                    found.append(path)
        return found

    def run_collector(self, stop: threading.Event) -> None:
        """Collect now and every ``collect_interval_s`` until ``stop`` (a thread of ``serve``)."""
        while not stop.is_set():
            try:
                done = self.collect()
                if done.rows_removed or done.files_removed or done.temp_removed:
                    log.info(
                        "evidence collected: %d rows, %d files (%d bytes), %d partial uploads",
                        done.rows_removed,
                        done.files_removed,
                        done.bytes_freed,
                        done.temp_removed,
                    )
            except Exception:  # the service goes on; the next round retries
                log.exception("collecting evidence failed; retrying later")
            stop.wait(self.limits.collect_interval_s)


def _is_hex(name: str) -> bool:
    return all(ch in "0123456789abcdef" for ch in name)
