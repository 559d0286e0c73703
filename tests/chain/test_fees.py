"""EIP-1559 fees under a cap, a cost limit, and which block counts as final (ADR 0038).

On anvil, a real EVM node whose next base fee a test can set
(``anvil_setNextBlockBaseFeePerGas``) and which then lowers it block by block as
EIP-1559 does; and on the embedded chain where it matters.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from eth_typing import Hash32

from chain.client import ChainClient
from chain.devnet import Devnet
from chain.embedded import EmbeddedChain
from chain.errors import FeeAboveCapError, SpendingLimitError
from chain.reader import ChainReader
from tests.api.conftest import mine
from tests.chain.signer_server import json_rpc_server

GWEI = 10**9


def set_next_base_fee(client: ChainClient, wei: int) -> None:
    response = client.w3.provider.make_request(  # type: ignore[attr-defined]
        "anvil_setNextBlockBaseFeePerGas", [hex(wei)]
    )
    assert "error" not in response, response


@pytest.fixture
def client(anvil: Devnet) -> Iterator[ChainClient]:
    """Fresh contracts on the session's anvil; its base fee is put back low afterwards."""
    client = ChainClient.connect(anvil.rpc_url)
    client.deploy()
    yield client
    set_next_base_fee(client, GWEI)
    mine(client, 1)


@pytest.mark.anvil
def test_an_anchor_offers_fees_within_the_cap(client: ChainClient) -> None:
    set_next_base_fee(client, 2 * GWEI)
    client.max_fee_per_gas = 3 * GWEI
    client.max_priority_fee_per_gas = GWEI // 2
    quote = client.fee_quote()
    assert quote.base_fee == 2 * GWEI
    assert quote.max_fee_per_gas == 3 * GWEI  # 2 × base + tip is 4.5 gwei: capped
    assert quote.max_priority_fee_per_gas == GWEI // 2
    assert not quote.over_cap
    tx_hash = client.send_anchor(1, b"\x01" * 32, [])
    tx = client.w3.eth.get_transaction(Hash32(tx_hash))
    assert (tx["maxFeePerGas"], tx["maxPriorityFeePerGas"]) == (3 * GWEI, GWEI // 2)
    client.anchor_outcome(tx_hash)
    receipt = client.receipt(tx_hash)
    assert receipt is not None
    assert client.transaction_cost(tx_hash) == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert client.transaction_cost(tx_hash) <= tx["gas"] * tx["maxFeePerGas"]


@pytest.mark.anvil
def test_nothing_is_sent_while_the_base_fee_is_over_the_cap_and_it_is_once_the_fee_falls(
    client: ChainClient,
) -> None:
    client.max_fee_per_gas = 50 * GWEI
    set_next_base_fee(client, 100 * GWEI)
    nonce = client.w3.eth.get_transaction_count(client.address, "pending")
    with pytest.raises(FeeAboveCapError) as caught:
        client.send_anchor(1, b"\x02" * 32, [])
    assert (caught.value.base_fee, caught.value.max_fee) == (100 * GWEI, 50 * GWEI)
    assert "nothing was sent" in str(caught.value)
    assert client.w3.eth.get_transaction_count(client.address, "pending") == nonce
    # Empty blocks lower the base fee by an eighth each (EIP-1559): 100, 87.5, … 44.9.
    fees = []
    while client.fee_quote().over_cap:
        fees.append(client.base_fee())
        mine(client, 1)
        assert len(fees) < 10
    assert len(fees) == 6
    assert fees == sorted(fees, reverse=True)
    assert client.base_fee() <= 50 * GWEI
    outcome = client.anchor(1, b"\x02" * 32, [])
    assert client.checkpoint_count() == 1
    assert client.w3.eth.get_transaction(outcome.tx_hash)["maxFeePerGas"] <= 50 * GWEI


@pytest.mark.anvil
def test_a_transaction_that_could_cost_more_than_allowed_is_not_sent(client: ChainClient) -> None:
    client.max_fee_per_gas = 10 * GWEI
    nonce = client.w3.eth.get_transaction_count(client.address, "pending")
    with pytest.raises(SpendingLimitError) as caught:
        client.send_anchor(1, b"\x03" * 32, [], max_cost=10**12)
    assert caught.value.allowed == 10**12
    assert caught.value.worst_cost > 10**12
    assert "left in the budget: nothing was sent" in str(caught.value)
    assert client.w3.eth.get_transaction_count(client.address, "pending") == nonce
    # Allowed exactly its worst cost, it goes.
    client.send_anchor(1, b"\x03" * 32, [], max_cost=caught.value.worst_cost)


# -- which block is final -----------------------------------------------------------------


@pytest.mark.anvil
def test_the_final_block_is_the_nodes_finalized_or_safe_one_or_a_depth(
    client: ChainClient,
) -> None:
    mine(client, 70)
    latest = client.block_number()
    finalized = client.settled_block("finalized", 3)
    assert (finalized.number, finalized.basis, finalized.fallback) == (
        int(client.w3.eth.get_block("finalized")["number"]),
        "finalized",
        False,
    )
    assert finalized.number < latest  # anvil's: 64 blocks back
    assert client.settled_block("safe").number == client.w3.eth.get_block("safe")["number"]
    depth = client.settled_block("depth", 3)
    assert (depth.number, depth.describe()) == (latest - 2, "latest - 2")
    # On a devnet its tags are made up: auto counts confirmations.
    assert client.settled_block("auto", 1).describe() == "latest"
    assert client.finality_basis("auto", 2) == "2 confirmations"
    assert client.finality_basis("finalized", 2) == (
        "finalized (where the node has no finalized block: 2 confirmations)"
    )


def test_the_embedded_chain_is_final_at_once() -> None:
    client = ChainClient.embedded(chain=EmbeddedChain())
    client.deploy()
    finalized = client.settled_block("finalized")
    assert (finalized.number, finalized.basis) == (client.block_number(), "finalized")


@contextmanager
def node_without_tags(rpc_url: str) -> Iterator[str]:
    """A proxy onto ``rpc_url`` that knows no ``finalized`` or ``safe`` block, as nodes
    from before the Merge and some L2 nodes answer."""

    def answer(body: bytes) -> bytes:
        request = json.loads(body)
        if request.get("method") == "eth_getBlockByNumber" and request["params"][0] in (
            "finalized",
            "safe",
        ):
            error = {"code": -32602, "message": "invalid block number"}
            return json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}).encode()
        forwarded = urllib.request.Request(rpc_url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(forwarded, timeout=10) as response:
            return bytes(response.read())

    with json_rpc_server(answer) as url:
        yield url


@pytest.mark.anvil
def test_a_node_without_the_tags_falls_back_to_a_depth_and_says_so(anvil: Devnet) -> None:
    with node_without_tags(anvil.rpc_url) as url:
        reader = ChainReader.connect(url)
        latest = reader.block_number()
        settled = reader.settled_block("finalized", 4)
    assert (settled.number, settled.basis, settled.fallback) == (latest - 3, "depth", True)
    assert settled.describe() == "latest - 3 (the node has no finalized block)"
