"""POST /api/v1/receipts/transfer-qr: the QR code that moves a donor's list to a device.

The endpoint is public and draws a code (CPU) for what it is sent: it must take only one
link's worth of receipts, make the link on this site's own URL, keep nothing, and refuse
a flood rather than queue it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from api import transfer
from api.rpc import RateLimiter
from explorer import history
from tests.api.conftest import Api

URL = "/api/v1/receipts/transfer-qr"
SECRET = "0123456789abcdef0123456789abcdef"


def receipts(count: int) -> str:
    return "1" + "".join(f"~dn_{i:020d}.{SECRET}" for i in range(count))


def post(api: Api, body: Any = None, **kwargs: Any) -> Any:
    if body is not None:
        kwargs["json"] = body
    return api.client.post(URL, **kwargs)


def decode_svg(svg: bytes) -> str:
    """What the SVG's QR code says: its modules drawn as pixels, read by zxing-cpp."""
    view = re.search(rb'viewBox="0 0 ([0-9]+) ([0-9]+)"', svg)
    path = re.search(rb' d="([^"]+)"', svg)
    assert view is not None, svg[:300]
    assert path is not None, svg[:300]
    # qrcode's SvgPathImage: a square "Mx,yH…V…H…z" per dark module, one unit a module.
    squares = re.findall(r"M([0-9.]+),([0-9.]+)", path.group(1).decode())
    scale = 4
    modules = int(view.group(1))
    image = Image.new("L", (modules * scale, modules * scale), 255)
    pixels = image.load()
    assert pixels is not None
    for x_text, y_text in squares:
        x, y = round(float(x_text)), round(float(y_text))
        for dx in range(scale):
            for dy in range(scale):
                pixels[x * scale + dx, y * scale + dy] = 0
    found = zxingcpp.read_barcodes(image)
    assert found, "no QR code found in the SVG"
    return str(found[0].text)


def test_a_link_s_receipts_come_back_as_a_qr_code_of_this_site_s_my_page(api: Api) -> None:
    before = api.stored()
    payload = receipts(history.PER_CODE)
    response = post(api, {"import": payload})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "no-store"
    assert response.content.lstrip().startswith(b"<?xml") or b"<svg" in response.content[:200]
    assert decode_svg(response.content) == f"http://testserver/my#import={payload}"
    assert api.stored() == before  # nothing kept, nothing appended


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"import": receipts(history.PER_CODE + 1)}, "import"),  # more than one code holds
        ({"import": "1"}, "import"),  # no receipt
        ({"import": receipts(1).upper()}, "import"),
        ({"import": receipts(1).replace("dn_", "ch_")}, "import"),  # not a donation
        ({"import": receipts(1) + "#x"}, "import"),
        ({"import": "https://evil.example/#" + receipts(1)}, "import"),  # no other link
        ({"import": receipts(1)[:-1]}, "import"),  # a secret cut short
        ({"import": "2" + receipts(1)[1:]}, "import"),  # a version this page does not know
        ({"import": 1}, "import"),
        ({"import": receipts(1), "url": "https://evil.example"}, "body"),
        ({"url": "https://evil.example"}, "body"),
        ([receipts(1)], "body"),
    ],
)
def test_anything_but_one_link_s_receipts_is_refused_naming_the_problem(
    api: Api, body: Any, field: str
) -> None:
    response = post(api, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


def test_a_body_that_is_not_json_or_not_declared_json_is_refused(api: Api) -> None:
    response = api.client.post(URL, content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "not JSON" in response.json()["detail"]
    form = api.client.post(URL, content=b'{"import": "1"}', headers={"Content-Type": "text/plain"})
    assert form.status_code == 415


def test_a_big_body_is_refused_before_it_is_read_whole(api: Api) -> None:
    big = b'{"import": "' + b"1" * (transfer.MAX_BODY + 10) + b'"}'
    declared = api.client.post(URL, content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413

    def chunks() -> Any:
        yield b'{"import": "'
        for _ in range(100):
            yield b"1" * 100
        yield b'"}'

    chunked = api.client.post(URL, content=chunks(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413


def test_a_client_over_its_rate_is_refused_with_retry_after(api: Api) -> None:
    payload = {"import": receipts(1)}
    assert post(api, payload).status_code == 200  # the gate exists now
    # Its bucket as the endpoint's, but refilled slower than a loaded machine draws codes.
    gate = api.client.app.state.transfer_gate  # type: ignore[attr-defined]
    gate.rates = RateLimiter(0.001, transfer.BURST, max_wait=0.0, max_clients=10)
    answers = [post(api, payload).status_code for _ in range(transfer.BURST + 1)]
    assert answers == [200] * transfer.BURST + [429]
    refused = post(api, payload)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["code"] == "rate_limited"


def test_while_a_code_is_drawn_another_is_refused_not_queued(api: Api) -> None:
    assert post(api, {"import": receipts(1)}).status_code == 200  # the gate exists now
    gate = api.client.app.state.transfer_gate  # type: ignore[attr-defined]
    assert gate.drawing.acquire(blocking=False)
    try:
        busy = post(api, {"import": receipts(1)})
    finally:
        gate.drawing.release()
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert post(api, {"import": receipts(1)}).status_code == 200
