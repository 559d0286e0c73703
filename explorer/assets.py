"""The explorer's static files: URLs that name their content, and caching that trusts it.

A page links each file with its version, the first twelve hex digits of its SHA-256
(``/static/verify.js?v=…``). Those bytes can never change under that URL, so the answer
may be kept a year without asking again (``caching.IMMUTABLE``): a donor who opened one
donation page fetches none of its eleven files for the next, and a CDN in front keeps
them for every donor. Any other URL of the same file (no version, or a version an older
page named before an upgrade) is answered ``no-cache``: a cache must ask each time, and
gets a ``304`` when it still holds the current bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qs

from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from explorer import caching, urls

STATIC = Path(__file__).resolve().parent / "static"
VERSION_DIGITS = 12


def versions(directory: Path = STATIC) -> dict[str, str]:
    """Each file's version, by its path under ``directory`` (``vendor/…`` too)."""
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[
            :VERSION_DIGITS
        ]
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


class VersionedStaticFiles(StaticFiles):
    """``StaticFiles`` that tells caches how long each answer may be kept (see above)."""

    def __init__(self, directory: Path = STATIC) -> None:
        super().__init__(directory=directory)
        self.versions = versions(directory)

    def url(self, name: str) -> str:
        """A file's URL with its version (an unknown name gets one no file has)."""
        return f"{urls.static(name)}?v={self.versions.get(name, '0')}"

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):  # a 304 repeats the 200's Cache-Control
            asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v")
            current = self.versions.get(Path(path).as_posix())
            named = asked == [current] and current is not None
            response.headers["cache-control"] = caching.IMMUTABLE if named else caching.NOT_KEPT
        return response
