"""Fixtures for the chain tests: both chains, fresh contracts, trees of real leaves.

Every contract test takes ``client`` and so runs twice: on the embedded chain (eth-tester
+ py-evm) and on the session's anvil (``anvil`` in ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_typing import Hash32
from web3.contract.contract import ContractFunction
from web3.types import TxParams, TxReceipt, Wei

from chain.client import ChainClient
from chain.devnet import Devnet, dev_private_key
from chain.embedded import EmbeddedChain
from ledger.merkle import MemoryTree, leaf_hash


def entry_leaf(i: int) -> bytes:
    """The leaf hash of a made-up entry number ``i``."""
    return leaf_hash(f'{{"seq":{i},"v":1}}'.encode())


@pytest.fixture(scope="session")
def big_tree() -> MemoryTree:
    """A 200-leaf log; ``root(n)`` and the proofs give every smaller tree too."""
    return MemoryTree.from_leaf_hashes(entry_leaf(i) for i in range(200))


@pytest.fixture(scope="session")
def embedded_chain() -> EmbeddedChain:
    """One embedded chain for the session; every test deploys contracts of its own."""
    return EmbeddedChain()


@pytest.fixture(params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def bare_client(request: pytest.FixtureRequest) -> ChainClient:
    """A client on each chain, signing as development account 0, no contracts yet."""
    if request.param == "embedded":
        return ChainClient.embedded(chain=request.getfixturevalue("embedded_chain"))
    node: Devnet = request.getfixturevalue("anvil")
    return ChainClient.connect(node.rpc_url)


@pytest.fixture
def client(bare_client: ChainClient) -> ChainClient:
    """A client with freshly deployed contracts; account 0 is admin, anchorer, registrar."""
    bare_client.deploy()
    return bare_client


@pytest.fixture
def outsider(client: ChainClient) -> ChainClient:
    """The same contracts, signing as development account 1, which holds no role."""
    return client.with_account(dev_private_key(1))


def send_unchecked(client: ChainClient, function: ContractFunction, gas: int = 300_000) -> bytes:
    """Send ``function`` with a fixed gas limit, skipping the estimate that would refuse a
    reverting call, so that the revert happens in a mined block."""
    params: TxParams = {
        "from": client.account.address,
        "nonce": client.w3.eth.get_transaction_count(client.account.address, "pending"),
        "chainId": client.chain_id,
        "gas": gas,
        "maxFeePerGas": Wei(10**11),
        "maxPriorityFeePerGas": Wei(10**9),
    }
    tx: dict[str, Any] = dict(function.build_transaction(params))
    signed = client.account.sign_transaction(tx)
    return bytes(client.w3.eth.send_raw_transaction(signed.raw_transaction))


def mined_receipt(client: ChainClient, tx_hash: bytes) -> TxReceipt:
    """The receipt of a mined transaction, failed or not."""
    return client.w3.eth.wait_for_transaction_receipt(
        Hash32(tx_hash), timeout=10, poll_latency=0.01
    )


@pytest.fixture
def all_logs(client: ChainClient) -> Callable[[], list[Any]]:
    """Every log the test's two contracts have emitted since the fixture was made."""
    start = client.block_number()

    def logs() -> list[Any]:
        return client.get_logs(
            {
                "fromBlock": start,
                "toBlock": "latest",
                "address": [client.ledger_anchor.address, client.charity_registry.address],
            }
        )

    return logs


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A directory for a devnet state file."""
    path = tmp_path / "devnet"
    path.mkdir()
    return path
