"""What an uploaded evidence file must be: its bytes of the type it declares, a clean name.

``check_content`` reads the file the upload was streamed to (``api.evidence``) and raises
``ContentError`` when it is not what its media type says: a PDF with its header and
``%%EOF``, text in UTF-8 without control characters, an image Pillow decodes whole within
the pixel limit.
"""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
from pathlib import Path

from api.errors import ApiError

PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
"""The last 12 bytes of every PNG: the IEND chunk, empty, with its CRC."""
PDF_HEADER = re.compile(rb"%PDF-[12]\.[0-9]")
PDF_TAIL_BYTES = 1024
"""Where ``%%EOF`` must be: within the last 1024 bytes (as PDF readers look for it)."""
TEXT_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
"""Control characters a text/plain file may not hold (tab, LF, FF and CR are allowed)."""
FILENAME_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""What a file name may not hold: controls (NUL…), bidi overrides, lone surrogates."""


class ContentError(ValueError):
    """The bytes are not a file of the declared type."""


def clean_filename(filename: str | None) -> str | None:
    """The client's file name as kept: its last path component, NFC, at most 255 characters.

    Raises:
        ApiError: 422 for a name with a control character (NUL…), a bidi override or a
            lone surrogate: never a real file's name, and PostgreSQL cannot store NUL.
    """
    if not filename:
        return None
    bad = FILENAME_CONTROLS.search(filename)
    if bad is not None:
        raise ApiError(
            422,
            "invalid_field",
            f"file: the file name holds the character U+{ord(bad.group()):04X}; rename the file",
            field="file",
        )
    name = unicodedata.normalize("NFC", re.split(r"[/\\]", filename)[-1]).strip()
    return name[:255] if name not in ("", ".", "..") else None


def check_content(media_type: str, path: Path, *, max_pixels: int) -> None:
    """Check that the file at ``path`` really is ``media_type``, by reading all of it.

    PDF: the header ``%PDF-1.x`` first and ``%%EOF`` in the last 1024 bytes. Images:
    Pillow opens them as that format only, and decodes them whole (a JPEG at 1/8 scale,
    which still reads every byte of its scan); a PNG must end with its IEND chunk. Text:
    UTF-8 with no control character but tab, line feed, form feed and carriage return.

    Raises:
        ContentError: what is wrong, to show the uploader.
    """
    if media_type == "application/pdf":
        _check_pdf(path)
    elif media_type == "text/plain":
        _check_text(path)
    elif media_type in PIL_FORMATS:
        _check_image(media_type, path, max_pixels)
    else:  # pragma: no cover - the accepted types are the keys above
        raise ContentError(f"no check for {media_type}")


def _check_pdf(path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(16)
        handle.seek(max(0, size - PDF_TAIL_BYTES))
        tail = handle.read()
    if not PDF_HEADER.match(head):
        raise ContentError("a PDF starts with %PDF-1.x (or 2.x)")
    if b"%%EOF" not in tail:
        raise ContentError("the PDF has no %%EOF at its end: it is cut short or not a PDF")


def _check_text(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    with path.open("rb") as handle:
        try:
            while block := handle.read(256 * 1024):
                found = TEXT_CONTROLS.search(decoder.decode(block))
                if found is not None:
                    raise ContentError(
                        f"a text/plain file may not hold the control character "
                        f"U+{ord(found.group()):04X}"
                    )
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ContentError("a text/plain file must be UTF-8") from None


def _check_image(media_type: str, path: Path, max_pixels: int) -> None:
    from PIL import Image

    expected = PIL_FORMATS[media_type]
    try:
        with Image.open(path, formats=[expected]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ContentError(
                    f"the image is {width}x{height} pixels; evidence images are limited to "
                    f"{max_pixels} pixels (API_EVIDENCE_MAX_PIXELS)"
                )
            image.verify()  # PNG: every chunk and its CRC
        with Image.open(path, formats=[expected]) as image:
            if expected == "JPEG":
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    except ContentError:
        raise
    except Exception as error:  # whatever the decoder says, the file is not this type
        reason = str(error).replace(f"'{path}'", "").replace(str(path), "").strip()
        raise ContentError(
            f"the file's content is not a whole {media_type} image ({reason})"
        ) from None
    if expected == "PNG":
        with path.open("rb") as handle:
            handle.seek(-len(PNG_END), os.SEEK_END)
            if handle.read() != PNG_END:
                raise ContentError("the PNG goes on after its IEND chunk (or is cut short)")
