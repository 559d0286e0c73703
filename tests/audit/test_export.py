"""Reading exports: files, standard input's stand-ins, and the API's paged URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.errors import ExportError
from audit.export import Blocks, Export, split_blocks, split_lines

JOURNAL = [b'{"seq":%d,"x":"%s"}' % (i, b"y" * (i % 7)) for i in range(25)]


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=20), st.data()
)
def test_split_lines_gives_the_lines_back_however_the_stream_is_cut(
    lines: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    counter = [0]
    assert list(split_lines(chunks, counter)) == lines
    assert counter[0] == len(stream)


@given(st.binary(max_size=200), st.data())
def test_blocks_hold_the_lines_split_lines_gives_however_the_stream_is_cut(
    stream: bytes, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    blocks = list(split_blocks(iter(chunks)))
    assert [line for block in blocks for line in block.split(b"\n")] == list(
        split_lines(iter(chunks))
    )


def test_a_file_export_is_read_in_blocks_of_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in JOURNAL))
    export = Export(str(path))
    blocks = export.blocks()
    assert isinstance(blocks, Blocks)
    assert [line for block in blocks for line in block.split(b"\n")] == JOURNAL
    assert export.bytes_read == path.stat().st_size


def test_a_last_line_without_a_newline_still_counts() -> None:
    assert list(split_lines([b"a\nb"])) == [b"a", b"b"]


def test_a_file_export_is_read_with_its_size_known(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in JOURNAL))
    export = Export(str(path))
    assert export.total_bytes == path.stat().st_size
    assert list(export.lines()) == JOURNAL
    assert export.bytes_read == export.total_bytes


def test_a_missing_file_fails_before_anything_is_read(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="cannot read it"):
        Export(str(tmp_path / "nope.jsonl"))


class _Api(BaseHTTPRequestHandler):
    """``GET /api/v1/entries?after=&limit=`` as the API serves it; other paths all at once."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        type(self).requests.append(self.path)
        if parts.path == "/fail":
            self.send_response(503)
            self.end_headers()
            return
        query = parse_qs(parts.query)
        if parts.path == "/api/v1/entries":
            start = int(query["after"][0]) + 1 if "after" in query else 0
            page = JOURNAL[start : start + int(query.get("limit", ["1000"])[0])]
        else:
            page = JOURNAL
        body = b"".join(line + b"\n" for line in page)
        self.send_response(200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_apis_entries_url_is_read_page_by_page_after_the_last_seq(api: str) -> None:
    export = Export(f"{api}/api/v1/entries", page_limit=10)
    assert list(export.lines()) == JOURNAL
    assert _Api.requests == [
        "/api/v1/entries?limit=10",
        "/api/v1/entries?limit=10&after=9",
        "/api/v1/entries?limit=10&after=19",
    ]


def test_any_other_url_is_read_as_one_file(api: str) -> None:
    assert list(Export(f"{api}/exports/journal.jsonl").lines()) == JOURNAL


def test_a_url_that_answers_with_an_error_fails_the_export(api: str) -> None:
    with pytest.raises(ExportError, match="HTTP 503"):
        list(Export(f"{api}/fail").lines())
