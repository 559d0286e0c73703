"""The API's documentation page works offline: every asset from this server, a strict CSP.

In process: the page names no other host and every asset it loads answers. In headless
Chromium, with every request to another host refused: Swagger UI renders the API's
operations, asks no other host for anything, and the browser reports no CSP violation.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import build_services, create_app
from api.settings import ApiSettings
from chain.devnet import free_port
from tests.api.conftest import Api, ApiFactory
from tests.serving import serve

PAGES = ["/docs"]


@pytest.fixture
def plain(make_api: ApiFactory, sqlite_url: str) -> Api:
    return make_api(sqlite_url)


def _references(text: str) -> list[str]:
    return re.findall(r'(?:src|href|spec-url)="([^"]+)"', text)


@pytest.mark.parametrize("page", PAGES)
def test_the_page_names_no_other_host_and_every_asset_it_loads_answers(
    plain: Api, page: str
) -> None:
    response = plain.client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?:|//[a-z]", response.text.replace("<!doctype html>", "")), (
        response.text
    )
    references = _references(response.text)
    assert len(references) >= 3, references
    for reference in references:
        assert reference.startswith("/"), reference
        assert not reference.startswith("//"), reference
        asset = plain.client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert len(asset.content) > 100, reference
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-eval" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


def test_the_swagger_start_script_reads_this_servers_openapi_and_no_validator(
    plain: Api,
) -> None:
    script = plain.client.get("/docs/assets/swagger-start.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert '"url": "/openapi.json"' in script.text
    assert '"validatorUrl": null' in script.text
    assert plain.client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = plain.client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle


@pytest.mark.parametrize(
    "name",
    [
        "nothing.js",
        "..%2F..%2Fcore.py",
        "..%2F__init__.py",
        "%2Fetc%2Fpasswd",
        "swagger-ui-bundle.js%00.png",
        "SWAGGER-UI.CSS",
    ],
)
def test_only_the_named_assets_are_served(plain: Api, name: str) -> None:
    response = plain.client.get(f"/docs/assets/{name}")
    assert response.status_code == 404
    assert "root:" not in response.text


def test_fastapis_cdn_pages_are_gone(plain: Api) -> None:
    assert plain.client.get("/docs/oauth2-redirect").status_code == 404
    assert plain.client.get("/redoc").status_code == 404  # its bundle loads from redoc.ly
    for page in PAGES:
        assert "cdn.jsdelivr.net" not in plain.client.get(page).text


# -- in a real browser, with no internet ----------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("docs")
    port = free_port()
    settings = ApiSettings(
        database_url=f"sqlite:///{folder}/journal.db",
        admin_token="docs-test-platform-token-0123456789abcdef",
        evidence_dir=folder / "evidence",
        public_url=f"http://127.0.0.1:{port}",
    )
    runtime = build_services(settings, with_chain=False)
    with serve(create_app(runtime.services), port, "docs-test-server") as base:
        yield base
    runtime.services.store.engine.dispose()


@pytest.mark.browser
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("page", "rendered"),
    [
        ("/docs", ".opblock-summary-path[data-path='/api/v1/donations']"),
    ],
)
def test_the_page_renders_the_api_offline_without_a_csp_violation(
    server: str, page: str, rendered: str
) -> None:
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run scripts/setup (it installs Debian's chromium)")
    elsewhere: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context()
            context.set_default_timeout(30_000)

            def route(request_route: Any) -> None:
                if request_route.request.url.startswith(server):
                    request_route.continue_()
                else:  # no internet: any other host is refused
                    elsewhere.append(request_route.request.url)
                    request_route.abort()

            context.route("**/*", route)
            tab = context.new_page()
            tab.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            tab.on("pageerror", lambda error: problems.append(str(error)))
            tab.goto(server + page)
            tab.wait_for_selector(rendered, state="attached")
        finally:
            browser.close()
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    assert [u for u in elsewhere if not u.startswith(("data:", "blob:"))] == []
