"""The client's connection checks, keys, settings, attaching, receipts and confirmations."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from eth_account import Account

from chain.client import ChainClient, decode_charity_id, encode_charity_id
from chain.devnet import Devnet, dev_private_key, free_port, start_devnet
from chain.embedded import EmbeddedChain
from chain.errors import (
    ChainConfigError,
    ChainIdMismatchError,
    ChainUnavailableError,
    ContractNotDeployedError,
    ReceiptTimeoutError,
)
from chain.settings import ChainSettings
from ledger.merkle import MemoryTree

OWN_KEY = "0x" + "4c" * 32


def test_development_account_0_is_anvils_well_known_one() -> None:
    assert Account.from_key(dev_private_key(0)).address == (
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    )
    with pytest.raises(ValueError, match="0 to 9"):
        dev_private_key(10)


@pytest.mark.anvil
def test_connect_refuses_a_node_of_another_chain_and_says_what_to_do(
    anvil: Devnet,
) -> None:
    with pytest.raises(ChainIdMismatchError) as error:
        ChainClient.connect(anvil.rpc_url, chain_id=8453)
    assert (error.value.expected, error.value.actual) == (8453, 31337)
    message = str(error.value)
    assert anvil.rpc_url in message
    assert "is CHAIN_RPC_URL the node for chain id 8453?" in message


def test_connect_to_a_node_that_is_not_there_fails_fast() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChainUnavailableError, match="is it running"):
        ChainClient.connect(url)


@pytest.fixture(scope="module")
def foreign_node() -> Iterator[Devnet]:
    """An anvil that is not a devnet: chain id 4242."""
    node = start_devnet(port=free_port(), state_file=None, chain_id=4242)
    try:
        yield node
    finally:
        node.stop()


@pytest.mark.anvil
def test_a_chain_other_than_the_devnet_needs_a_key_of_its_own(foreign_node: Devnet) -> None:
    with pytest.raises(ChainConfigError, match="set CHAIN_ANCHORER_PRIVATE_KEY"):
        ChainClient.connect(foreign_node.rpc_url, chain_id=4242)
    with pytest.raises(ChainConfigError, match="public development keys"):
        ChainClient.connect(foreign_node.rpc_url, chain_id=4242, private_key=dev_private_key(4))
    with pytest.raises(ChainConfigError, match="not a valid private key"):
        ChainClient.connect(foreign_node.rpc_url, chain_id=4242, private_key="0x1234")
    client = ChainClient.connect(foreign_node.rpc_url, chain_id=4242, private_key=OWN_KEY)
    assert client.address == Account.from_key(OWN_KEY).address
    assert not client.is_devnet


def test_from_settings_without_rpc_url_starts_the_embedded_chain() -> None:
    client = ChainClient.from_settings(ChainSettings(_env_file=None, rpc_url=None))
    assert client.is_embedded
    assert client.rpc_url is None
    assert client.chain_id == client.w3.eth.chain_id
    assert client.block_number() == 0


def test_embedded_chain_with_contract_addresses_is_a_config_error() -> None:
    settings = ChainSettings(
        _env_file=None, ledger_anchor_address="0x5FbDB2315678afecb367f032d93F642f64180aa3"
    )
    with pytest.raises(ChainConfigError, match="CHAIN_RPC_URL is not"):
        ChainClient.from_settings(settings)


@pytest.mark.anvil
def test_from_settings_connects_and_attaches_deployed_contracts(anvil: Devnet) -> None:
    deployment = ChainClient.connect(anvil.rpc_url).deploy()
    settings = ChainSettings(
        _env_file=None,
        rpc_url=anvil.rpc_url,
        chain_id=31337,
        confirmations=1,
        ledger_anchor_address=deployment.ledger_anchor.lower(),
        charity_registry_address=deployment.charity_registry,
    )
    client = ChainClient.from_settings(settings)
    assert client.ledger_anchor.address == deployment.ledger_anchor
    assert client.checkpoint_count() == 0
    assert client.poll_interval_s == 0.01  # a loopback node: poll often


def test_attach_checks_the_code_at_the_address(bare_client: ChainClient) -> None:
    deployment = bare_client.deploy()
    with pytest.raises(ContractNotDeployedError, match="no contract there"):
        bare_client.attach(ledger_anchor="0x000000000000000000000000000000000000dEaD")
    with pytest.raises(ContractNotDeployedError, match="not this build"):
        bare_client.attach(ledger_anchor=deployment.charity_registry)
    with pytest.raises(ContractNotDeployedError, match="not an address"):
        bare_client.attach(charity_registry="0x1234")
    assert bare_client.ledger_anchor.address == deployment.ledger_anchor


def test_a_client_without_contracts_says_how_to_get_them(bare_client: ChainClient) -> None:
    with pytest.raises(ChainConfigError, match="CHAIN_LEDGER_ANCHOR_ADDRESS"):
        bare_client.checkpoint_count()
    with pytest.raises(ChainConfigError, match="CHAIN_CHARITY_REGISTRY_ADDRESS"):
        bare_client.is_charity_active("ch_x")


def _mine(client: ChainClient, blocks: int) -> None:
    if client.embedded_chain is not None:
        client.embedded_chain.tester.mine_blocks(blocks)
    else:
        client.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]


def test_confirmations_count_the_blocks_on_top(client: ChainClient) -> None:
    tree = MemoryTree.from_leaf_hashes([bytes(32)] * 3)
    tx_hash = client.send_anchor(3, tree.root(), [])
    client.wait_for_receipt(tx_hash, confirmations=1)
    assert client.confirmations_of(tx_hash) == 1
    _mine(client, 2)
    assert client.confirmations_of(tx_hash) == 3
    outcome = client.anchor_outcome(tx_hash, confirmations=3)
    assert (outcome.checkpoint_index, outcome.tree_size) == (0, 3)


def test_waiting_for_more_confirmations_than_come_times_out(client: ChainClient) -> None:
    tree = MemoryTree.from_leaf_hashes([bytes(32)] * 2)
    tx_hash = client.send_anchor(2, tree.root(), [])
    impatient = client.with_account(dev_private_key(0))
    impatient.receipt_timeout_s = 0.3
    with pytest.raises(ReceiptTimeoutError, match="has not reached 5 confirmations") as error:
        impatient.wait_for_receipt(tx_hash, confirmations=5)
    assert error.value.tx_hash == tx_hash


def test_a_transaction_never_sent_has_no_confirmations_and_times_out(
    client: ChainClient,
) -> None:
    unknown = bytes.fromhex("ab" * 32)
    assert client.confirmations_of(unknown) == 0
    client.receipt_timeout_s = 0.2
    with pytest.raises(ReceiptTimeoutError, match="was not mined"):
        client.wait_for_receipt(unknown)


def test_clients_can_share_one_embedded_chain(embedded_chain: EmbeddedChain) -> None:
    first = ChainClient.embedded(chain=embedded_chain)
    deployment = first.deploy()
    second = ChainClient.embedded(chain=embedded_chain, private_key=dev_private_key(5))
    second.attach(ledger_anchor=deployment.ledger_anchor)
    assert second.checkpoint_count() == 0
    assert second.address != first.address


@pytest.mark.parametrize("charity_id", ["ch_01JDX4QW7T8M3B", "慈善_1", "x" * 32])
def test_charity_ids_round_trip(charity_id: str) -> None:
    key = encode_charity_id(charity_id)
    assert len(key) == 32
    assert decode_charity_id(key) == charity_id


def test_the_embedded_chain_serves_threads_one_request_at_a_time(
    embedded_chain: EmbeddedChain,
) -> None:
    """The anchor worker sends while the API reads: eth-tester must not see both at once."""
    client = ChainClient.embedded(chain=embedded_chain)
    assert not client.is_deployed
    client.deploy()
    assert client.is_deployed
    tree = MemoryTree.from_leaf_hashes(bytes([i]) * 32 for i in range(40))
    failures: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        reader = client.with_account(dev_private_key(6))
        while not stop.is_set():
            try:
                count = reader.checkpoint_count()
                if count:
                    reader.checkpoint_at(count - 1)
                reader.block_number()
            except BaseException as exc:  # any failure fails the test
                failures.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        previous = 0
        for size in range(4, 41, 4):
            proof = tree.consistency_proof(previous, size) if previous else []
            client.anchor(size, tree.root(size), proof)
            previous = size
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert failures == []
    assert client.checkpoint_count() == 10
