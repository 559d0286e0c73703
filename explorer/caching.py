"""HTTP caching of public reads: what a cache may keep, for how long, and conditional GET.

Three policies (ADR 0036):

- ``IMMUTABLE``: what can never change — a tile, an entry whose checkpoint is confirmed
  on a chain that outlives the process, a proof against such a checkpoint;
- ``FRESH``: every other public read, a few seconds, then revalidated by its ETag (a page
  with balances, a status, the latest checkpoint);
- ``PRIVATE``: anything that carries a secret or was asked with credentials: no cache,
  shared or the browser's, may keep it.

``ConditionalGet`` does the rest once for every route: a response a cache may keep gets
a strong ETag (the first 128 bits of its body's SHA-256) unless the route gave one, a
``GET`` or ``HEAD`` whose ``If-None-Match`` names it is answered ``304`` with no body, a
``HEAD`` gets the headers of its ``GET`` and no body, and a response to a request that
carried ``Authorization`` is never left cacheable by a shared cache.

``PageCache`` is the explorer's own, in the process: the pages it drew a moment ago
(``API_PAGE_CACHE_S``), kept no longer than the policy lets any cache keep them.
``ExactPageCache`` keeps pages with the version of what they were drawn from, and serves
one only while that version holds: never a page other than the one drawn afresh would
be (``API_PAGE_CACHE_EXACT``, ADR 0046).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRESH_S = 5
"""Seconds a cache may serve a public read that can change without asking again."""
IMMUTABLE = "public, max-age=31536000, immutable"
"""Never changes: a year, and no revalidation on reload (RFC 8246)."""
FRESH = f"public, max-age={FRESH_S}"
"""Can change: a few seconds, then the ETag revalidates it (a 304 costs no body)."""
SETTLED_S = 86400
SETTLED = f"public, max-age={SETTLED_S}, immutable"
"""Rests only on what never changes (an entry and its confirmed checkpoint), but is drawn
by code an upgrade may change: a day without asking, then a 304 until the bytes differ."""
PRIVATE = "private, no-store"
"""A secret, or an answer to credentials: kept by no cache at all."""
NOT_KEPT = "no-cache"
"""Not found, refused, failed: a cache may keep it only to ask again every time."""
MAX_TAGGED_BYTES = 4 * 1024 * 1024
"""Bodies longer than this (a streamed export) get no ETag: they are not held in memory."""
_NOT_MODIFIED_HEADERS = (
    b"cache-control",
    b"content-location",
    b"date",
    b"etag",
    b"expires",
    b"vary",
    b"content-language",
)
"""What a 304 repeats of the 200 it stands for (RFC 9110 §15.4.5), and nothing else."""


def etag_of(body: bytes) -> str:
    """A strong entity tag of ``body``: the first 128 bits of its SHA-256, quoted."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (RFC 9110 §13.1.2: the weak comparison)."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def private_copy(cache_control: str) -> str:
    """The same freshness for the browser alone (a response that sets a cookie)."""
    return cache_control.replace("public", "private", 1)


def _directives(cache_control: str | None) -> set[str]:
    return {d.strip().split("=", 1)[0].lower() for d in (cache_control or "").split(",")}


def shared_cacheable(cache_control: str | None) -> bool:
    """Whether a shared cache may keep a response with this ``Cache-Control``."""
    directives = _directives(cache_control)
    return "public" in directives and not directives & {"private", "no-store", "no-cache"}


class ConditionalGet:
    """ETags, ``304 Not Modified`` and ``HEAD`` for every route, and no public credentials.

    Only ``GET`` and ``HEAD`` are touched. A ``200`` whose ``Cache-Control`` lets a
    shared cache keep it (``public``) is held until its body is complete (at most
    ``MAX_TAGGED_BYTES``; a longer or streamed one passes on untagged), tagged with
    ``etag_of`` unless the route tagged it, and answered ``304`` when ``If-None-Match``
    names its tag. A response to a request with ``Authorization`` becomes ``PRIVATE``
    unless the route forbade storing it already: what a bearer sees is theirs. An error
    the route said nothing about gets ``NOT_KEPT`` (RFC 9111 lets caches keep a 404).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        credentials = "authorization" in request_headers
        if_none_match = request_headers.get("if-none-match")
        head = method == "HEAD"
        start: Message | None = None
        held: list[bytes] = []
        size = 0
        holding = False

        async def answer(message: Message) -> None:
            nonlocal start, size, holding
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                cache_control = headers.get("cache-control")
                if credentials and "no-store" not in _directives(cache_control):
                    headers["cache-control"] = PRIVATE
                elif message["status"] >= 400 and cache_control is None:
                    headers["cache-control"] = NOT_KEPT  # a 404 is cacheable by default
                holding = message["status"] == 200 and shared_cacheable(
                    headers.get("cache-control")
                )
                start = {**message, "headers": headers.raw}
                if not holding:
                    await send(start)
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            if not holding:
                await send({**message, "body": b""} if head else message)
                return
            chunk = message.get("body", b"")
            held.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if more and size <= MAX_TAGGED_BYTES:
                return
            if more:  # too long to hold: send what is held and the rest as it comes
                holding = False
                await send(start)
                body = b"" if head else b"".join(held)
                await send({"type": "http.response.body", "body": body, "more_body": True})
                return
            await self._finish(start, b"".join(held), if_none_match, head, send)

        await self.app(scope, receive, answer)

    @staticmethod
    async def _finish(
        start: Message, body: bytes, if_none_match: str | None, head: bool, send: Send
    ) -> None:
        headers = MutableHeaders(raw=list(start["headers"]))
        etag = headers.get("etag") or etag_of(body)
        headers["etag"] = etag
        if none_match(if_none_match, etag):
            kept = [(k, v) for k, v in headers.raw if k.lower() in _NOT_MODIFIED_HEADERS]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({**start, "headers": headers.raw})
        await send({"type": "http.response.body", "body": b"" if head else body})


@dataclass(frozen=True)
class Drawn:
    """A page's bytes and what they were drawn as: what the page caches keep."""

    body: bytes
    language: str | None
    """The HTML's language; None for a ``.json`` twin."""
    cache: str
    """Its ``Cache-Control`` (ADR 0036)."""
    status_code: int

    @cached_property
    def etag(self) -> str:
        """Its strong entity tag (``etag_of``), computed once for every time it is served."""
        return etag_of(self.body)


def keepable(drawn: Drawn) -> bool:
    """Whether a page cache may keep ``drawn``: a 200 that any cache may keep (no 404,
    nothing private)."""
    return drawn.status_code == 200 and shared_cacheable(drawn.cache)


class PageCache:
    """Pages drawn a moment ago, served again without asking the journal (ADR 0036).

    A page that can change is kept ``ttl_s`` seconds — no longer than ``FRESH``
    lets any cache keep it, so the server is never staler than what it tells a CDN it may
    be — and a settled one for a day; at most ``size`` pages, the least recently used
    leaving first. Only what a shared cache may keep is kept (no 404, no private page).
    """

    def __init__(
        self, ttl_s: float, *, size: int = 2048, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not 0 < ttl_s <= FRESH_S:
            raise ValueError(f"a page cache keeps pages for 0 < s <= {FRESH_S}")
        self.ttl_s = ttl_s
        self.size = size
        self._clock = clock
        self._pages: OrderedDict[Hashable, tuple[float, Drawn]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Drawn | None:
        with self._lock:
            kept = self._pages.get(key)
            if kept is None:
                return None
            if kept[0] <= self._clock():
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return kept[1]

    def put(self, key: Hashable, drawn: Drawn) -> None:
        if not keepable(drawn):
            return
        ttl_s = SETTLED_S if drawn.cache == SETTLED else self.ttl_s
        with self._lock:
            self._pages[key] = (self._clock() + ttl_s, drawn)
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


EXACT_PAGES = 4096
"""Pages the exact cache keeps at most (a page per item, language and twin)."""
EXACT_BYTES = 64 * 1024 * 1024
"""Bytes of pages the exact cache keeps at most, its bound on memory (the bodies)."""
EXACT_PAGE_BYTES = 1024 * 1024
"""A page longer than this is drawn every time, never kept."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Kept:
    version: object
    drawn: Drawn
    until: datetime | None


class ExactPageCache:
    """Pages kept with the version of everything they were drawn from (ADR 0046).

    ``get`` hands back a page only when the version read now equals the one it was drawn
    at, and before ``until`` (a page that shows when the next anchor is due reads the
    clock once that moment has passed): what it serves is what drawing the page afresh
    would give. The caller reads the version and the page's data in one read
    transaction, so that the version is the page's.

    Bounded: at most ``pages`` pages and ``size_bytes`` bytes of them, the least recently
    used leaving first; no page over ``page_bytes``, no 404, nothing private. Keys are
    for the caller to bound (one per item that exists, language and twin). Thread-safe.
    """

    def __init__(
        self,
        *,
        pages: int = EXACT_PAGES,
        size_bytes: int = EXACT_BYTES,
        page_bytes: int = EXACT_PAGE_BYTES,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.pages = pages
        self.size_bytes = size_bytes
        self.page_bytes = min(page_bytes, size_bytes)
        self._clock = clock
        self._kept: OrderedDict[Hashable, _Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def bytes(self) -> int:
        """Bytes of the pages kept now."""
        return self._bytes

    def get(self, key: Hashable, version: object) -> Drawn | None:
        """The page kept under ``key`` if it was drawn at ``version`` and is not past its
        moment; else None (and a page of another version is dropped)."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return None
            if kept.version != version or (kept.until is not None and self._clock() >= kept.until):
                self._drop(key)
                return None
            self._kept.move_to_end(key)
            return kept.drawn

    def put(
        self, key: Hashable, version: object, drawn: Drawn, *, until: datetime | None = None
    ) -> None:
        """Keep ``drawn``, drawn at ``version``, under ``key``; ``until``: the moment it
        stops being what drawing it afresh gives, whatever the version (None: never)."""
        size = len(drawn.body)
        if not keepable(drawn) or size > self.page_bytes:
            return
        if until is not None and self._clock() >= until:
            return
        with self._lock:
            self._drop(key)
            self._kept[key] = _Kept(version, drawn, until)
            self._bytes += size
            while len(self._kept) > self.pages or self._bytes > self.size_bytes:
                self._drop(next(iter(self._kept)))

    def _drop(self, key: Hashable) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._bytes -= len(kept.drawn.body)
