"""A donor's own list of donations, in real headless Chromium at phone width, both languages.

Each browser context is one device: the donor keeps a receipt their browser has proven
theirs, finds it on "My donations" with where its money went, and moves the list to a
second device by a file and to a third by the QR code the page shows (read back from the
screen by zxing-cpp, as a phone camera would). Nothing of the list reaches the server.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from explorer.catalog import ZH_CN
from explorer.history import HISTORY_MESSAGES, KEEP_MESSAGES
from ledger.currencies import money
from tests.explorer.test_browser_donor import PHONE, Demo, demo, open_phone, visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

__all__ = ["demo"]  # the demo server, shared with the donor's other browser tests

SHOTS = os.environ.get("SHANLIAN_SHOTS")
"""A folder to keep this test's screenshots in, to look at them (unset: none kept)."""


def text(message: str, language: str) -> str:
    return ZH_CN[message] if language == "zh-CN" else message


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"


def kept(page: Any) -> list[dict[str, Any]]:
    stored = page.evaluate("localStorage.getItem('shanlian.receipts')")
    return [] if stored is None else list(json.loads(stored)["receipts"])


def shown(page: Any, count: int) -> list[Any]:
    page.wait_for_selector("#history-status[data-state=done]")
    items = page.query_selector_all("#history-list > li[data-state=shown]")
    assert len(items) == count
    return items


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_a_donor_keeps_a_receipt_and_moves_the_list_by_file_and_by_qr_code(
    demo: Demo, browser: Any, language: str, tmp_path: Path
) -> None:
    donation_id, secret = demo.receipt.removeprefix("/donations/").split("#s=")
    view = demo.services.views.donation_view(donation_id)
    shown_amount = money(view.amount, view.currency)
    phone = open_phone(browser, language)

    # The receipt's link: the page proves the donation, then offers to keep it.
    visit(phone, demo.base + demo.receipt)
    phone.wait_for_selector("#keep:not([hidden])")
    assert phone.get_attribute("#receipt-result", "data-state") == "mine"
    assert phone.inner_text("#keep-state") == text(KEEP_MESSAGES["keep_offer"], language)
    assert kept(phone) == []  # nothing kept before the donor asks
    phone.click("#keep-button")
    assert phone.inner_text("#keep-state") == text(KEEP_MESSAGES["kept"], language)
    assert [(r["id"], r["secret"]) for r in kept(phone)] == [(donation_id, secret)]
    fits(phone)
    shot(phone, f"donation-kept-{language}")

    # "My donations": the donation, what it paid for, and the way back to its receipt.
    phone.click("#keep a")
    items = shown(phone, 1)
    card = items[0].inner_text()
    assert shown_amount in card
    assert view.charity_name in card
    link = items[0].query_selector("a").get_attribute("href")
    assert link == f"/donations/{donation_id}#s={secret}"
    assert shown_amount in phone.inner_text("#history-totals")
    fits(phone)
    shot(phone, f"my-{language}")
    # The one destructive control comes last, after the ways to save and load the list.
    assert phone.is_visible("#forget-all")
    assert phone.evaluate(
        "document.querySelector('#import-file').compareDocumentPosition("
        "document.querySelector('#forget-all')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )

    # A second device, by a file.
    with phone.expect_download() as download:
        phone.click("#export-file")
    saved = tmp_path / "list.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text())["receipts"][0]["id"] == donation_id
    laptop = open_phone(browser, language)
    visit(laptop, demo.base + "/my")
    laptop.wait_for_selector("#history-empty:not([hidden])")
    assert not laptop.is_visible("#forget-all")  # nothing to forget yet
    laptop.set_input_files("#import-file", str(saved))
    laptop.wait_for_selector("#import-offer:not([hidden])")
    assert kept(laptop) == []  # offered, not taken before the donor agrees
    laptop.click("#import-accept")
    assert shown_amount in shown(laptop, 1)[0].inner_text()
    assert [r["secret"] for r in kept(laptop)] == [secret]

    # A third device, by the QR code on the screen.
    phone.click("#show-codes")
    phone.wait_for_selector("#transfer-codes img")
    fits(phone)
    shot(phone, f"my-codes-{language}")
    png = phone.locator("#transfer-codes img").first.screenshot()
    read = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [r.text for r in read] == [f"{demo.base}/my#import=1~{donation_id}.{secret}"]
    tablet = open_phone(browser, language)
    visit(tablet, read[0].text)
    tablet.wait_for_selector("#import-offer:not([hidden])")
    assert "#" not in tablet.url  # the secrets leave the address bar at once
    shot(tablet, f"my-import-offer-{language}")
    tablet.click("#import-accept")
    shown(tablet, 1)

    # Forgetting is per device.
    tablet.click("#history-list button")
    tablet.wait_for_selector("#history-empty:not([hidden])")
    assert kept(tablet) == []
    assert len(kept(phone)) == 1
    for page in (phone, laptop, tablet):
        page.context.close()


def test_a_damaged_link_or_file_is_refused_and_keeps_nothing(
    demo: Demo, browser: Any, tmp_path: Path
) -> None:
    page = open_phone(browser, "en")
    visit(page, demo.base + "/my#import=1~dn_abc.not-a-secret")
    page.wait_for_selector("#history-notice[data-state=fail]")
    assert page.inner_text("#history-notice") == HISTORY_MESSAGES["error_bad_link"]
    assert page.is_hidden("#import-offer")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "shanlian-receipts", "version": 1, "receipts": [{}]}))
    page.set_input_files("#import-file", str(bad))
    # A locator waits without evaluating a string in the page, which the page's CSP (no
    # unsafe-eval) may refuse when Playwright has to poll.
    expected = HISTORY_MESSAGES["error_bad_id"].format(n=1)
    page.locator("#history-notice", has_text=expected).wait_for()
    assert page.inner_text("#history-notice") == expected
    assert kept(page) == []
    page.context.close()


def test_without_a_receipt_code_nothing_is_offered_to_keep(demo: Demo, browser: Any) -> None:
    page = open_phone(browser, "zh-CN")
    donation = demo.receipt.split("#")[0]
    visit(page, demo.base + donation)
    page.click("#verify-button")
    page.wait_for_selector("#verify-result[data-state=pass]")
    assert page.is_hidden("#keep")
    visit(page, demo.base + donation + "#s=" + "0" * 32)  # a code, but not this donation's
    page.wait_for_selector("#verify-result[data-state=pass]")
    assert page.get_attribute("#receipt-result", "data-state") == "damaged"
    assert page.is_hidden("#keep")
    assert kept(page) == []
    page.context.close()
