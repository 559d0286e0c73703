"""The donation page checks the witnesses' cosignatures, in real headless Chromium (ADR 0035).

The whole service runs with a witness policy; a conformant witness (tests/tlog/witness.py)
on 127.0.0.1 cosigns the anchored checkpoint; the donor's browser then checks the log's
signature and the witness's cosignature with the keys ``/api/v1/chain`` publishes, at
390 px in Chinese and on a desktop in English.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.witnesses import WitnessWorker
from chain.devnet import free_port
from tests.explorer.test_browser import verify
from tests.factories import paid_now
from tests.serving import local_service, open_charity, serve
from tests.tlog.witness import LogKey, RunningWitness, SpecWitness

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

TOKEN = "witness-browser-test-platform-token-0123456789"
STEPS = [
    "bundle",
    "entry",
    "leaf",
    "inclusion",
    "signature",
    "cosignatures",
    "chain",
    "anchor",
    "receipt",
]


@dataclass
class Site:
    base: str
    receipt_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("witnessed")
    witness = RunningWitness(SpecWitness("witness.example/w1", logs={}))
    policy = folder / "witnesses.policy"
    policy.write_text(f"witness w1 {witness.witness.vkey} {witness.url}\nquorum w1\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = local_service(
        folder, TOKEN, port, witness_policy_file=policy, witness_allow_private=True
    )
    services = runtime.services
    assert services.log is not None
    assert services.witnesses is not None
    witness.witness.logs[services.log.origin] = LogKey.from_vkey(services.log.vkey)
    try:
        with (
            serve(create_app(services), port, "witnessed-test-server"),
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as api,
        ):
            charity_id, project_id = open_charity(api)
            donation = api.post(
                "/api/v1/donations",
                json={
                    "charity_id": charity_id,
                    "project_id": project_id,
                    "amount": 10_000,
                    "currency": "CNY",
                    "channel": "wechat",
                    "paid_at": paid_now(),
                    "payment_ref": "PAY-W1",
                },
                headers={"Idempotency-Key": "w1"},
            ).json()
            assert api.post("/api/v1/anchor").status_code == 200
            WitnessWorker(
                services.store, services.log, services.witnesses, services.settings
            ).run_once()
            assert api.get("/api/v1/chain").json()["witnesses"][0]["state"] == "cosigned"
            yield Site(base, donation["receipt"]["url"])
    finally:
        witness.stop()


@pytest.mark.parametrize(
    ("language", "viewport", "expected"),
    [
        ("zh-CN", {"width": 390, "height": 844}, "1 个见证方中有 1 个联署了这个检查点：w1"),
        ("en", {"width": 1280, "height": 900}, "1 of 1 witnesses cosigned this checkpoint: w1"),
    ],
)
def test_the_donation_page_checks_the_witness_cosignature(
    site: Site,
    browser: Any,
    language: str,
    viewport: dict[str, int],
    expected: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    context = browser.new_context(
        viewport=viewport,
        locale=language,
        extra_http_headers={"Accept-Language": language},
        is_mobile=viewport["width"] < 500,
        has_touch=viewport["width"] < 500,
    )
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(site.receipt_url)
        outcome, steps = verify(page)
        assert outcome == "pass", steps
        assert list(steps) == STEPS
        assert {state for state, _ in steps.values()} == {"pass"}
        assert expected in steps["cosignatures"][1]
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shots: Path = tmp_path_factory.mktemp("screenshots")
        page.screenshot(path=str(shots / f"cosigned-{language}.png"), full_page=True)
    finally:
        context.close()
