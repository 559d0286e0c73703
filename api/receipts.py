"""Receipts: the QR code that leads a donor to their donation, as PNG, SVG and a page."""

from __future__ import annotations

import html
import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_L, ERROR_CORRECT_M

from explorer.formatting import money


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


def receipt_page(
    *,
    donation_id: str,
    charity_name: str,
    project_title: str | None,
    amount: int,
    currency: str,
    paid_at: str,
    seq: int,
    url: str,
    secret_hex: str,
) -> str:
    """A printable receipt (zh-CN and en), the QR code inline as SVG."""
    svg = qr_svg(url).decode("utf-8")
    svg = svg[svg.index("<svg") :]
    e = html.escape
    project = e(project_title) if project_title else "一般用途 · general fund"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>捐赠收据 · Donation receipt {e(donation_id)}</title>
<style>
body {{ font-family: system-ui, "Noto Sans CJK SC", sans-serif; max-width: 36rem;
       margin: 2rem auto; padding: 0 1rem; color: #111; }}
h1 {{ font-size: 1.4rem; }} dt {{ font-weight: 600; margin-top: .6rem; }} dd {{ margin: 0; }}
.qr svg {{ width: 14rem; height: 14rem; }}
.secret {{ font-family: monospace; word-break: break-all; }}
@media print {{ .noprint {{ display: none; }} }}
</style></head><body>
<h1>善链 捐赠收据 · Donation receipt</h1>
<dl>
<dt>捐赠编号 · Donation</dt><dd>{e(donation_id)} (journal entry #{seq})</dd>
<dt>受赠机构 · Charity</dt><dd>{e(charity_name)}</dd>
<dt>项目 · Project</dt><dd>{project}</dd>
<dt>金额 · Amount</dt><dd>{e(money(amount, currency))}</dd>
<dt>付款时间 · Paid at</dt><dd>{e(paid_at)}</dd>
</dl>
<p>扫描二维码，查看善款去向并亲自核验。<br>
Scan to see where your money went, and verify it yourself.</p>
<div class="qr">{svg}</div>
<p><a href="{e(url)}">{e(url)}</a></p>
<p>收据密钥（请妥善保管，它证明这笔捐赠属于您）· Receipt secret (keep it: it shows the
donation is yours):<br><span class="secret">{e(secret_hex)}</span></p>
<p class="noprint"><button onclick="window.print()">打印 · Print</button></p>
</body></html>
"""
