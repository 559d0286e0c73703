"""Bodies over the limit get 413, with or without Content-Length, through a real server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from chain.devnet import free_port
from tests.api.conftest import MINIMAL_PDF, Api, ApiFactory, new_key
from tests.api.evidence_files import files_on_disk, rows
from tests.serving import serve

BOUNDARY = b"shanlian-chunked-boundary"
MAX_UPLOAD = 4096
UPLOAD_LIMIT = MAX_UPLOAD + 64 * 1024
"""What BodyLimit allows on POST /evidence: the file's limit and room for the multipart."""


@pytest.fixture
def served(make_api: ApiFactory, sqlite_url: str) -> Iterator[tuple[Api, str]]:
    """The app under uvicorn on a free port (TestClient always sends Content-Length)."""
    api = make_api(sqlite_url, max_upload_bytes=MAX_UPLOAD)
    with serve(api.client.app, free_port(), "body-limit-test-server") as base:
        yield api, base


def multipart_chunks(content_size: int, chunk: int = 8192) -> Iterator[bytes]:
    """A multipart upload of a text file of ``content_size`` bytes, as a generator: httpx
    sends it with ``Transfer-Encoding: chunked`` and no Content-Length."""
    yield (
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
    )
    left = content_size
    while left > 0:
        yield b"x" * min(chunk, left)
        left -= chunk
    yield b"\r\n--" + BOUNDARY + b"--\r\n"


def post_chunked(url: str, key: dict[str, str], content_size: int) -> httpx.Response:
    headers = key | {"Content-Type": "multipart/form-data; boundary=" + BOUNDARY.decode()}
    request = httpx.Request(
        "POST", f"{url}/api/v1/evidence", headers=headers, content=multipart_chunks(content_size)
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    with httpx.Client(timeout=60) as client:
        return client.send(request)


@pytest.mark.parametrize("size", [UPLOAD_LIMIT + 1, 2 * UPLOAD_LIMIT, 50 * UPLOAD_LIMIT])
def test_a_chunked_upload_over_the_limit_is_413_and_stores_nothing(
    served: tuple[Api, str], size: int
) -> None:
    api, url = served
    _, key = api.register_charity()
    response = post_chunked(url, key, size)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "payload_too_large"
    assert problem["limit"] == "API_MAX_UPLOAD_BYTES"
    assert problem["limit_value"] == UPLOAD_LIMIT
    assert rows(api) == []
    assert files_on_disk(api) == []


def test_a_chunked_upload_within_the_limits_is_stored(served: tuple[Api, str]) -> None:
    api, url = served
    _, key = api.register_charity()
    response = post_chunked(url, key, MAX_UPLOAD)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == MAX_UPLOAD
    # One byte more fits in the body's limit but not in the file's: 413 from the store.
    response = post_chunked(url, key, MAX_UPLOAD + 1)
    assert response.status_code == 413
    assert response.json()["limit"] == "API_MAX_UPLOAD_BYTES"
    assert response.json()["limit_value"] == MAX_UPLOAD
    assert len(rows(api)) == 1


def test_a_chunked_json_body_over_the_limit_is_413(served: tuple[Api, str]) -> None:
    api, url = served
    charity_id, key = api.register_charity()
    before = api.stored()

    def body() -> Iterator[bytes]:
        yield b'{"charity_id": "' + charity_id.encode() + b'", "payee": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    request = httpx.Request(
        "POST",
        f"{url}/api/v1/disbursements",
        headers=key | new_key() | {"Content-Type": "application/json"},
        content=body(),
    )
    with httpx.Client(timeout=60) as client:
        response = client.send(request)
    assert response.status_code == 413, response.text
    assert response.json()["limit"] == "API_MAX_BODY_BYTES"
    assert api.stored() == before


def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(
    served: tuple[Api, str],
) -> None:
    api, url = served
    _, key = api.register_charity()
    content = MINIMAL_PDF + b"%" * (UPLOAD_LIMIT + 1)
    response = httpx.post(
        f"{url}/api/v1/evidence",
        files={"file": ("a.pdf", content, "application/pdf")},
        headers=key,
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert files_on_disk(api) == []
