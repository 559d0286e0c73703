"""End to end in real headless Chromium, at phone width: scan the receipt, press Verify.

The real server (API, explorer, the embedded chain's read-only JSON-RPC) runs in a
thread; the journal is written through the API and anchored on the embedded chain. The
browser opens the receipt's QR URL, with the secret in the fragment, and checks
everything itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from chain.devnet import free_port
from tests.factories import paid_now
from tests.serving import local_service, open_charity, serve

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

TOKEN = "explorer-browser-test-platform-token-0123456789"
STEPS = ["bundle", "entry", "leaf", "inclusion", "signature", "chain", "anchor", "receipt"]


@dataclass
class Site:
    base: str
    database: Path
    api: httpx.Client
    charity_id: str
    project_id: str

    def donate(self, amount: int, key: str) -> dict[str, Any]:
        response = self.api.post(
            "/api/v1/donations",
            json={
                "charity_id": self.charity_id,
                "project_id": self.project_id,
                "amount": amount,
                "currency": "CNY",
                "channel": "wechat",
                "paid_at": paid_now(),
                "payment_ref": f"PAY-{key}",
                "donor": {"name": "王小明"},
            },
            headers={"Idempotency-Key": key},
        )
        assert response.status_code == 201, response.text
        donation: dict[str, Any] = response.json()
        return donation

    def anchor(self) -> None:
        assert self.api.post("/api/v1/anchor").status_code == 200


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The whole service on a free port of 127.0.0.1, with a charity, a project and money."""
    folder = tmp_path_factory.mktemp("site")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = local_service(folder, TOKEN, port)
    with (
        serve(create_app(runtime.services), port, "explorer-test-server"),
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20
        ) as api,
    ):
        charity_id, project_id = open_charity(api)
        yield Site(base, folder / "journal.db", api, charity_id, project_id)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A page at phone width (mobile emulation), in Chinese."""
    context = browser.new_context(**browser.phone, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.requests_seen = []
    page.on("request", lambda request: page.requests_seen.append(request))
    try:
        yield page
    finally:
        context.close()


def verify(page: Any) -> tuple[str, dict[str, tuple[str, str]]]:
    """Press Verify; the outcome and each step's (state, text)."""
    page.click("#verify-button")
    page.wait_for_selector("#verify-result[data-state]", state="attached")
    outcome = page.get_attribute("#verify-result", "data-state")
    steps = page.eval_on_selector_all(
        "#verify-steps li",
        "items => items.map(li => [li.dataset.step, li.dataset.state, li.textContent])",
    )
    return outcome, {step: (state, text) for step, state, text in steps}


def test_donor_scans_the_receipt_and_every_step_passes_at_phone_width(
    site: Site, phone: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    donation = site.donate(10_000, "first")
    site.anchor()
    url = donation["receipt"]["url"]
    secret = donation["receipt"]["secret"]
    assert url == f"{site.base}/donations/{donation['id']}#s={secret}"
    phone.goto(url)
    assert phone.evaluate("window.innerWidth") <= 420
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert phone.evaluate("document.documentElement.lang") == "zh-CN"
    assert phone.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '善链')")
    assert phone.is_visible("#receipt-notice")
    outcome, steps = verify(phone)
    assert outcome == "pass", steps
    assert list(steps) == STEPS
    assert {state for state, _ in steps.values()} == {"pass"}
    assert "这是您的捐款" in steps["receipt"][1]
    assert "核验通过" in phone.inner_text("#verify-result")
    for request in phone.requests_seen:  # the secret stays in the browser
        assert secret not in request.url
        assert secret not in (request.post_data or "")
    assert any(r.url.endswith("/api/v1/chain/rpc") for r in phone.requests_seen)
    shots = tmp_path_factory.mktemp("screenshots")
    phone.screenshot(path=str(shots / "donation-verified-phone.png"), full_page=True)
    phone.goto(f"{site.base}/charities/{site.charity_id}")
    phone.screenshot(path=str(shots / "charity-phone.png"), full_page=True)
    print(f"screenshots in {shots}")


def test_a_receipt_code_of_another_donation_is_not_claimed(site: Site, phone: Any) -> None:
    donation = site.donate(20_000, "second")
    site.anchor()
    phone.goto(f"{site.base}/donations/{donation['id']}#s={'0' * 32}")
    outcome, steps = verify(phone)
    assert outcome == "pass"  # the donation is proven ...
    assert steps["inclusion"][0] == steps["anchor"][0] == "pass"
    assert steps["receipt"][0] == "fail"  # ... but not as the reader's
    assert phone.get_attribute("#receipt-result", "data-state") == "damaged"
    assert "收据链接似乎已损坏" in phone.inner_text("#receipt-result")


def test_a_tampered_journal_row_fails_the_check_in_the_browser(site: Site, phone: Any) -> None:
    donation = site.donate(30_000, "tampered")
    site.anchor()
    seq = donation["seq"]
    with sqlite3.connect(site.database) as connection:  # a superuser behind the service's back
        connection.execute("DROP TRIGGER entry_no_update")
        changed = connection.execute(
            "UPDATE entry SET leaf = replace(leaf, '\"amount\":30000', '\"amount\":3000000') "
            "WHERE seq = ?",
            (seq,),
        ).rowcount
    assert changed == 1
    phone.goto(donation["receipt"]["url"])
    outcome, steps = verify(phone)
    assert outcome == "fail"
    assert steps["leaf"][0] == "pass"  # the bundle hashes its (changed) entry consistently ...
    assert steps["inclusion"][0] == "fail"  # ... but it is not the entry that was anchored
    assert "核验失败" in phone.inner_text("#verify-result")


def test_without_webcrypto_the_page_hashes_with_its_own_sha256(site: Site, phone: Any) -> None:
    donation = site.donate(40_000, "plain-http")
    site.anchor()
    # What a plain-HTTP LAN address gives: no crypto.subtle (only secure contexts have it).
    phone.add_init_script(
        "Object.defineProperty(Crypto.prototype, 'subtle', {get: () => undefined})"
    )
    phone.goto(donation["receipt"]["url"])
    assert phone.evaluate("window.crypto.subtle === undefined")
    outcome, steps = verify(phone)
    assert outcome == "pass", steps
    assert steps["crypto"][0] == "pending"
    assert steps["signature"][0] == "pass"  # the vendored Ed25519 needs no crypto.subtle


NO_ED25519 = """
(() => {
  // A browser whose WebCrypto has no Ed25519 (Chromium before 137, Firefox before 129).
  const importKey = SubtleCrypto.prototype.importKey;
  window.ed25519Refused = 0;
  SubtleCrypto.prototype.importKey = function (format, data, algorithm, ...rest) {
    const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
    if (String(name).toLowerCase() === "ed25519") {
      window.ed25519Refused += 1;
      return Promise.reject(new DOMException("Unrecognized name.", "NotSupportedError"));
    }
    return importKey.call(this, format, data, algorithm, ...rest);
  };
})();
"""


def test_without_ed25519_in_webcrypto_the_signature_is_checked_by_the_fallback(
    site: Site, phone: Any
) -> None:
    donation = site.donate(45_000, "no-ed25519")
    site.anchor()
    phone.add_init_script(NO_ED25519)
    phone.goto(donation["receipt"]["url"])
    outcome, steps = verify(phone)
    assert outcome == "pass", steps
    assert steps["signature"][0] == "pass", steps["signature"]
    assert phone.evaluate("window.ed25519Refused") >= 1  # WebCrypto was asked, and refused
    assert phone.evaluate("typeof window.ShanlianEd25519.verifyEd25519") == "function"


def test_a_donation_not_anchored_yet_says_so(site: Site, phone: Any) -> None:
    donation = site.donate(50_000, "pending")
    phone.goto(donation["receipt"]["url"])
    assert "尚未上链" in phone.inner_text("main")
    outcome, steps = verify(phone)
    assert outcome == "pending"
    assert steps["bundle"][0] == "pending"


def test_a_receipt_link_verifies_as_it_opens_and_a_plain_page_waits_for_the_button(
    site: Site, phone: Any
) -> None:
    donation = site.donate(60_000, "on-open")
    site.anchor()
    # Opened from the explorer, without a receipt: nothing runs until Verify is pressed.
    phone.goto(f"{site.base}/donations/{donation['id']}")
    assert phone.inner_text("#verify-result") == ""
    assert phone.eval_on_selector_all("#verify-steps li", "items => items.length") == 0
    assert phone.is_enabled("#verify-button")
    # Opened from the receipt: the check starts by itself, no click.
    phone.goto("about:blank")
    phone.goto(donation["receipt"]["url"])
    phone.wait_for_selector("#verify-result[data-state]", state="attached")
    steps = phone.eval_on_selector_all(
        "#verify-steps li", "items => items.map(li => [li.dataset.step, li.dataset.state])"
    )
    assert phone.get_attribute("#verify-result", "data-state") == "pass", steps
    assert [step for step, _ in steps] == STEPS
    assert {state for _, state in steps} == {"pass"}
    assert phone.get_attribute("#receipt-result", "data-state") == "mine"
    # Pressing Verify again checks again, to the same verdict.
    outcome, again = verify(phone)
    assert outcome == "pass"
    assert list(again) == STEPS
