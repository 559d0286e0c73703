"""Fixtures for the explorer: a journal with every kind of entry, and the explorer on it.

The journal is written through the store (the read-write engine); the explorer reads it
through its own read-only engine, as in production. Checkpoints are recorded as the
anchor worker would record them, so the pages need no chain (the browser test has one).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from explorer.app import create_explorer
from explorer.views import PublicViews
from ledger.store.checkpoints import AnchoredCheckpoint, CheckpointLog
from ledger.store.journal import Store
from tests import factories as f

HOSTILE_NAME = "<script>alert(1)</script>乡村学校基金会"
HOSTILE_TITLE = 'Books <b onmouseover="alert(2)">bold</b>'
HOSTILE_PAYEE = "<img src=x onerror=alert(3)>书店"
HOSTILE_PURPOSE = 'textbooks & "pens" </title><script>alert(4)</script>'
CONTRACT = "0x" + "5f" * 20


@dataclass
class World:
    """What the journal holds: the ids the tests look up."""

    store: Store
    charity_id: str
    project_id: str
    other_project_id: str
    earmarked: str
    """A donation to ``project_id``, partly spent on ``disbursement_id``."""
    general: str
    """A general-fund donation, partly spent on ``general_disbursement_id``."""
    refunded: str
    """A donation to ``other_project_id``, partly refunded, unspent."""
    unanchored: str
    """A donation appended after the last checkpoint."""
    disbursement_id: str
    general_disbursement_id: str
    voided_disbursement_id: str
    allocation_id: str
    checkpoints: list[AnchoredCheckpoint]


def record_checkpoint(
    store: Store, index: int, size: int, *, root: bytes | None = None
) -> AnchoredCheckpoint:
    """Record a checkpoint as the anchor worker does after anchoring ``size`` entries."""
    checkpoint = AnchoredCheckpoint(
        checkpoint_index=index,
        tree_size=size,
        root_hash=root if root is not None else store.root(size),
        chain_id=31337,
        contract=CONTRACT,
        tx_hash=os.urandom(32),
        block_number=10 + index,
        block_hash=os.urandom(32),
        anchored_at=datetime(2026, 11, 27, 8, index, tzinfo=UTC),
        confirmed=index == 0,
    )
    CheckpointLog(store.engine).record(checkpoint)
    return checkpoint


def build_world(store: Store) -> World:
    charity = f.charity(name=HOSTILE_NAME)
    ch = charity.body["charity_id"]
    project = f.project(ch, title=HOSTILE_TITLE)
    other = f.project(ch, title="冬季校服")
    pr, pr2 = project.body["project_id"], other.body["project_id"]
    earmarked = f.donation(ch, pr, 10_000)
    general = f.donation(ch, None, 50_000)
    refunded = f.donation(ch, pr2, 8_800)
    store.append([charity, project, other, earmarked, general, refunded])
    disbursement = f.disbursement(ch, pr, 6_000, payee=HOSTILE_PAYEE, purpose=HOSTILE_PURPOSE)
    db = disbursement.body["disbursement_id"]
    allocation = f.allocation(ch, earmarked.body["donation_id"], db, 6_000)
    general_disbursement = f.disbursement(
        ch,
        None,
        20_000,
        payee="大理服装厂",
        purpose="校服 120 套",
        evidence=[
            {"sha256": "0x" + "cd" * 32, "media_type": "image/jpeg", "public": True},
            {"sha256": "0x" + "ef" * 32, "media_type": "application/pdf", "public": False},
        ],
    )
    gdb = general_disbursement.body["disbursement_id"]
    voided = f.disbursement(ch, pr, 1_000, payee="作废的收款方", purpose="booked in error")
    vdb = voided.body["disbursement_id"]
    voided_allocation = f.allocation(ch, earmarked.body["donation_id"], vdb, 1_000)
    store.append(
        [
            disbursement,
            allocation,
            general_disbursement,
            f.allocation(ch, general.body["donation_id"], gdb, 20_000),
            f.refund(refunded.body["donation_id"], 800, reason="捐赠人要求 <退款>"),
            voided,
            voided_allocation,
            f.reversal(ch, voided_allocation.body["allocation_id"]),
            f.void(ch, vdb),
        ]
    )
    first = record_checkpoint(store, 0, 6)
    second = record_checkpoint(store, 1, store.size())
    unanchored = f.donation(ch, pr, 2_500)
    store.append([unanchored])
    return World(
        store=store,
        charity_id=ch,
        project_id=pr,
        other_project_id=pr2,
        earmarked=earmarked.body["donation_id"],
        general=general.body["donation_id"],
        refunded=refunded.body["donation_id"],
        unanchored=unanchored.body["donation_id"],
        disbursement_id=db,
        general_disbursement_id=gdb,
        voided_disbursement_id=vdb,
        allocation_id=allocation.body["allocation_id"],
        checkpoints=[first, second],
    )


@pytest.fixture
def world(store: Store) -> World:
    """The journal on SQLite, and again on PostgreSQL."""
    return build_world(store)


@pytest.fixture
def sqlite_world(sqlite_store: Store) -> World:
    return build_world(sqlite_store)


def explorer_client(store: Store, *, lasting_chain: bool = False) -> TestClient:
    """The explorer on ``store``; with ``lasting_chain`` as on a node that outlives the
    process (not the embedded chain), where confirmed checkpoints are settled."""
    views = PublicViews(
        store=store,
        public_url="http://testserver",
        anchor_interval_s=600,
        lasting_chain=lasting_chain,
    )
    return TestClient(create_explorer(views.read_only()))


def run_node(harness: str, scripts: list[Path], cases: Any) -> Any:
    """Run the Node script ``harness`` (``node -e``) with the ``scripts``' paths as its
    arguments (``process.argv[1]`` on) and ``cases`` as JSON on its standard input; what
    it printed, as JSON."""
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, "-e", harness, *map(str, scripts)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    """The explorer on ``world``, through its read-only engine."""
    with explorer_client(world.store) as test_client:
        yield test_client
        test_client.app.state.explorer.views.store.engine.dispose()  # type: ignore[attr-defined]


@pytest.fixture
def sqlite_client(sqlite_world: World) -> Iterator[TestClient]:
    with explorer_client(sqlite_world.store) as test_client:
        yield test_client
        test_client.app.state.explorer.views.store.engine.dispose()  # type: ignore[attr-defined]


# -- reading pages -----------------------------------------------------------------------------


def json_leaves(value: Any) -> tuple[set[int], set[str]]:
    """Every integer and every string anywhere in a JSON value."""
    ints: set[int] = set()
    strings: set[str] = set()

    def walk(item: Any) -> None:
        if isinstance(item, bool) or item is None:
            return
        if isinstance(item, int):
            ints.add(item)
        elif isinstance(item, str):
            strings.add(item)
        elif isinstance(item, dict):
            for child in item.values():
                walk(child)
        elif isinstance(item, list):
            for child in item:
                walk(child)

    walk(value)
    return ints, strings


def data_values(html: str) -> list[int]:
    """The numbers the page shows in ``<data value>`` (amounts, counts, sizes, blocks)."""
    return [int(v) for v in re.findall(r'<data\b[^>]*\bvalue="(-?\d+)"', html)]


def code_texts(html: str) -> list[str]:
    """Texts the page shows as code: ids, hashes, addresses."""
    return [unescape(text) for text in re.findall(r"<code(?: [^>]*)?>([^<]*)</code>", html)]


def visible_text(html: str) -> str:
    """The page's text with tags removed and entities decoded (scripts' JSON left out)."""
    html = re.sub(r"<script\b[^>]*>.*?</script>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


# -- in a real browser, with no internet -------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for a module's tests; ``browser.phone`` is a phone's settings."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run scripts/setup (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        launched.phone = playwright.devices["Pixel 7"]
        try:
            yield launched
        finally:
            launched.close()
