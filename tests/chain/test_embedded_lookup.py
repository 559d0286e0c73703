"""The embedded chain finds a transaction by py-evm's hash index, as eth-tester's own
walk over every block would, without the walk (an old or unknown hash cost the whole
chain, and ``eth_getLogs`` the square of it)."""

from __future__ import annotations

import os

import pytest
from eth_tester.backends.pyevm.main import _get_transaction_by_hash
from eth_tester.backends.pyevm.serializers import serialize_transaction_receipt
from web3.exceptions import TransactionNotFound

from chain.client import ChainClient
from chain.embedded import EmbeddedChain


@pytest.fixture
def client() -> ChainClient:
    client = ChainClient.embedded(chain=EmbeddedChain())
    client.deploy()
    return client


def test_every_transaction_is_found_as_the_walk_finds_it(client: ChainClient) -> None:
    hashes = [client.register_charity(f"ch_{n}", None, os.urandom(32)).tx_hash for n in range(6)]
    assert client.embedded_chain is not None
    backend = client.embedded_chain.tester.backend
    for tx_hash in hashes:
        block, transaction, index = _get_transaction_by_hash(backend.chain, tx_hash)
        walked = serialize_transaction_receipt(
            block,
            block.get_receipts(backend.chain.chaindb),
            transaction,
            index,
            False,
            backend.chain.get_vm(),
        )
        assert backend.get_transaction_receipt(tx_hash) == walked
        assert backend.get_transaction_by_hash(tx_hash)["hash"] == tx_hash
        receipt = client.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        assert bytes(receipt["transactionHash"]) == tx_hash
        assert receipt["blockNumber"] == block.number


def test_an_unknown_or_reverted_transaction_is_not_found(client: ChainClient) -> None:
    with pytest.raises(TransactionNotFound):
        client.w3.eth.get_transaction_receipt(b"\xab" * 32)  # type: ignore[arg-type]
    assert client.embedded_chain is not None
    tester = client.embedded_chain.tester
    snapshot = tester.take_snapshot()
    dropped = client.register_charity("ch_dropped", None, os.urandom(32)).tx_hash
    assert client.w3.eth.get_transaction_receipt(dropped)["status"] == 1  # type: ignore[arg-type]
    tester.revert_to_snapshot(snapshot)
    client.register_charity("ch_instead", None, os.urandom(32))  # the same height again
    with pytest.raises(TransactionNotFound):
        client.w3.eth.get_transaction_receipt(dropped)  # type: ignore[arg-type]
    with pytest.raises(TransactionNotFound):
        client.w3.eth.get_transaction(dropped)  # type: ignore[arg-type]


def test_an_old_transaction_is_found_without_reading_the_blocks_after_it(
    client: ChainClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = client.register_charity("ch_first", None, os.urandom(32)).tx_hash
    for n in range(30):
        client.register_charity(f"ch_{n}", None, os.urandom(32))
    assert client.embedded_chain is not None
    chain = client.embedded_chain.tester.backend.chain
    read: list[int] = []
    by_number = chain.get_canonical_block_by_number

    def counted(number: int) -> object:
        read.append(number)
        return by_number(number)

    monkeypatch.setattr(chain, "get_canonical_block_by_number", counted)
    assert client.w3.eth.get_transaction_receipt(first)["status"] == 1  # type: ignore[arg-type]
    with pytest.raises(TransactionNotFound):
        client.w3.eth.get_transaction_receipt(b"\xcd" * 32)  # type: ignore[arg-type]
    assert len(read) <= 2  # the walk read all 30 blocks after it, and every block for none
