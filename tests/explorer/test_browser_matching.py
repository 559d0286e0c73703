"""Matching funds (ADR 0040) in real headless Chromium: the donor's page says what the
donation was matched, the pool's page what it matched; both languages, 390 and 1280 px."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from chain.devnet import free_port
from tests.factories import paid_now
from tests.serving import local_service, serve

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

TOKEN = "matching-browser-test-platform-token-0123456789"
WIDTHS = {"phone": 390, "desktop": 1280}


@dataclass
class Site:
    base: str
    donation: dict[str, Any]
    unmatched: dict[str, Any]
    pool_id: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("matching-site")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = local_service(folder, TOKEN, port)
    with (
        serve(create_app(runtime.services), port, "matching-test-server"),
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20
        ) as api,
    ):
        charity = api.post(
            "/api/v1/charities",
            json={"name": "云南乡村学校助学会", "registration_no": "53530000MJ0005678Y"},
        ).json()
        project = api.post(
            f"/api/v1/charities/{charity['id']}/projects",
            json={"title": "怒江小学图书角", "goal_amount": 5_000_000, "currency": "CNY"},
        ).json()
        matcher = api.post(
            "/api/v1/matchers",
            json={"name": "云岭科技有限公司", "registration_no": "91530100MA6K000001"},
        ).json()
        now = datetime.now(UTC)
        pool = api.post(
            f"/api/v1/matchers/{matcher['id']}/pools",
            json={
                "title": "九九公益日配捐",
                "currency": "CNY",
                "total": 1_500_000,
                "ratio_percent": 100,
                "cap_per_donation": 5_000,
                "cap_per_payer_per_day": 15_000,
                "min_interval_s": 15,
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=3)).isoformat(),
                "project_ids": [project["id"]],
            },
        )
        assert pool.status_code == 201, pool.text

        def donate(amount: int, payer: str) -> dict[str, Any]:
            response = api.post(
                "/api/v1/donations",
                json={
                    "charity_id": charity["id"],
                    "project_id": project["id"],
                    "amount": amount,
                    "currency": "CNY",
                    "channel": "wechat_pay",
                    "paid_at": paid_now(),
                    "payment_ref": f"PAY-{os.urandom(6).hex()}",
                    "payer_ref": payer,
                    "donor": {"name": "王小明"},
                },
                headers={"Idempotency-Key": os.urandom(8).hex()},
            )
            assert response.status_code == 201, response.text
            answer: dict[str, Any] = response.json()
            return answer

        first = donate(1_000, "wxid-a")
        donate(20_000, "wxid-b")
        fast = donate(3_000, "wxid-a")  # the same payer within 15 s: not matched
        assert first["matches"]
        assert not fast["matches"]
        yield Site(base, first, fast, pool.json()["id"])


def open_page(browser: Any, language: str, width: int) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        is_mobile=width < 600,
        has_touch=width < 600,
        locale=language,
        extra_http_headers={"Accept-Language": language},
    )
    context.set_default_timeout(20_000)
    return context.new_page()


SHOTS = Path(os.environ.get("SHANLIAN_SCREENSHOTS", "/tmp/shanlian-screenshots/matching"))


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_donation_page_says_what_the_donation_was_matched_and_by_whom(
    site: Site, browser: Any, language: str, width: str
) -> None:
    page = open_page(browser, language, WIDTHS[width])
    try:
        page.goto(site.donation["receipt"]["url"])  # the receipt's link, as the donor opens it
        matched = page.inner_text("#matched")
        if language == "zh-CN":
            assert "您的 ¥10.00 获得 云岭科技有限公司 配捐 ¥10.00" in matched
        else:
            assert "Your ¥10.00 was matched ¥10.00 by 云岭科技有限公司" in matched
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"donation-{language}-{width}.png"), full_page=True)
        page.goto(f"{site.base}/donations/{site.unmatched['id']}")
        assert page.locator("#matched").count() == 0
    finally:
        page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_pool_page_shows_its_rules_and_what_it_matched(
    site: Site, browser: Any, language: str, width: str
) -> None:
    page = open_page(browser, language, WIDTHS[width])
    try:
        page.goto(f"{site.base}/pools/{site.pool_id}")
        text = page.inner_text("main")
        assert "九九公益日配捐" in text
        assert "¥60.00" in text  # matched: ¥10 and ¥50
        assert ("已配捐" if language == "zh-CN" else "matched of ¥15,000.00 pledged") in text
        assert ("2 笔配捐" if language == "zh-CN" else "2 matches") in text
        assert site.donation["id"] in text
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"pool-{language}-{width}.png"), full_page=True)
        wide = page.evaluate(
            "w => [...document.querySelectorAll('main *')].filter(e => "
            "e.getBoundingClientRect().right > w).map(e => e.tagName + '.' + e.className + ' ' "
            "+ e.textContent.slice(0, 40))",
            WIDTHS[width],
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width], wide
        # From the pool to a donation it matched, and to the matched money's own page.
        page.click(f"a[href='/donations/{site.donation['id']}']")
        page.wait_for_selector("#matched")
        page.goto(f"{site.base}/donations/{site.donation['matches'][0]['id']}")
        note = page.inner_text("main")
        assert ("这是配捐款项" if language == "zh-CN" else "This is matched money") in note
        page.screenshot(path=str(SHOTS / f"matched-money-{language}-{width}.png"), full_page=True)
    finally:
        page.context.close()
