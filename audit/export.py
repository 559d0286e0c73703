"""Reading a journal export: JSON Lines from a file, standard input or a URL, streamed.

Each line is one entry's leaf bytes, exactly (what ``Store.leaves()`` yields and what
``GET /api/v1/entries`` serves). Lines are yielded without their newline and never
held: a million-entry export is read in 1 MiB chunks.

A URL whose path ends in ``/entries`` is the API's paged endpoint: it is read page by
page (``limit=10000``, then ``after=<seq of the last line>``) until a page comes back
short. A URL whose path ends in ``/tlog`` is a C2SP tlog-tiles log (ADR 0031): its
signed checkpoint says how many entries there are (checked with the log's verifier key
when one is given), its entry bundles give them, and their Merkle root must be the
checkpoint's. Any other URL is read as one file.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from audit.errors import ExportError
from ledger.merkle import CompactRange, leaf_hash
from ledger.signed_note import CheckpointBody, NoteError, Verifier, open_checkpoint
from ledger.tile_paths import bundle_widths, tile_path

CHUNK_SIZE = 1 << 20
PAGE_LIMIT = 10_000
"""The API's largest page (DESIGN.md §7)."""
_LAST_SEQ = re.compile(rb'"seq":([0-9]+)')


def split_lines(chunks: Iterable[bytes], counter: list[int] | None = None) -> Iterator[bytes]:
    """Lines of a byte stream, without their ``\\n``; a last line without one counts too.

    Args:
        chunks: the stream, in pieces of any size.
        counter: if given, ``counter[0]`` is increased by the bytes read.
    """
    for block in split_blocks(chunks, counter):
        yield from block.split(b"\n")


class Blocks:
    """An export as blocks of whole lines: each block is one or more lines joined by ``\\n``.

    What ``Export.blocks()`` gives ``audit.journal.verify_journal`` instead of lines, so
    that no process splits a line it does not need on its own.
    """

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = blocks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._blocks)


def split_blocks(chunks: Iterable[bytes], counter: list[int] | None = None) -> Iterator[bytes]:
    """Blocks of whole lines of a byte stream: lines (as ``split_lines`` gives them) joined.

    Args:
        chunks: the stream, in pieces of any size.
        counter: if given, ``counter[0]`` is increased by the bytes read.
    """
    rest = b""
    for chunk in chunks:
        if counter is not None:
            counter[0] += len(chunk)
        if not chunk:
            continue
        cut = chunk.rfind(b"\n")
        if cut < 0:
            rest += chunk
            continue
        yield b"".join((rest, memoryview(chunk)[:cut]))  # one copy of the chunk, not two
        rest = chunk[cut + 1 :]
    if rest:
        yield rest


def is_url(source: str) -> bool:
    """Whether ``source`` is an http(s) URL rather than a path."""
    return source.startswith(("http://", "https://"))


def is_tlog(source: str) -> bool:
    """Whether ``source`` is the prefix of a tlog-tiles log (a URL ending in ``/tlog``)."""
    return is_url(source) and urlsplit(source).path.rstrip("/").endswith("/tlog")


class Export:
    """A journal export to read once: a path, ``-`` for standard input, or a URL.

    Attributes:
        source: what was given.
        total_bytes: the size to read when known (a file), for progress.
        bytes_read: bytes read so far.
    """

    def __init__(
        self,
        source: str,
        *,
        timeout_s: float = 60.0,
        page_limit: int = PAGE_LIMIT,
        log_key: Verifier | None = None,
    ) -> None:
        """Open the export; a missing file fails here, a URL when it is read.

        Args:
            source: a path, ``-``, or a URL (``…/entries``, ``…/tlog`` or a file).
            timeout_s: of each HTTP request.
            page_limit: entries per page of ``…/entries``.
            log_key: a tlog-tiles log's verifier key: its checkpoint must be signed by it.

        Raises:
            ExportError: the file does not exist or cannot be read.
        """
        self.source = source
        self.timeout_s = timeout_s
        self.page_limit = page_limit
        self.total_bytes: int | None = None
        self.log_key = log_key
        self.checkpoint: CheckpointBody | None = None
        """A tlog-tiles log's checkpoint, once read."""
        self._counter = [0]
        self._file: BinaryIO | None = None
        if source == "-":
            self._file = sys.stdin.buffer
        elif not is_url(source):
            try:
                self._file = open(source, "rb")  # noqa: SIM115 - closed by lines()
                self.total_bytes = os.fstat(self._file.fileno()).st_size
            except OSError as error:
                raise ExportError(source, f"cannot read it ({error.strerror})") from None

    @property
    def bytes_read(self) -> int:
        """Bytes read so far."""
        return self._counter[0]

    def lines(self) -> Iterator[bytes]:
        """The export's lines, streamed.

        Raises:
            ExportError: the URL answers with an error, or the connection fails.
        """
        if self._file is not None:
            yield from self._read(split_lines)
            return
        if urlsplit(self.source).path.rstrip("/").endswith("/entries"):
            yield from self._pages()
        elif is_tlog(self.source):
            yield from self._tlog()
        else:
            yield from self._get(self.source)

    def blocks(self) -> Blocks | Iterator[bytes]:
        """The export in blocks of whole lines when it is a file or standard input, else lines.

        Raises:
            ExportError: as ``lines``.
        """
        if self._file is None:
            return self.lines()
        return Blocks(self._read(split_blocks))

    def _read(
        self, split: Callable[[Iterable[bytes], list[int] | None], Iterator[bytes]]
    ) -> Iterator[bytes]:
        """The export file, read in chunks and cut by ``split``; closed at the end (not stdin)."""
        handle = self._file
        assert handle is not None
        try:
            yield from split(iter(lambda: handle.read(CHUNK_SIZE), b""), self._counter)
        except OSError as error:
            raise ExportError(self.source, f"read failed ({error})") from None
        finally:
            if handle is not sys.stdin.buffer:
                handle.close()

    def _get(self, url: str) -> Iterator[bytes]:
        try:
            with (
                httpx.Client(timeout=self.timeout_s, follow_redirects=True) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise ExportError(url, f"HTTP {response.status_code}")
                yield from split_lines(response.iter_bytes(CHUNK_SIZE), self._counter)
        except httpx.HTTPError as error:
            raise ExportError(url, f"{error.__class__.__name__}: {error}") from None

    def _fetch(self, client: httpx.Client, url: str) -> bytes:
        try:
            response = client.get(url)
        except httpx.HTTPError as error:
            raise ExportError(url, f"{error.__class__.__name__}: {error}") from None
        if response.status_code != 200:
            raise ExportError(url, f"HTTP {response.status_code}")
        self._counter[0] += len(response.content)
        return response.content

    def _tlog(self) -> Iterator[bytes]:
        """The entries of a tlog-tiles log up to its checkpoint, from its entry bundles."""
        base = self.source.rstrip("/")
        with httpx.Client(timeout=self.timeout_s, follow_redirects=True) as client:
            note = self._fetch(client, f"{base}/checkpoint").decode("utf-8", "replace")
            try:
                if self.log_key is not None:
                    checkpoint = open_checkpoint(note, self.log_key)
                else:
                    checkpoint = CheckpointBody.parse(note[: note.rfind("\n\n") + 1])
            except NoteError as error:
                raise ExportError(f"{base}/checkpoint", str(error)) from None
            self.checkpoint = checkpoint
            tree = CompactRange()
            for index, width in enumerate(bundle_widths(checkpoint.tree_size)):
                url = f"{base}/{tile_path(None, index, width)}"
                bundle = memoryview(self._fetch(client, url))
                for _ in range(width):
                    size = int.from_bytes(bundle[:2], "big")
                    if len(bundle) < 2 + size:
                        raise ExportError(url, "an entry is cut short")
                    entry = bytes(bundle[2 : 2 + size])
                    bundle = bundle[2 + size :]
                    tree.append(leaf_hash(entry))
                    yield entry
                if len(bundle):
                    raise ExportError(url, f"{len(bundle)} bytes after its {width} entries")
        if tree.root() != checkpoint.root_hash:
            raise ExportError(
                base,
                f"the entry bundles' Merkle root is not the checkpoint's (tree size "
                f"{checkpoint.tree_size}): the log serves other entries than it signed",
            )

    def _pages(self) -> Iterator[bytes]:
        parts = urlsplit(self.source)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("after", "limit")]
        after: int | None = None
        while True:
            page = [*query, ("limit", str(self.page_limit))]
            if after is not None:
                page.append(("after", str(after)))
            url = urlunsplit(parts._replace(query=urlencode(page)))
            count = 0
            last = b""
            for line in self._get(url):
                count += 1
                last = line
                yield line
            if count < self.page_limit:
                return
            found = _LAST_SEQ.findall(last)
            # The server pages by seq; if the last line has none, count lines instead
            # (the audit reports the broken line either way).
            after = int(found[-1]) if found else (-1 if after is None else after) + count
