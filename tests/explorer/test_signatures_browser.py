"""The demo's signed fund use in a real browser (ADR 0037): phone and desktop, zh and en."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.demo import load_demo
from chain.devnet import free_port
from tests.serving import local_service, serve

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
"""Where the screenshots go for people to look at (var/ is not committed)."""


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("signed-demo")
    port = free_port()
    runtime = local_service(folder, "signatures-browser-token-0123456789abcdef", port)
    services = runtime.services
    load_demo(services, donations=60, days=28)
    services.worker.sync_registry()
    services.worker.sync_signers()
    services.worker.anchor_now()
    with serve(create_app(services), port, "signed-demo") as url:
        yield url, services


def _pages(services: Any) -> tuple[str, str]:
    """A signed disbursement and an unsigned one (the third charity, before it signs)."""
    signed = unsigned = None
    for entry in services.store.entries():
        if entry.kind != "disbursement.made":
            continue
        if entry.sig is not None and signed is None:
            signed = str(entry.body["disbursement_id"])
        if entry.sig is None and unsigned is None:
            unsigned = str(entry.body["disbursement_id"])
    assert signed is not None
    assert unsigned is not None
    return signed, unsigned


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("width", [390, 1280])
def test_signed_and_unsigned_disbursements_read_plainly_on_phone_and_desktop(
    demo_site: tuple[str, Any], browser: Any, lang: str, width: int
) -> None:
    # demo_site first: the demo is recorded before the browser's event loop runs
    url, services = demo_site
    signed, unsigned = _pages(services)
    expected = {
        "en": ("Signed by the charity's key 0x", "Not signed by the charity"),
        "zh-CN": ("由该慈善组织的密钥 0x", "未经该慈善组织签名"),
    }[lang]
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for disbursement_id, text, name in (
            (signed, expected[0], "signed"),
            (unsigned, expected[1], "unsigned"),
        ):
            page.goto(f"{url}/disbursements/{disbursement_id}?lang={lang}")
            mark = page.locator(".signature").first
            assert text in mark.inner_text()
            box = mark.bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= width  # wraps, never overflows the phone
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{name}: the page scrolls sideways ({scroll} px)"
            page.screenshot(path=str(SHOTS / f"disbursement-{name}-{lang}-{width}.png"))
    finally:
        context.close()


def _signed_donation(services: Any) -> str:
    """A donation that paid for a signed disbursement."""
    signed = {
        str(e.body["disbursement_id"])
        for e in services.store.entries()
        if e.kind == "disbursement.made" and e.sig is not None
    }
    for entry in services.store.entries():
        if entry.kind == "allocation.made" and entry.body["disbursement_id"] in signed:
            return str(entry.body["donation_id"])
    raise AssertionError("the demo has no donation that paid for a signed disbursement")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("width", [390, 1280])
def test_the_browser_checks_who_signed_a_donations_disbursements(
    demo_site: tuple[str, Any], browser: Any, lang: str, width: int
) -> None:
    url, services = demo_site
    donation_id = _signed_donation(services)
    expected = {
        "en": "signed by the charity's key 0x",
        "zh-CN": "由该慈善组织的密钥 0x",
    }[lang]
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{url}/donations/{donation_id}?lang={lang}")
        page.click("#verify-button")
        page.wait_for_selector("#verify-result[data-state]", timeout=60_000)
        assert page.get_attribute("#verify-result", "data-state") == "pass", page.inner_text(
            "#verify-steps"
        )
        steps = page.locator("#verify-steps li[data-step^=fund_use_]")
        assert steps.count() >= 1
        texts = [steps.nth(i).text_content() or "" for i in range(steps.count())]
        assert any(expected in t for t in texts), texts
        assert all(steps.nth(i).get_attribute("data-state") == "pass" for i in range(steps.count()))
        page.click("#proof-details summary")
        steps.first.scroll_into_view_if_needed()
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"the page scrolls sideways ({scroll} px)"
        page.screenshot(path=str(SHOTS / f"donation-verified-{lang}-{width}.png"))
    finally:
        context.close()
