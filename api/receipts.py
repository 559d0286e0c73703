"""Receipts: the QR code that leads a donor to their donation, as PNG, SVG and a page."""

from __future__ import annotations

import io
from pathlib import Path

import qrcode
import qrcode.image.svg
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from qrcode.constants import ERROR_CORRECT_L, ERROR_CORRECT_M

from explorer.models import DonationSummary
from ledger.currencies import money

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
"""The receipt's template; everything it is given is escaped but the QR code's SVG."""


def qr_png(url: str) -> bytes:
    """A QR code of ``url`` as PNG."""
    image = qrcode.make(url, error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_svg(url: str, *, small: bool = False) -> bytes:
    """A QR code of ``url`` as SVG (paths, scalable for print).

    ``small``: the lowest error correction, for a code shown on a screen (a smaller code
    for a long link), where print wants more.
    """
    image = qrcode.make(
        url,
        error_correction=ERROR_CORRECT_L if small else ERROR_CORRECT_M,
        box_size=10,
        border=4,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def receipt_page(donation: DonationSummary, url: str) -> str:
    """A printable receipt (zh-CN and en) of ``donation``, the QR code of ``url`` inline as SVG.

    ``url`` is the donation's receipt link: the secret the page shows is its ``#s=`` fragment.
    """
    svg = qr_svg(url).decode("utf-8")
    return TEMPLATES.get_template("receipt.html").render(
        donation=donation,
        url=url,
        secret_hex=url.rsplit("#s=", 1)[1],
        money=money,
        # Our own drawing, without its XML declaration: markup, not text to escape.
        qr_code=Markup(svg[svg.index("<svg") :]),  # noqa: S704
    )
