"""Fixtures for the service layer: a journal with donations, the API app in process, and
chain helpers (snapshot, revert, mine). The chains themselves: ``tests/conftest.py``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.anchoring import AnchorSettings
from api.app import build_services, create_app
from api.services import Services
from api.settings import ApiSettings
from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from ledger.store.journal import Store
from ledger.store.official_receipts import OFFICIAL_RECEIPT
from ledger.store.tables import API_KEY, DISBURSEMENT, DONATION, DONOR, EVIDENCE_FILE, IDEMPOTENCY
from tests import factories as f


class Journal:
    """A store with one charity and project, and a helper to add donations."""

    def __init__(self, store: Store) -> None:
        self.store = store
        charity = f.charity()
        self.charity_id = charity.body["charity_id"]
        project = f.project(self.charity_id)
        self.project_id = project.body["project_id"]
        store.append([charity, project])

    def donate(self, count: int = 1, **body: Any) -> list[int]:
        drafts = [f.donation(self.charity_id, self.project_id, **body) for _ in range(count)]
        return [e.seq for e in self.store.append(drafts).entries]


@pytest.fixture
def journal(store: Store) -> Journal:
    """A journal with one charity and project, on SQLite and again on PostgreSQL."""
    return Journal(store)


@pytest.fixture
def sqlite_journal(sqlite_store: Store) -> Journal:
    return Journal(sqlite_store)


def snapshot(client: ChainClient) -> Any:
    """Take a chain snapshot (to revert to, which drops later blocks: a reorg)."""
    if client.embedded_chain is not None:
        return client.embedded_chain.tester.take_snapshot()
    return client.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]


def revert(client: ChainClient, snapshot_id: Any) -> None:
    if client.embedded_chain is not None:
        client.embedded_chain.tester.revert_to_snapshot(snapshot_id)
        return
    response = client.w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
    assert response["result"] is True


def mine(client: ChainClient, blocks: int) -> None:
    if client.embedded_chain is not None:
        client.embedded_chain.tester.mine_blocks(blocks)
        return
    for _ in range(blocks):
        client.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


# -- the HTTP API, in process -------------------------------------------------------------------

PLATFORM_TOKEN = "platform-token-for-the-tests-0123456789abcdef"
"""The platform's bearer token in every API test (``SHANLIAN_ADMIN_TOKEN``)."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_key() -> dict[str, str]:
    """A fresh ``Idempotency-Key`` header."""
    return {"Idempotency-Key": uuid.uuid4().hex}


MINIMAL_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class Stored:
    """What the database holds, to show that a refused request stored nothing."""

    size: int
    root: bytes
    rows: dict[str, int]


class Api:
    """The API app on a journal and a chain, and a client to call it as anyone.

    Attributes:
        services: what the app serves (store, keys, evidence, chain, worker).
        client: an HTTP client onto the app, in process.
        platform: the platform's Authorization header.
    """

    def __init__(self, services: Services, client: TestClient) -> None:
        self.services = services
        self.client = client
        self.platform = bearer(PLATFORM_TOKEN)

    @property
    def store(self) -> Store:
        return self.services.store

    # -- writes through HTTP, asserting they succeed ------------------------------------

    def register_charity(self, name: str = "云南乡村学校助学会") -> tuple[str, dict[str, str]]:
        """A new charity's id and its key's Authorization header."""
        response = self.client.post(
            "/api/v1/charities",
            json={"name": name, "registration_no": f"5353{uuid.uuid4().hex[:14].upper()}"},
            headers=self.platform,
        )
        assert response.status_code == 201, response.text
        return response.json()["id"], bearer(response.json()["api_key"])

    def open_project(self, charity_id: str, auth: dict[str, str], goal: int = 6_000_000) -> str:
        response = self.client.post(
            f"/api/v1/charities/{charity_id}/projects",
            json={"title": "Textbooks for Nujiang schools", "goal_amount": goal, "currency": "CNY"},
            headers=auth,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def donate(
        self, charity_id: str, project_id: str | None, amount: int = 10_000, **body: Any
    ) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/donations",
            json=donation_body(charity_id, project_id, amount) | body,
            headers=self.platform | new_key(),
        )
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def upload(
        self,
        auth: dict[str, str],
        content: bytes = MINIMAL_PDF,
        media_type: str = "application/pdf",
    ) -> str:
        response = self.client.post(
            "/api/v1/evidence", files={"file": ("invoice.pdf", content, media_type)}, headers=auth
        )
        assert response.status_code == 201, response.text
        return str(response.json()["sha256"])

    def disburse(
        self,
        charity_id: str,
        project_id: str | None,
        auth: dict[str, str],
        amount: int = 6_000,
        **body: Any,
    ) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/disbursements",
            json=disbursement_body(charity_id, project_id, amount) | body,
            headers=auth | new_key(),
        )
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def anchor(self) -> dict[str, Any]:
        response = self.client.post("/api/v1/anchor", headers=self.platform)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    # -- what is stored ---------------------------------------------------------------------

    def stored(self) -> Stored:
        size = self.store.size()
        with self.store.engine.connect() as connection:
            rows = {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (
                    DONOR,
                    IDEMPOTENCY,
                    EVIDENCE_FILE,
                    API_KEY,
                    DONATION,
                    DISBURSEMENT,
                    OFFICIAL_RECEIPT,
                )
            }
        return Stored(size=size, root=self.store.root(size), rows=rows)

    def donors(self) -> list[dict[str, Any]]:
        with self.store.engine.connect() as connection:
            return [dict(row) for row in connection.execute(select(DONOR)).mappings()]


def donation_body(charity_id: str, project_id: str | None, amount: int = 10_000) -> dict[str, Any]:
    return {
        "charity_id": charity_id,
        "project_id": project_id,
        "amount": amount,
        "currency": "CNY",
        "channel": "card",
        "paid_at": f.paid_now(),
        "payment_ref": f"PAY-2026-{uuid.uuid4().hex[:12]}",
        "donor": {"name": "王小明", "phone": "+86-138-0000-0000", "anonymous": False},
    }


def disbursement_body(
    charity_id: str, project_id: str | None, amount: int = 6_000
) -> dict[str, Any]:
    return {
        "charity_id": charity_id,
        "project_id": project_id,
        "amount": amount,
        "currency": "CNY",
        "payee": "昆明新华书店",
        "purpose": "textbooks, grade 3",
    }


ApiFactory = Callable[..., Api]


def build_api(
    database_url: str, chain: ChainClient | None, evidence_dir: Path, **settings: Any
) -> Api:
    """The app on a database and a chain (or none), as ``shanlian serve`` wires it."""
    api_settings = ApiSettings(
        database_url=database_url,
        admin_token=PLATFORM_TOKEN,
        evidence_dir=evidence_dir,
        public_url="http://testserver",
        **settings,
    )
    runtime = build_services(
        api_settings,
        chain=chain,
        anchor_settings=AnchorSettings(interval_s=3600, poll_s=0.05),
        with_chain=chain is not None,
    )
    return Api(runtime.services, TestClient(create_app(runtime.services)))


def close_api(api: Api) -> None:
    api.client.close()
    api.store.engine.dispose()
    reader = api.services.reader
    if reader is not None and reader.replica is not None:
        reader.replica.engine.dispose()


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[ApiFactory]:
    """Build the app on a database URL and a chain (or none), with settings overridden."""
    made: list[Api] = []

    def make(database_url: str, chain: ChainClient | None = None, **settings: Any) -> Api:
        made.append(build_api(database_url, chain, tmp_path / f"evidence{len(made)}", **settings))
        return made[-1]

    yield make
    for api in made:
        close_api(api)


@pytest.fixture
def api(make_api: ApiFactory, sqlite_url: str) -> Api:
    """The app on a SQLite journal and a fresh embedded chain."""
    chain = ChainClient.embedded(chain=EmbeddedChain())
    chain.deploy()
    return make_api(sqlite_url, chain)
