"""The printable receipt: amounts in the currency's own minor unit, everything escaped."""

from __future__ import annotations

import re

import pytest

from api.receipts import receipt_page
from explorer.models import DonationSummary


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(12345, "CNY", "¥123.45"), (12345, "JPY", "12,345 JPY"), (12345, "KWD", "12.345 KWD")],
)
def test_the_receipt_shows_the_amount_in_the_currencys_minor_unit(
    amount: int, currency: str, shown: str
) -> None:
    donation = DonationSummary(
        id="dn_x",
        seq=3,
        charity_id="ch_x",
        charity_name="<script>alert(1)</script>",
        project_id=None,
        project_title=None,
        amount=amount,
        currency=currency,
        paid_at="2026-11-26T10:00:00.000Z",
        refunded=0,
        allocated=0,
    )
    page = receipt_page(donation, "http://127.0.0.1:8000/donations/dn_x#s=" + "ab" * 16)
    match = re.search(r"Amount</dt><dd>(.*?)</dd>", page)
    assert match is not None
    assert match.group(1) == shown
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
