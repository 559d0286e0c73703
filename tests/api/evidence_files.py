"""Real files of each evidence type, and the broken and disguised ones an attacker sends."""

from __future__ import annotations

import io
import struct
import wave
import zlib
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select, update

from ledger.store.tables import EVIDENCE_FILE
from tests.api.conftest import MINIMAL_PDF, Api


def image(fmt: str, size: tuple[int, int] = (64, 48), color: str = "teal") -> bytes:
    """A real image of ``fmt`` (PNG, JPEG, WEBP, GIF) made by Pillow."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def noisy_jpeg(size: tuple[int, int] = (256, 256)) -> bytes:
    """A JPEG whose scan is long enough to cut in the middle."""
    picture = Image.effect_noise(size, 64).convert("RGB")
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=95)
    return out.getvalue()


def wav() -> bytes:
    """A WAV file: RIFF like WebP, but RIFF....WAVE."""
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x01" * 4000)
    return out.getvalue()


def png_with_bad_crc() -> bytes:
    data = bytearray(image("PNG"))
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF  # a byte of the compressed pixels; the chunk's CRC no longer fits
    return bytes(data)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


VALID = {
    "application/pdf": MINIMAL_PDF,
    "image/png": image("PNG"),
    "image/jpeg": image("JPEG"),
    "image/webp": image("WEBP"),
    "text/plain": "发票 2026-118\t昆明新华书店\r\n18 000.00 CNY\n\f第二页\n".encode(),
}

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"

# (what it is, declared type, bytes): each must be refused with 415.
DISGUISED = [
    ("a WAV renamed .webp", "image/webp", wav()),
    ("RIFF....WEBP then garbage", "image/webp", b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x00" * 24),
    ("a truncated WebP", "image/webp", image("WEBP", (256, 256))[:40]),
    ("a PNG declared as JPEG", "image/jpeg", image("PNG")),
    ("a JPEG declared as PNG", "image/png", image("JPEG")),
    ("a WebP declared as PNG", "image/png", image("WEBP")),
    ("a GIF declared as PNG", "image/png", image("GIF")),
    ("a truncated PNG", "image/png", image("PNG", (256, 256))[:-30]),
    ("a PNG cut after its header", "image/png", image("PNG")[:33]),
    ("a PNG whose pixels fail their CRC", "image/png", png_with_bad_crc()),
    ("a PNG with HTML after IEND", "image/png", image("PNG") + HTML),
    (
        "a PNG signature, then HTML",
        "image/png",
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"tEXt", b"x\x00" + HTML),
    ),
    ("a truncated JPEG", "image/jpeg", noisy_jpeg()[:4000]),
    ("a JPEG without its EOI marker", "image/jpeg", noisy_jpeg()[:-2]),
    ("a JPEG header, then HTML", "image/jpeg", b"\xff\xd8\xff\xe0" + HTML),
    ("an SVG declared as PNG", "image/png", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
    ("HTML declared as PDF", "application/pdf", HTML),
    ("a PDF cut short (no %%EOF)", "application/pdf", MINIMAL_PDF[:-7]),
    ("a PDF header with no version", "application/pdf", b"%PDF-\n%%EOF\n"),
    ("a PDF header after HTML", "application/pdf", HTML + MINIMAL_PDF),
    ("text with a NUL", "text/plain", b"invoice\x00 42"),
    ("text with a terminal escape", "text/plain", b"invoice \x1b[2J42"),
    ("text that is not UTF-8", "text/plain", "发票".encode("gb18030")),
    ("text cut in a UTF-8 sequence", "text/plain", "发票".encode()[:-1]),
    ("a PNG as text", "text/plain", image("PNG")),
]


def files_on_disk(api: Api) -> list[Path]:
    """Every file under the evidence folder, temporary ones included."""
    root = api.services.evidence.root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def rows(api: Api) -> list[dict[str, Any]]:
    with api.store.engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(EVIDENCE_FILE)).mappings()]


def text_file(n: int, size: int = 3000) -> bytes:
    """A distinct text/plain file of ``size`` bytes."""
    head = f"invoice {n}\n".encode()
    return head + b"x" * (size - len(head))


def age(api: Api, seconds: int) -> None:
    """Make every evidence row ``seconds`` older (the upload window's clock)."""
    with api.store.engine.begin() as connection:
        for row in connection.execute(select(EVIDENCE_FILE)).mappings():
            at = row["uploaded_at"]
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            connection.execute(
                update(EVIDENCE_FILE)
                .where(
                    EVIDENCE_FILE.c.sha256 == row["sha256"],
                    EVIDENCE_FILE.c.charity_id == row["charity_id"],
                )
                .values(uploaded_at=at - timedelta(seconds=seconds))
            )
