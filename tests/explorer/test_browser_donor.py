"""What a donor sees, in real headless Chromium at 390 px and on a desktop, in both languages.

The demo data set (a few months of it) is served with the embedded chain; every page kind
is opened at phone width and must fit it; the donation page's two verdicts (the donation
is proven; the receipt is yours) are read as the donor reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.demo import load_demo
from api.gallery import Shot, pages
from api.services import Services
from chain.devnet import free_port
from explorer import urls
from ledger.accounting import DonationState
from ledger.store import projections
from ledger.store.official_receipts import OfficialReceipts
from tests.serving import local_service, serve

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PHONE = {"width": 390, "height": 844}
TOKEN = "donor-browser-test-platform-token-0123456789"


@dataclass
class Demo:
    base: str
    services: Services
    receipt: str
    """A receipt link's path and fragment (``/donations/dn_…#s=…``)."""
    shots: list[Shot]
    others: list[str]
    """The demo's other sample receipts' paths and fragments."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder: Path = tmp_path_factory.mktemp("demo")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = TOKEN
    services = local_service(folder, token, port).services
    summary = load_demo(services, donations=160, days=45)
    assert summary.refunds == summary.voids == 1
    receipt = summary.sample_receipts[0].removeprefix(base)
    with serve(create_app(services), port, "donor-test-server"):
        others = [r.removeprefix(base) for r in summary.sample_receipts[1:]]
        yield Demo(base, services, receipt, pages(services, receipt), others)


def open_phone(browser: Any, language: str) -> Any:
    """A page in a 390 × 844 mobile window, speaking ``language``."""
    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale=language,
        extra_http_headers={"Accept-Language": language},
    )
    context.set_default_timeout(20_000)
    return context.new_page()


@pytest.fixture(scope="module")
def phone_zh(browser: Any) -> Iterator[Any]:
    page = open_phone(browser, "zh-CN")
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def phone_en(browser: Any) -> Iterator[Any]:
    page = open_phone(browser, "en")
    yield page
    page.context.close()


def visit(page: Any, url: str) -> None:
    page.goto("about:blank")  # a changed fragment alone would not load the page again
    page.goto(url)


def verify(page: Any) -> tuple[str, str | None, str]:
    """Press Verify; the proof's verdict, the receipt's verdict and the two texts."""
    page.click("#verify-button")
    page.wait_for_selector("#verify-result[data-state]", state="attached")
    proof = page.get_attribute("#verify-result", "data-state")
    receipt = page.get_attribute("#receipt-result", "data-state")
    shown = page.inner_text("#verify-result")
    if page.is_visible("#receipt-result"):
        shown += "\n" + page.inner_text("#receipt-result")
    return proof, receipt, shown


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_no_page_is_wider_than_a_390_px_phone(
    demo: Demo, phone_zh: Any, phone_en: Any, language: str
) -> None:
    page = phone_zh if language == "zh-CN" else phone_en
    kinds = {"home", "charities", "projects", "charity", "project", "donation-refunded"}
    kinds |= {"donation-receipt-verified", "disbursement", "checkpoints", "entry", "search"}
    assert kinds <= {shot.name for shot in demo.shots}  # every page kind
    wide = []
    for shot in demo.shots:
        visit(page, demo.base + shot.path)
        assert page.evaluate("document.documentElement.lang") == language
        assert page.evaluate("window.innerWidth") == 390
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide.append((shot.name, width))
        # Nothing is cut off inside the page either: every cell of a balance table shows.
        for right in page.eval_on_selector_all(
            "table.balances tbody th, table.balances tbody td",
            "cells => cells.map(c => c.getBoundingClientRect().right)",
        ):
            assert right <= 390, shot.name
    assert wide == []


def test_the_printable_receipt_fits_a_phone_link_and_all(demo: Demo, browser: Any) -> None:
    """The receipt the platform prints or sends: its long link wraps instead of widening it."""
    donation_id = demo.receipt.split("/donations/", 1)[1].split("#", 1)[0]
    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        extra_http_headers={"Authorization": f"Bearer {TOKEN}"},
    )
    try:
        page = context.new_page()
        answer = page.goto(f"{demo.base}/api/v1/donations/{donation_id}/receipt")
        assert answer is not None
        assert answer.status == 200
        link = page.locator("a[href*='#s=']")
        assert len(link.inner_text()) > 60  # longer than a phone's line, so it must wrap
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = link.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 390
    finally:
        context.close()


def test_the_fund_flow_diagram_says_it_scrolls_where_it_does_not_fit(
    demo: Demo, browser: Any, phone_zh: Any
) -> None:
    charity = next(s for s in demo.shots if s.name == "charity")
    visit(phone_zh, demo.base + charity.path)
    box = phone_zh.locator(".flow-figure .scroll").first
    assert box.evaluate("b => b.scrollWidth > b.clientWidth")  # it scrolls, in its own box
    assert phone_zh.locator(".flow-figure .scroll-hint").first.is_visible()
    assert "左右滑动" in phone_zh.locator(".flow-figure .scroll-hint").first.inner_text()
    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = desktop.new_page()
        page.goto(demo.base + charity.path)
        assert page.locator(".flow-figure .scroll").first.evaluate(
            "b => b.scrollWidth <= b.clientWidth"
        )
        assert not page.locator(".flow-figure .scroll-hint").first.is_visible()
    finally:
        desktop.close()


def test_the_receipt_link_proves_the_donation_and_that_it_is_yours(
    demo: Demo, phone_zh: Any
) -> None:
    visit(phone_zh, demo.base + demo.receipt)
    proof, receipt, shown = verify(phone_zh)
    assert (proof, receipt) == ("pass", "mine")
    assert "核验通过：这笔捐款在账本中" in shown
    assert "这是您的捐款：收据链接中的密码与它相符。" in shown


@pytest.mark.parametrize(
    "damage",
    [
        lambda secret: secret[:-1] + ("0" if secret[-1] != "0" else "1"),  # one digit off
        lambda secret: secret[:20],  # cut short
        lambda secret: secret + "zz",  # mangled
    ],
    ids=["wrong digit", "cut short", "mangled"],
)
def test_a_damaged_receipt_link_still_proves_the_donation_and_says_the_link_is_damaged(
    demo: Demo, phone_zh: Any, damage: Any
) -> None:
    path, _, secret = demo.receipt.partition("#s=")
    visit(phone_zh, f"{demo.base}{path}#s={damage(secret)}")
    proof, receipt, shown = verify(phone_zh)
    assert (proof, receipt) == ("pass", "damaged")
    assert "核验失败" not in shown
    assert "核验通过" in shown
    assert "您的收据链接似乎已损坏" in shown
    assert "捐款本身已得到证明" in shown


def test_without_a_receipt_code_the_page_proves_the_donation_not_whose_it_is(
    demo: Demo, phone_en: Any
) -> None:
    path = demo.receipt.partition("#")[0]
    visit(phone_en, demo.base + path)
    assert not phone_en.is_visible("#receipt-notice")
    proof, receipt, shown = verify(phone_en)
    assert (proof, receipt) == ("pass", "none")
    assert "Verified: this donation is in the journal" in shown
    assert "Opened without a receipt code" in shown
    path, _, secret = demo.receipt.partition("#s=")
    visit(phone_en, f"{demo.base}{path}#s={secret[::-1]}")
    assert verify(phone_en)[1:] == (
        "damaged",
        phone_en.inner_text("#verify-result") + "\n" + phone_en.inner_text("#receipt-result"),
    )
    assert "Your receipt link seems damaged" in phone_en.inner_text("#receipt-result")


def test_a_refunded_donation_says_it_was_refunded_when_and_how_much(
    demo: Demo, phone_zh: Any, phone_en: Any
) -> None:
    with demo.services.connect() as connection:
        refunded = next(d for d in projections.find(connection, DonationState) if d.refunded)
    visit(phone_zh, demo.base + urls.donation(refunded.donation_id))
    where = phone_zh.inner_text("#where")
    assert "退款" in where
    assert "退款时间" in where
    assert f"¥{refunded.refunded // 100:,}.{refunded.refunded % 100:02d}" in where
    assert "暂无：慈善组织尚未使用这笔捐款" not in where
    if refunded.refunded == refunded.amount:
        assert "这笔捐款已全额退款" in where
    else:
        assert "这笔捐款已部分退款" in where
        assert "留在慈善组织的金额" in where
    visit(phone_en, demo.base + urls.donation(refunded.donation_id))
    english = phone_en.inner_text("#where")
    assert "Refunded on" in english
    assert "refunded" in english.lower()


def test_the_answer_comes_first_and_the_proof_details_are_folded(demo: Demo, phone_zh: Any) -> None:
    visit(phone_zh, demo.base + demo.receipt)

    def top(selector: str) -> float:
        return float(phone_zh.locator(selector).first.bounding_box()["y"])

    assert top("#funded-heading") < top("#status-heading") < top("#verify-heading")
    assert top("#verify-heading") < top("#technical")
    assert not phone_zh.is_visible("#verify-steps")
    assert not phone_zh.is_visible("#rpc-url")
    verify(phone_zh)
    assert phone_zh.is_visible("#verify-result")
    assert not phone_zh.is_visible("#verify-steps")  # the verdict shows, the steps stay folded
    phone_zh.click("#proof-details > summary")
    assert phone_zh.is_visible("#verify-steps")


def test_every_label_a_donor_sees_is_plain_and_the_technical_values_are_folded(
    demo: Demo, phone_zh: Any, phone_en: Any
) -> None:
    codes = {"alipay": ("支付宝", "Alipay"), "wechat_pay": ("微信支付", "WeChat Pay")}
    codes |= {"card": ("银行卡", "Bank card"), "bank_transfer": ("银行转账", "Bank transfer")}
    with demo.services.connect() as connection:
        donations = projections.find(connection, DonationState)
    for code, (chinese, english) in codes.items():
        donation = next(d for d in donations if d.channel == code)
        commitment = demo.services.views.donation_view(donation.donation_id).donor_commitment
        for page, label in ((phone_zh, chinese), (phone_en, english)):
            visit(page, demo.base + urls.donation(donation.donation_id))
            shown = page.inner_text("main")
            assert label in shown
            assert code not in shown.replace(label, "")  # "card" is in "Bank card"
            assert commitment not in shown
            assert "承诺值" not in shown
            assert "commitment" not in shown.lower()
            page.click("#technical > summary")
            unfolded = page.inner_text("#technical")
            assert commitment in unfolded
            assert ("收据指纹" if page is phone_zh else "Receipt fingerprint") in unfolded


DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_donor_sees_the_official_receipt_beside_the_traceability_receipt(
    demo: Demo, browser: Any, language: str, tmp_path: Path
) -> None:
    """ADR 0041: with the receipt code, the page shows the charity's official e-receipt and
    says which receipt is which; at phone width and on a desktop."""
    path = demo.receipt.partition("#s=")[0]
    donation_id = path.rsplit("/", 1)[1]
    official = OfficialReceipts(demo.services.store).current(donation_id)
    assert official is not None  # the demo attached it to its first sample receipt
    names = {
        "zh-CN": ("善链追溯凭证", "官方捐赠票据", "全国财政电子票据查验平台", "票据号码"),
        "en": (
            "shanlian traceability receipt",
            "Official donation receipt",
            "checkable on the government platform",
            "Receipt number",
        ),
    }[language]
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(
            viewport=viewport, locale=language, extra_http_headers={"Accept-Language": language}
        )
        context.set_default_timeout(20_000)
        try:
            page = context.new_page()
            visit(page, demo.base + demo.receipt)
            page.wait_for_selector("#official-facts", state="visible")
            shown = page.inner_text("#receipts")
            for text in (*names, official.code, official.number, official.check_code):
                assert text in shown, (viewport, text)
            assert not page.is_visible("#official-none")
            width = viewport["width"]
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            cards = page.eval_on_selector_all(
                ".receipt-card", "cs => cs.map(c => c.getBoundingClientRect().toJSON())"
            )
            assert len(cards) == 2
            if width == DESKTOP["width"]:  # side by side
                assert abs(cards[0]["top"] - cards[1]["top"]) < 1
            else:  # one above the other, each the phone's width at most
                assert cards[1]["top"] >= cards[0]["bottom"]
                assert all(c["right"] <= width for c in cards)
            page.locator("#receipts").scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / f"official-receipt-{language}-{width}.png"))
        finally:
            context.close()


def test_the_official_receipt_shows_only_with_the_receipt_code(demo: Demo, phone_en: Any) -> None:
    path, _, secret = demo.receipt.partition("#s=")
    donation_id = path.rsplit("/", 1)[1]
    official = OfficialReceipts(demo.services.store).current(donation_id)
    assert official is not None
    visit(phone_en, demo.base + path)
    verify(phone_en)
    assert not phone_en.is_visible("#receipts")
    assert official.number not in phone_en.content()
    visit(phone_en, f"{demo.base}{path}#s={secret[::-1]}")  # a damaged link
    verify(phone_en)
    assert not phone_en.is_visible("#receipts")
    assert official.number not in phone_en.content()
    # Another donation of the donor's, without an official receipt: the page says so.
    visit(phone_en, demo.base + demo.others[0])
    phone_en.wait_for_selector("#official-none", state="visible")
    assert "has not attached an official receipt" in phone_en.inner_text("#official-receipt")


# -- disclosure reports (ADR 0039) ------------------------------------------------------------


def test_a_projects_reports_show_their_schedule_and_correction_notes_in_both_languages(
    demo: Demo, browser: Any, phone_zh: Any, phone_en: Any
) -> None:
    closed = next(s for s in demo.shots if s.name == "report-final").path.rsplit("/", 1)[0]
    visit(phone_zh, demo.base + closed)
    schedule = phone_zh.inner_text(".schedule")
    assert "结项报告" in schedule
    assert "待公开" in schedule  # closed at the end of the demo: its final report is due
    report = next(s for s in demo.shots if s.name == "report")
    visit(phone_zh, demo.base + report.path)
    notes = phone_zh.inner_text("#report-corrections-heading + ul")
    assert "发票重复录入" in notes  # the void's reason, on the report of its quarter
    assert phone_zh.evaluate("document.documentElement.scrollWidth") <= 390
    visit(phone_en, demo.base + report.path)
    assert "Correction notes" in phone_en.inner_text("main")
    assert "Held at the end" in phone_en.inner_text("table.figures")
    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en")
    try:
        page = desktop.new_page()
        page.goto(demo.base + report.path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        pdf = page.get_attribute("a:has-text('PDF')", "href")
        assert pdf is not None
        assert page.request.get(demo.base + pdf).headers["content-type"] == "application/pdf"
    finally:
        desktop.close()
