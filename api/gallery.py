"""Screenshots of every kind of explorer page, at phone and desktop width, in both languages.

``scripts/gallery [OUTDIR]`` (or ``python -m api.gallery [OUTDIR]``) loads the demo data set
into a temporary SQLite journal on the embedded chain, serves it on a free port of
127.0.0.1, and has headless Chromium (Playwright, a development dependency) take a full-page
screenshot of each page kind at 390×844 (mobile emulation) and 1280×900, in zh-CN and en.
It writes them and an ``index.html`` of thumbnails into OUTDIR (default ``var/gallery``,
which git ignores), prints the folder, and names every page that is wider than its window.

Nothing is kept but the pictures: the journal and the chain go away with the process.
"""

from __future__ import annotations

import argparse
import html
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr

from api.anchoring import AnchorSettings
from api.app import build_services, create_app
from api.demo import load_demo
from api.services import Services
from api.settings import ApiSettings
from chain.client import ChainClient
from chain.devnet import free_port
from chain.embedded import EmbeddedChain
from ledger.accounting import DisbursementState, DonationState, MatchState, ProjectState
from ledger.disclosure import quarter_of
from ledger.entries import parse_at
from ledger.store import projections

VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 900)}
LANGUAGES = ("zh-CN", "en")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
TOKEN = "gallery-platform-token-0123456789abcdef0123"  # noqa: S105 - a throwaway demo


@dataclass(frozen=True)
class Shot:
    """A page to photograph.

    Attributes:
        name: the file's stem, e.g. ``donation-verified``.
        path: the URL path (and fragment) on the site.
        verify: press Verify and wait for the verdict first.
        open_details: unfold every ``<details>`` first.
    """

    name: str
    path: str
    verify: bool = False
    open_details: bool = False


def pages(services: Services, receipt: str) -> list[Shot]:
    """One of every page kind, on the demo's data (``receipt``: a receipt URL's path)."""
    with services.connect() as connection:
        donations = projections.find(connection, DonationState)
        disbursements = projections.find(connection, DisbursementState)
        matches = projections.find(connection, MatchState)
    refunded = next(d for d in donations if d.refunded)
    spent = next(d for d in donations if d.allocated)
    voided = next(d for d in disbursements if d.voided)
    kept = next(d for d in disbursements if not d.voided)
    damaged = receipt[:-4] + ("0000" if not receipt.endswith("0000") else "1111")
    with services.connect() as connection:
        closed = projections.find(connection, ProjectState, closed=True)
    # The voided disbursement's quarter: its report carries the correction note.
    corrected = voided
    report_period = quarter_of(parse_at(services.store.entry(voided.seq).at))
    return [
        Shot("home", "/"),
        Shot("charities", "/charities"),
        Shot("projects", "/projects"),
        Shot("charity", f"/charities/{kept.charity_id}"),
        Shot("project", f"/projects/{kept.project_id}"),
        Shot("donation-receipt-verified", receipt, verify=True),
        Shot("donation-receipt-damaged", damaged, verify=True),
        Shot("donation-no-receipt-verified", f"/donations/{spent.donation_id}", verify=True),
        Shot("donation-details-open", receipt, verify=True, open_details=True),
        Shot("donation-refunded", f"/donations/{refunded.donation_id}"),
        Shot("disbursement", f"/disbursements/{kept.disbursement_id}"),
        Shot("disbursement-voided", f"/disbursements/{voided.disbursement_id}"),
        Shot("checkpoints", "/checkpoints"),
        Shot("entry", f"/entries/{spent.seq}"),
        Shot("search", "/search?q=%E6%98%86%E6%98%8E"),  # 昆明: a payee
        # Disclosure reports (ADR 0039): a schedule, a quarter's report, a final report.
        Shot("reports", f"/reports/{kept.project_id}"),
        Shot("report", f"/reports/{corrected.project_id}/{report_period}"),
        *([Shot("report-final", f"/reports/{closed[0].project_id}/final")] if closed else []),
        Shot("not-found", "/donations/dn_nosuchdonation"),
        # Matching funds (ADR 0040): the pool, and a donation it matched.
        *(
            [
                Shot("pool", f"/pools/{matches[0].pool_id}"),
                Shot("donation-matched", f"/donations/{matches[0].donation_id}"),
            ]
            if matches
            else []
        ),
    ]


@contextmanager
def demo_site(folder: Path, donations: int) -> Iterator[tuple[str, Services, str]]:
    """The demo served on a free port: its base URL, its services, a receipt's path."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = ApiSettings(
        database_url=f"sqlite:///{folder}/journal.db",
        admin_token=SecretStr(TOKEN),
        evidence_dir=folder / "evidence",
        public_url=base,
    )
    runtime = build_services(
        settings,
        chain=ChainClient.embedded(chain=EmbeddedChain()),
        anchor_settings=AnchorSettings(interval_s=3600),
    )
    services = runtime.services
    summary = load_demo(services, donations=donations)
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="gallery-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the demo server did not start")
        time.sleep(0.05)
    try:
        yield base, services, summary.sample_receipts[0].removeprefix(base)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def photograph(browser: Any, base: str, shots: list[Shot], out: Path) -> list[str]:
    """Take every shot in every viewport and language; the pages that overflow."""
    overflowing: list[str] = []
    for viewport, (width, height) in VIEWPORTS.items():
        for language in LANGUAGES:
            options: dict[str, Any] = {
                "viewport": {"width": width, "height": height},
                "locale": language,
                "extra_http_headers": {"Accept-Language": language},
            }
            if viewport == "phone":
                options |= {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
            context = browser.new_context(**options)
            context.set_default_timeout(20_000)
            page = context.new_page()
            for shot in shots:
                page.goto("about:blank")  # a new fragment alone would not load the page again
                page.goto(base + shot.path)
                if shot.verify:
                    page.click("#verify-button")
                    page.wait_for_selector("#verify-result[data-state]", state="attached")
                if shot.open_details:
                    page.eval_on_selector_all("details", "all => all.forEach(d => d.open = true)")
                wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                name = f"{shot.name}.{viewport}.{language}"
                if wide[0] > wide[1]:
                    overflowing.append(f"{name}: {wide[0]} px wide in a {wide[1]} px window")
                page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            context.close()
    return overflowing


def write_index(out: Path, shots: list[Shot]) -> Path:
    """An index.html of thumbnails: a row per page, a column per viewport and language."""
    columns = [(v, lang) for v in VIEWPORTS for lang in LANGUAGES]
    head = "".join(f"<th>{v} · {lang}</th>" for v, lang in columns)
    rows = []
    for shot in shots:
        cells = []
        for viewport, language in columns:
            file = html.escape(f"{shot.name}.{viewport}.{language}.png")
            cells.append(
                f'<td><a href="{file}"><img src="{file}" loading="lazy" alt="{file}"></a></td>'
            )
        rows.append(
            f"<tr><th>{html.escape(shot.name)}<br><code>{html.escape(shot.path)}</code></th>"
            + "".join(cells)
            + "</tr>"
        )
    index = out / "index.html"
    index.write_text(
        "<!doctype html><meta charset=utf-8><title>shanlian explorer gallery</title>"
        "<style>body{font-family:sans-serif}td,th{vertical-align:top;padding:4px}"
        "img{width:180px;max-height:480px;object-fit:cover;object-position:top;"
        "border:1px solid #ccc}code{font-size:11px;word-break:break-all}</style>"
        f"<h1>shanlian explorer, every page kind</h1><table><tr><th>page</th>{head}</tr>"
        + "".join(rows)
        + "</table>\n",
        encoding="utf-8",
    )
    return index


def main(argv: list[str] | None = None) -> int:
    """Build the gallery; 0 if no page overflows its window, 1 if one does."""
    parser = argparse.ArgumentParser(prog="scripts/gallery", description=__doc__.split("\n")[0])
    parser.add_argument("outdir", nargs="?", default="var/gallery", help="(var/gallery)")
    parser.add_argument("--donations", type=int, default=2000, help="demo donations (2000)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed: run scripts/setup", file=sys.stderr)
        return 2
    out = Path(args.outdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    with (
        tempfile.TemporaryDirectory(prefix="shanlian-gallery-") as folder,
        demo_site(Path(folder), args.donations) as (base, services, receipt),
        sync_playwright() as playwright,
    ):
        shots = pages(services, receipt)
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            overflowing = photograph(browser, base, shots, out)
        finally:
            browser.close()
    index = write_index(out, shots)
    count = len(shots) * len(VIEWPORTS) * len(LANGUAGES)
    print(f"{count} screenshots in {out}")
    print(f"  open {index}")
    for line in overflowing:
        print(f"  wider than the window: {line}")
    return 1 if overflowing else 0


if __name__ == "__main__":
    sys.exit(main())
