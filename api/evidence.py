"""Evidence files (invoices, photos), stored by the SHA-256 of their bytes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from api.errors import ApiError
from ledger.store.tables import EVIDENCE_FILE

# What the first bytes of each accepted type must be: the declared type is checked
# against the content, so a script cannot pass as a PDF.
MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}


@dataclass(frozen=True)
class EvidenceRecord:
    sha256: bytes
    charity_id: str
    media_type: str
    size: int
    filename: str | None
    public: bool
    uploaded_at: datetime


class EvidenceStore:
    """Files on disk under ``root/<2 hex>/<64 hex>``, their metadata in ``evidence_file``."""

    def __init__(
        self, engine: Engine, root: Path, *, max_bytes: int, media_types: tuple[str, ...]
    ) -> None:
        self.engine = engine
        self.root = root
        self.max_bytes = max_bytes
        self.media_types = media_types

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
                413 for a file over the size limit, 422 for an empty file.
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
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        handle = tempfile.NamedTemporaryFile(dir=self.root, delete=False)  # noqa: SIM115
        try:
            with handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ApiError(
                            413,
                            "payload_too_large",
                            f"evidence files are limited to {self.max_bytes} bytes",
                            field="file",
                        )
                    if len(head) < 16:
                        head += chunk[: 16 - len(head)]
                    digest.update(chunk)
                    handle.write(chunk)
            if size == 0:
                raise ApiError(422, "invalid_field", "file: the file is empty", field="file")
            self._check_content(media_type, head, Path(handle.name))
            sha256 = digest.digest()
            target = self.path(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(handle.name, target)
        finally:
            if os.path.exists(handle.name):
                os.unlink(handle.name)
        existing = self.get(sha256, charity_id)
        if existing is not None:
            return existing
        record = EvidenceRecord(
            sha256=sha256,
            charity_id=charity_id,
            media_type=media_type,
            size=size,
            filename=(filename or None) and filename[:255],
            public=False,
            uploaded_at=datetime.now(UTC),
        )
        with self.engine.begin() as connection:
            connection.execute(EVIDENCE_FILE.insert().values(**vars(record)))
        return record

    def _check_content(self, media_type: str, head: bytes, path: Path) -> None:
        if media_type == "text/plain":
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(
                    415, "unsupported_media_type", "a text/plain file must be UTF-8", field="file"
                ) from None
            return
        if not any(head.startswith(magic) for magic in MAGIC[media_type]):
            raise ApiError(
                415,
                "unsupported_media_type",
                f"the file's content is not {media_type}",
                field="file",
            )

    def records(self, sha256: bytes) -> list[EvidenceRecord]:
        """Every charity's record of this file (the same bytes may be uploaded by several)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(EVIDENCE_FILE).where(EVIDENCE_FILE.c.sha256 == sha256)
            ).all()
        out = []
        for row in rows:
            values = dict(row._mapping)
            values["sha256"] = bytes(values["sha256"])
            out.append(EvidenceRecord(**values))
        return out

    def get(self, sha256: bytes, charity_id: str) -> EvidenceRecord | None:
        """This charity's record of the file, if it uploaded it."""
        return next((r for r in self.records(sha256) if r.charity_id == charity_id), None)
