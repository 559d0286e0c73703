"""Fixtures for the service layer: a journal with donations, and both chains."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from chain.client import ChainClient
from chain.devnet import Devnet, free_port, start_devnet
from chain.embedded import EmbeddedChain
from ledger.store.journal import Store
from tests import factories as f


@pytest.fixture(autouse=True)
def _no_environment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test, never from the environment the tests run in."""
    for name in list(os.environ):
        if name.upper().startswith(("CHAIN_", "API_", "ANCHOR_", "EXPLORER_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """One anvil for the service tests, stopped by its PID at the end."""
    node = start_devnet(
        port=free_port(), state_file=None, log_file=tmp_path_factory.mktemp("anvil") / "log"
    )
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def chain_client(request: pytest.FixtureRequest) -> ChainClient:
    """A client with freshly deployed contracts on each chain."""
    if request.param == "embedded":
        client = ChainClient.embedded(chain=EmbeddedChain())
    else:
        node: Devnet = request.getfixturevalue("anvil")
        client = ChainClient.connect(node.rpc_url)
    client.deploy()
    return client


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
def journal(database_url: str) -> Iterator[Journal]:
    store = Store.open(database_url)
    yield Journal(store)
    store.engine.dispose()


@pytest.fixture
def sqlite_journal(sqlite_url: str) -> Iterator[Journal]:
    store = Store.open(sqlite_url)
    yield Journal(store)
    store.engine.dispose()


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
