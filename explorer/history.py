"""The donor's own list of donations (``static/history.js``): what the page script is given.

The list itself (donation ids and receipt secrets) lives in the donor's browser only; the
server renders the page and the messages, and the script fetches each donation's public
``.json`` twin. Messages are English here and translated through the explorer's catalog,
as every page text is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from explorer import urls
from ledger.currencies import MINOR_UNIT_DIGITS, SYMBOLS

PER_CODE = 8
"""Receipts in one QR code's link (history.js says the same): a code a camera reads at once."""

MAX_CODES = 12
"""QR codes the page shows at the most; a longer list moves as a file."""

KEEP_MESSAGES: dict[str, str] = {
    "keep_offer": "Keep this donation in your list on this device, to find it again later.",
    "kept": "This donation is in your list on this device.",
    "no_storage": "This browser does not let the page keep anything (private mode?): "
    "keep your receipt link instead.",
    "error_too_many": "Your list is full: at most {max} donations can be kept.",
    "error_no_storage": "This browser does not let the page keep anything.",
}

HISTORY_MESSAGES: dict[str, str] = {
    "loading": "Fetching your donations ({count})…",
    "shown": "Donations kept on this device: {count}.",
    "missing": "This donation is not in this site's journal: was it kept from another site?",
    "unreachable": "Could not fetch this donation just now; try again later.",
    "general_fund": "General fund",
    "paid": "Paid",
    "given": "Given",
    "spent": "Spent",
    "unspent": "Not yet spent",
    "refunded": "Refunded",
    "funded": "{amount} paid {payee}: {purpose}",
    "forget_one": "Forget on this device",
    "forget_all_confirm": "Forget every donation kept on this device? Your receipts and "
    "donations are not affected; only this list is removed.",
    "import_offer": "This link carries donations from another device ({count} in all, "
    "{fresh} not in your list yet). Add them to your list on this device?",
    "imported": "Added to your list: {count}.",
    "codes_intro": "Scan the codes ({count}) with the other device's camera, one after "
    "another: each adds its donations there. Anyone who scans them can see these donations as "
    "yours, so show them only to your own devices.",
    "code_n": "Code {n} of {count}",
    "too_many_codes": "Your list is too long for QR codes (more than {max} donations): "
    "save it to a file and open the file on the other device.",
    "no_storage": "This browser does not let the page keep anything (private mode, or a "
    "setting): the list cannot be kept here.",
    "error_not_json": "That file is not a list of donations: it is not JSON.",
    "error_not_ours": "That file is not a list of donations saved by this page.",
    "error_bad_version": "That file was saved by another version of this page ({version}).",
    "error_not_a_list": "That file holds no list of donations.",
    "error_too_many": "That is too many donations: at most {max} can be kept.",
    "error_bad_id": "Donation {n} of that list has no valid donation id.",
    "error_bad_secret": "Donation {n} of that list has no valid receipt code.",
    "error_bad_link": "That link is damaged: it carries no valid list of donations.",
    "error_too_big": "That file is too big to be a list of donations.",
    "error_no_storage": "This browser does not let the page keep anything.",
}


def _zone(language: str) -> tuple[int, str]:
    """The page's time zone as history.js shows times: (minutes east of UTC, its name)."""
    return (480, "北京时间") if language == "zh-CN" else (0, "UTC")


def history_config(language: str, translate: Callable[[str], str]) -> dict[str, Any]:
    """What the "My donations" page's script needs: messages, formats and URLs."""
    offset, zone = _zone(language)
    return {
        "messages": {key: translate(text) for key, text in HISTORY_MESSAGES.items()},
        "digits": MINOR_UNIT_DIGITS,
        "symbols": SYMBOLS,
        "offset_minutes": offset,
        "zone_name": zone,
        "donation_json": urls.donation("{id}", json=True).replace("%7Bid%7D", "{id}"),
        "donation_page": urls.donation("{id}").replace("%7Bid%7D", "{id}"),
        "my_path": urls.my(),
        "qr_url": urls.api_transfer_qr(),
        "max_codes": MAX_CODES,
    }


def keep_messages(translate: Callable[[str], str]) -> dict[str, str]:
    """The donation page's "keep this donation" messages, translated."""
    return {key: translate(text) for key, text in KEEP_MESSAGES.items()}
