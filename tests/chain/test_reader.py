"""ChainReader on both chains: reads with no key, pinned to a block; the code check; what a
transaction anchored; and the address helpers callers outside ``chain`` use."""

from __future__ import annotations

import pytest

from chain.accounts import address_of_key, checksum_address, is_address
from chain.artifacts import CHARITY_REGISTRY, LEDGER_ANCHOR, function_selector, load_artifact
from chain.client import ChainClient
from chain.devnet import Devnet, dev_private_key
from chain.errors import ChainIdMismatchError, ChainUnavailableError
from chain.reader import ChainReader
from ledger.merkle import MemoryTree
from tests.chain.conftest import entry_leaf


def reader_of(client: ChainClient) -> ChainReader:
    """A keyless reader of the client's chain, attached to its contracts as an outsider."""
    if client.rpc_url is None:
        assert client.embedded_chain is not None
        reader = ChainReader.embedded(client.embedded_chain)
    else:
        reader = ChainReader.connect(client.rpc_url, chain_id=client.chain_id)
    reader.attach(
        ledger_anchor=client.ledger_anchor.address,
        charity_registry=client.charity_registry.address,
    )
    return reader


def test_a_reader_holds_no_key_and_reads_what_the_client_wrote(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    client.anchor(3, big_tree.root(3), [])
    client.register_charity("ch_reader", None, b"\x01" * 32)
    reader = reader_of(client)

    assert not hasattr(reader, "account")
    assert not hasattr(reader, "anchor")
    assert [(c.index, c.tree_size) for c in reader.checkpoints()] == [(0, 3)]
    assert reader.checkpoint_of(big_tree.root(3)).tree_size == 3
    assert reader.verify_inclusion(3, 1, entry_leaf(1), big_tree.inclusion_proof(1, 3))
    assert reader.charity("ch_reader").metadata_hash == b"\x01" * 32
    assert reader.registered_charity_ids() == ["ch_reader"]


def test_reads_pinned_to_a_block_see_the_chain_as_it_was_then(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    first = client.anchor(3, big_tree.root(3), [])
    client.anchor(7, big_tree.root(7), big_tree.consistency_proof(3, 7))
    client.register_charity("ch_later", None, b"\x02" * 32)
    reader = reader_of(client)
    pinned = first.block_number

    assert [c.tree_size for c in reader.checkpoints(pinned)] == [3]
    assert reader.checkpoint_count(pinned) == 1
    latest = reader.latest_checkpoint(pinned)
    assert latest is not None
    assert latest.tree_size == 3
    assert reader.registered_charity_ids(pinned) == []
    assert [c.tree_size for c in reader.checkpoints()] == [3, 7]


def test_the_code_check_tells_the_published_build_from_other_code_and_from_none(
    client: ChainClient,
) -> None:
    reader = reader_of(client)
    anchor = reader.contract_code(LEDGER_ANCHOR, client.ledger_anchor.address, "latest")
    assert (anchor.checked, anchor.present, anchor.published_build) == (True, True, True)

    other = reader.contract_code(CHARITY_REGISTRY, client.ledger_anchor.address, "latest")
    assert (other.present, other.published_build) == (True, False)

    nobody = "0x" + "12" * 20
    empty = reader.contract_code(LEDGER_ANCHOR, nobody, "latest")
    assert (empty.present, empty.published_build, empty.address) == (
        False,
        False,
        checksum_address(nobody),
    )
    with pytest.raises(ValueError, match="not an address"):
        reader.contract_code(LEDGER_ANCHOR, "0x1234", "latest")


def test_anchor_transaction_says_where_it_is_and_what_it_anchored(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    outcome = client.anchor(4, big_tree.root(4), [])
    registered = client.register_charity("ch_tx", None, b"\x03" * 32)
    reader = reader_of(client)

    tx = reader.anchor_transaction(outcome.tx_hash)
    assert tx is not None
    assert (tx.block_number, tx.succeeded, tx.canonical) == (outcome.block_number, True, True)
    assert tx.anchored == [(0, 4, big_tree.root(4))]

    other = reader.anchor_transaction(registered.tx_hash)
    assert other is not None
    assert other.anchored == []
    assert reader.anchor_transaction(b"\xab" * 32) is None


def test_a_reader_of_its_own_leaves_the_first_as_it_was(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    client.anchor(2, big_tree.root(2), [])
    reader = reader_of(client)
    own = reader.reader(ledger_anchor=client.ledger_anchor.address)

    assert own is not reader
    assert not hasattr(own, "account")
    assert own.ledger_anchor.address == reader.ledger_anchor.address
    assert own.charity_registry.address == reader.charity_registry.address
    assert own.checkpoint_count() == 1


@pytest.mark.anvil
def test_connect_checks_the_chain_id_only_when_asked(anvil: Devnet) -> None:
    reader = ChainReader.connect(anvil.rpc_url)
    assert reader.chain_id == 31337
    assert reader.rpc_url == anvil.rpc_url
    with pytest.raises(ChainIdMismatchError):
        ChainReader.connect(anvil.rpc_url, chain_id=1)


def test_connect_to_no_node_says_what_to_check() -> None:
    with pytest.raises(ChainUnavailableError, match="is --rpc right"):
        ChainReader.connect("http://127.0.0.1:9", request_timeout_s=2.0, hint="is --rpc right?")


def test_addresses_and_keys_are_checked_and_derived_in_chain() -> None:
    key = dev_private_key(0)
    address = address_of_key(key)
    assert is_address(address)
    assert address == checksum_address(address.lower())
    assert address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's account 0
    assert not is_address("0x1234")
    assert not is_address(None)
    with pytest.raises(ValueError, match="0xnot-an-address"):
        checksum_address("0xnot-an-address")


def test_function_selectors_match_the_ones_the_compiler_listed() -> None:
    for name in (LEDGER_ANCHOR, CHARITY_REGISTRY):
        artifact = load_artifact(name)
        listed = {
            "0x" + s.removeprefix("0x"): sig for sig, s in artifact.method_identifiers.items()
        }
        for item in artifact.abi:
            if item.get("type") == "function":
                selector = "0x" + function_selector(item).hex()
                assert listed[selector].startswith(item["name"] + "(")
        assert set(artifact.view_functions().values()) <= set(listed.values())
