"""The fault rig: our own PostgreSQL, our own anvil, real API processes, and donors.

Nothing here touches the machine's shared PostgreSQL: the faults restart servers, so
every test gets a database on a server of the suite's own (``PgCluster``) and a chain
node of its own (anvil with a state file), on free ports of 127.0.0.1, all stopped by
their PIDs at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from chain.client import ChainClient
from chain.devnet import Devnet, free_port, start_devnet
from ledger.store.journal import Store
from tests.faults.checks import PAYMENT_REF_KEY
from tests.faults.donors import Donors
from tests.faults.postgres import PgCluster
from tests.faults.servers import ApiServer, clean_environment, new_server

PLATFORM_TOKEN = "fault-tests-platform-token-0123456789abcdef"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL server of the fault suite's own, deleted at the end."""
    cluster = PgCluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def journal_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh, migrated journal database on the suite's own server."""
    if not pg_cluster.is_running():  # a test that failed mid-restart
        pg_cluster.start()
    name = f"faults_{uuid.uuid4().hex[:10]}"
    url = pg_cluster.create_database(name)
    Store.open(url).engine.dispose()  # migrate once, as the operator does before serving
    yield url
    if not pg_cluster.is_running():
        pg_cluster.start()
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class ChainNode:
    """An anvil with a state file, stopped and started again on the same port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    devnet: Devnet | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path:
        return self.workdir / "state.json"

    def start(self) -> None:
        self.devnet = start_devnet(
            port=self.port, state_file=self.state_file, log_file=self.workdir / "anvil.log"
        )

    def stop(self) -> None:
        """SIGTERM: anvil writes its state file and exits."""
        if self.devnet is not None:
            self.devnet.stop()

    def request(self, method: str, params: list[object]) -> object:
        answer = httpx.post(
            self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ).json()
        assert "error" not in answer, answer
        return answer.get("result")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[ChainNode]:
    """Our own anvil, with its state in the test's folder."""
    chain_node = ChainNode(tmp_path / "anvil")
    chain_node.workdir.mkdir()
    chain_node.start()
    try:
        yield chain_node
    finally:
        chain_node.stop()


class Rig:
    """The system under test: API processes on one journal and one chain, and donors."""

    def __init__(self, journal_url: str, node: ChainNode, workdir: Path) -> None:
        self.journal_url = journal_url
        self.node = node
        self.workdir = workdir
        self.client = ChainClient.connect(node.rpc_url, receipt_timeout_s=15, request_timeout_s=5)
        self.client.deploy()
        self.store = Store.open(journal_url, upgrade=False)
        self.servers: list[ApiServer] = []
        self.settings = {
            "SHANLIAN_ADMIN_TOKEN": PLATFORM_TOKEN,
            "API_DATABASE_URL": journal_url,
            "API_PAYMENT_REF_KEY": PAYMENT_REF_KEY.hex(),
            "CHAIN_RPC_URL": node.rpc_url,
            "CHAIN_LEDGER_ANCHOR_ADDRESS": self.client.ledger_anchor.address,
            "CHAIN_CHARITY_REGISTRY_ADDRESS": self.client.charity_registry.address,
            "CHAIN_REQUEST_TIMEOUT_S": "2",
            "CHAIN_RECEIPT_TIMEOUT_S": "5",
            "ANCHOR_INTERVAL_S": "0.2",
            "ANCHOR_POLL_S": "0.1",
            "ANCHOR_BACKOFF_MAX_S": "1",
        }

    def server(self, name: str, *, worker: bool, **settings: str) -> ApiServer:
        """Start an API process (with the anchor worker or ``--no-worker``)."""
        env = clean_environment(**(self.settings | settings))
        server = new_server(name, self.journal_url, env, self.workdir, worker=worker)
        self.servers.append(server)
        server.start()
        return server

    def open_project(self, server: ApiServer) -> tuple[str, str]:
        """Register a charity and open a project through the API: (charity_id, project_id)."""
        platform = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}
        charity = httpx.post(
            f"{server.url}/api/v1/charities",
            json={"name": "云南乡村学校助学会", "registration_no": uuid.uuid4().hex.upper()},
            headers=platform,
        )
        assert charity.status_code == 201, charity.text
        charity_id, key = charity.json()["id"], charity.json()["api_key"]
        project = httpx.post(
            f"{server.url}/api/v1/charities/{charity_id}/projects",
            json={
                "title": "Textbooks for Nujiang schools",
                "goal_amount": 6_000_000,
                "currency": "CNY",
            },
            headers={"Authorization": f"Bearer {key}"},
        )
        assert project.status_code == 201, project.text
        return charity_id, project.json()["id"]

    def donors(self, *servers: ApiServer, count: int = 4) -> Donors:
        """Donors posting round-robin to ``servers`` (a ``with`` block runs them)."""
        charity_id, project_id = self.open_project(servers[0])
        return Donors([s.url for s in servers], PLATFORM_TOKEN, charity_id, project_id, count=count)

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        self.store.engine.dispose()


@pytest.fixture
def rig(journal_url: str, node: ChainNode, tmp_path: Path) -> Iterator[Rig]:
    system = Rig(journal_url, node, tmp_path)
    try:
        yield system
    finally:
        system.close()
