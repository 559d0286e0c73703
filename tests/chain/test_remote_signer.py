"""An external signer holds the anchorer's key (ADR 0038): anvil, a real node that signs
for the accounts it holds, and a small signer of the tests' own that speaks web3signer's
and Clef's methods — and misbehaves the ways a compromised signer could."""

from __future__ import annotations

import pytest
from eth_account import Account

from chain.client import ChainClient
from chain.devnet import Devnet, dev_private_key, free_port
from chain.embedded import EmbeddedChain
from chain.errors import SignerError
from chain.remote_signer import RemoteSigner
from chain.settings import ChainSettings
from tests.chain.signer_server import SignerServer


def address(i: int) -> str:
    return str(Account.from_key(dev_private_key(i)).address)


@pytest.mark.anvil
def test_the_anchorer_signs_through_anvil_as_its_external_signer(anvil: Devnet) -> None:
    """anvil holds the development keys and answers ``eth_signTransaction`` for them, as
    web3signer and geth do: this process never holds the key."""
    settings = ChainSettings(
        rpc_url=anvil.rpc_url, anchorer_signer_url=anvil.rpc_url, anchorer_address=address(4)
    )
    client = ChainClient.from_settings(settings)
    assert isinstance(client.account, RemoteSigner)
    assert not hasattr(client.account, "key")
    client.deploy()
    outcome = client.anchor(1, b"\x22" * 32, [])
    assert client.w3.eth.get_transaction(outcome.tx_hash)["from"] == address(4)
    assert client.checkpoint_count() == 1


@pytest.mark.parametrize("method", ["eth_signTransaction", "account_signTransaction"])
def test_the_anchorer_signs_through_a_web3signer_or_clef_style_signer(method: str) -> None:
    server = SignerServer(dev_private_key(5))
    with server.running():
        signer = RemoteSigner(server.url, address(5), method=method)
        client = ChainClient.embedded(chain=EmbeddedChain(), signer=signer)
        client.deploy()
        outcome = client.anchor(1, b"\x33" * 32, [])
    assert client.w3.eth.get_transaction(outcome.tx_hash)["from"] == address(5)
    asked = [r["method"] for r in server.requests]
    assert asked == [method] * 3  # two deployments and the anchor
    request = server.requests[-1]["params"][0]
    assert request["from"] == address(5)
    assert request["to"] == client.ledger_anchor.address
    assert {"nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "chainId", "data"} <= set(
        request
    )


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("another nonce", "its nonce is"),
        ("another recipient", "its recipient is not the one asked for"),
        ("other data", "its call data is not the one asked for"),
        ("another key", f"it is signed by {address(9)}, not {address(5)}"),
        ("higher fee", "its maxFeePerGas"),
        ("refuse", "refused to sign: Request denied"),
        ("garbage", "not a signed EIP-1559 transaction"),
    ],
)
def test_a_signer_that_signs_something_else_or_refuses_gets_nothing_sent(
    behaviour: str, expected: str
) -> None:
    chain = EmbeddedChain()
    deployed = ChainClient.embedded(chain=chain)
    deployed.deploy(anchorer=address(5))
    server = SignerServer(dev_private_key(5), behaviour)
    with server.running():
        client = deployed.with_account(dev_private_key(5))
        client.account = RemoteSigner(server.url, address(5))
        nonce = client.w3.eth.get_transaction_count(address(5), "pending")
        block = client.block_number()
        with pytest.raises(SignerError) as caught:
            client.send_anchor(1, b"\x44" * 32, [])
    assert expected in str(caught.value)
    assert client.w3.eth.get_transaction_count(address(5), "pending") == nonce
    assert client.block_number() == block
    assert client.checkpoint_count() == 0


def test_a_signer_that_does_not_answer_is_named_and_nothing_is_sent() -> None:
    url = f"http://127.0.0.1:{free_port()}/secret-path"
    client = ChainClient.embedded(chain=EmbeddedChain(), signer=RemoteSigner(url, address(5)))
    with pytest.raises(SignerError) as caught:
        client.deploy()
    message = str(caught.value)
    assert "does not answer" in message
    assert "CHAIN_ANCHORER_SIGNER_URL" in message
    assert "secret-path" not in message  # node and signer URLs may carry credentials


def test_a_signer_needs_an_address_and_a_known_method() -> None:
    with pytest.raises(SignerError, match="CHAIN_ANCHORER_ADDRESS is not an address"):
        RemoteSigner("http://127.0.0.1:1", "0x1234")
    with pytest.raises(SignerError, match="one of eth_signTransaction, account_signTransaction"):
        RemoteSigner("http://127.0.0.1:1", address(5), method="eth_sign")
