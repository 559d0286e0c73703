"""LedgerAnchor on both chains: anchoring, every revert by name and arguments, events,
reading checkpoints, and inclusion checked by ``eth_call`` against ``ledger.merkle``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chain.client import ANCHORER_ROLE, ChainClient
from chain.devnet import dev_private_key
from chain.errors import (
    AccessControlUnauthorizedAccountError,
    CheckpointLogError,
    CustomContractError,
    LedgerAnchorInconsistentError,
    LedgerAnchorNoCheckpointError,
    LedgerAnchorNotGrowingError,
    LedgerAnchorProofLengthError,
    LedgerAnchorUnknownRootError,
    LedgerAnchorZeroRootError,
    UnknownCheckpointError,
)
from ledger.errors import LedgerError
from ledger.merkle import MemoryTree, consistency_plan, leaf_hash, verify_inclusion
from tests.chain.conftest import entry_leaf, mined_receipt, send_unchecked


def flip(h: bytes, bit: int = 0) -> bytes:
    """``h`` with one bit flipped."""
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def anchor_sizes(client: ChainClient, tree: MemoryTree, sizes: list[int]) -> None:
    previous = 0
    for size in sizes:
        proof = tree.consistency_proof(previous, size) if previous else []
        client.anchor(size, tree.root(size), proof)
        previous = size


def test_first_checkpoint_is_anchored_with_an_empty_proof(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    assert client.latest_checkpoint() is None
    outcome = client.anchor(5, big_tree.root(5), [])

    assert (outcome.checkpoint_index, outcome.tree_size, outcome.root_hash) == (
        0,
        5,
        big_tree.root(5),
    )
    [event] = client.checkpoint_events()
    assert (event.index, event.tree_size, event.root_hash) == (0, 5, big_tree.root(5))
    assert (event.tx_hash, event.block_number) == (outcome.tx_hash, outcome.block_number)
    block = client.w3.eth.get_block(outcome.block_number)
    checkpoint = client.checkpoint_at(0)
    assert (checkpoint.tree_size, checkpoint.root_hash) == (5, big_tree.root(5))
    assert checkpoint.anchored_at == block["timestamp"]
    assert client.latest_checkpoint() == checkpoint
    assert client.checkpoint_count() == 1


def test_first_checkpoint_needs_entries(client: ChainClient, big_tree: MemoryTree) -> None:
    with pytest.raises(LedgerAnchorNotGrowingError) as error:
        client.check_anchor(0, big_tree.root(0), [])
    assert (error.value.current, error.value.proposed) == (0, 0)
    with pytest.raises(ValueError, match="tree size 0"):
        client.send_anchor(0, big_tree.root(0), [])


def test_first_checkpoint_needs_a_root(client: ChainClient) -> None:
    with pytest.raises(LedgerAnchorZeroRootError) as error:
        client.anchor(3, bytes(32), [])
    assert error.value.name == "LedgerAnchorZeroRoot"
    assert client.checkpoint_count() == 0
    assert client.latest_checkpoint() is None


def test_first_checkpoint_refuses_a_proof(client: ChainClient, big_tree: MemoryTree) -> None:
    with pytest.raises(LedgerAnchorProofLengthError) as error:
        client.anchor(4, big_tree.root(4), [big_tree.root(2)])
    assert error.value.arguments == {"fromSize": 0, "toSize": 4, "expected": 0, "got": 1}
    assert client.checkpoint_count() == 0


def test_growing_checkpoints_are_anchored_and_read_back(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    # Powers of two and not, odd and even indexes.
    sizes = [1, 2, 3, 4, 7, 8, 9, 16, 17, 31, 32, 100, 101, 200]
    outcomes = []
    previous = 0
    for size in sizes:
        proof = big_tree.consistency_proof(previous, size) if previous else []
        outcomes.append(client.anchor(size, big_tree.root(size), proof))
        previous = size

    assert [o.checkpoint_index for o in outcomes] == list(range(len(sizes)))
    events = client.checkpoint_events()
    assert [(e.index, e.tree_size, e.root_hash) for e in events] == [
        (i, size, big_tree.root(size)) for i, size in enumerate(sizes)
    ]
    assert client.checkpoint_count() == len(sizes)
    for i, (size, outcome) in enumerate(zip(sizes, outcomes, strict=True)):
        checkpoint = client.checkpoint_at(i)
        assert (checkpoint.index, checkpoint.tree_size, checkpoint.root_hash) == (
            i,
            size,
            big_tree.root(size),
        )
        assert checkpoint.anchored_at == client.w3.eth.get_block(outcome.block_number)["timestamp"]
        assert client.checkpoint_of(big_tree.root(size)) == checkpoint
    assert client.checkpoints() == [client.checkpoint_at(i) for i in range(len(sizes))]
    latest = client.latest_checkpoint()
    assert latest is not None
    assert (latest.index, latest.tree_size) == (len(sizes) - 1, 200)
    assert latest == client.checkpoints()[-1]


@pytest.mark.parametrize("proposed", [8, 7, 1])
def test_anchor_rejects_a_tree_that_does_not_grow(
    client: ChainClient, big_tree: MemoryTree, proposed: int
) -> None:
    client.anchor(8, big_tree.root(8), [])
    with pytest.raises(LedgerAnchorNotGrowingError) as error:
        client.anchor(proposed, big_tree.root(proposed), [])
    assert (error.value.current, error.value.proposed) == (8, proposed)
    assert error.value.name == "LedgerAnchorNotGrowing"


def test_anchor_rejects_inconsistent_root(client: ChainClient, big_tree: MemoryTree) -> None:
    client.anchor(6, big_tree.root(6), [])
    # A log that rewrote entry 2 and then grew: its proof is well formed but leads elsewhere.
    leaves = [entry_leaf(i) for i in range(10)]
    leaves[2] = leaf_hash(b"rewritten")
    forged = MemoryTree.from_leaf_hashes(leaves)
    with pytest.raises(LedgerAnchorInconsistentError) as error:
        client.anchor(10, forged.root(10), forged.consistency_proof(6, 10))
    assert (error.value.from_size, error.value.to_size) == (6, 10)
    # A right proof does not make a wrong new root pass, either.
    with pytest.raises(LedgerAnchorInconsistentError):
        client.anchor(10, forged.root(10), big_tree.consistency_proof(6, 10))
    assert client.checkpoint_count() == 1


Mutation = tuple[str, list[bytes], type[CustomContractError]]


def _proof_mutations(proof: list[bytes]) -> list[Mutation]:
    mutations: list[Mutation] = []
    for i in range(len(proof)):
        for bit in (0, 7):
            mutated = list(proof)
            mutated[i] = flip(mutated[i], bit)
            mutations.append((f"hash {i} bit {bit}", mutated, LedgerAnchorInconsistentError))
    mutations.append(("truncated", proof[:-1], LedgerAnchorProofLengthError))
    mutations.append(("padded", [*proof, proof[-1]], LedgerAnchorProofLengthError))
    mutations.append(("padded with zeros", [*proof, bytes(32)], LedgerAnchorProofLengthError))
    mutations.append(("empty", [], LedgerAnchorProofLengthError))
    mutations.append(("reversed", proof[::-1], LedgerAnchorInconsistentError))
    return mutations


@pytest.mark.parametrize(("first", "second"), [(6, 13), (4, 13), (7, 8), (3, 100)])
def test_anchor_rejects_every_mutation_of_a_consistency_proof(
    client: ChainClient, big_tree: MemoryTree, first: int, second: int
) -> None:
    client.anchor(first, big_tree.root(first), [])
    proof = big_tree.consistency_proof(first, second)
    expected_length = len(consistency_plan(first, second))
    for label, mutated, error_type in _proof_mutations(proof):
        if mutated == proof or (label == "reversed" and len(proof) < 2):
            continue
        with pytest.raises(error_type) as error:
            client.send_anchor(second, big_tree.root(second), mutated)
        if error_type is LedgerAnchorProofLengthError:
            assert error.value.arguments == {
                "fromSize": first,
                "toSize": second,
                "expected": expected_length,
                "got": len(mutated),
            }, label
        else:
            assert error.value.arguments == {"fromSize": first, "toSize": second}, label
    assert client.checkpoint_count() == 1
    client.anchor(second, big_tree.root(second), proof)
    assert client.checkpoint_count() == 2


def test_consistency_is_checked_like_ledger_merkle_for_all_small_sizes(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    """For every 1 <= first <= 20 and first < second <= 25, by ``eth_call``: the right proof
    passes, and a padded one names the expected length, which must be what ledger.merkle
    gives."""
    previous = 0
    for first in range(1, 21):
        proof = big_tree.consistency_proof(previous, first) if previous else []
        client.anchor(first, big_tree.root(first), proof)
        previous = first
        for second in range(first + 1, 26):
            proof = big_tree.consistency_proof(first, second)
            client.check_anchor(second, big_tree.root(second), proof)
            with pytest.raises(LedgerAnchorProofLengthError) as error:
                client.check_anchor(second, big_tree.root(second), [*proof, proof[0]])
            assert (error.value.expected, error.value.got) == (len(proof), len(proof) + 1)


def test_non_anchorer_cannot_anchor(
    client: ChainClient, outsider: ChainClient, big_tree: MemoryTree
) -> None:
    with pytest.raises(AccessControlUnauthorizedAccountError) as error:
        outsider.anchor(3, big_tree.root(3), [])
    assert error.value.account == outsider.address
    assert error.value.needed_role == ANCHORER_ROLE
    assert client.checkpoint_count() == 0


def test_only_the_anchorer_anchors_even_the_admin_is_refused(
    bare_client: ChainClient, big_tree: MemoryTree
) -> None:
    anchorer = bare_client.with_account(dev_private_key(2))
    bare_client.deploy(anchorer=anchorer.address)
    anchorer.attach(
        ledger_anchor=bare_client.ledger_anchor.address,
        charity_registry=bare_client.charity_registry.address,
    )
    with pytest.raises(AccessControlUnauthorizedAccountError) as error:
        bare_client.anchor(3, big_tree.root(3), [])
    assert error.value.account == bare_client.address
    assert anchorer.anchor(3, big_tree.root(3), []).checkpoint_index == 0
    assert bare_client.has_role(bare_client.ledger_anchor, ANCHORER_ROLE, anchorer.address)
    assert not bare_client.has_role(bare_client.ledger_anchor, ANCHORER_ROLE, bare_client.address)


def test_no_account_can_replace_a_checkpoint(
    client: ChainClient, outsider: ChainClient, big_tree: MemoryTree
) -> None:
    client.anchor(8, big_tree.root(8), [])
    original = client.checkpoint_at(0)
    other_root = MemoryTree.from_leaf_hashes(leaf_hash(b"x%d" % i) for i in range(8)).root()
    for attempt in (client, outsider):
        for size, root in ((8, other_root), (8, big_tree.root(8)), (3, other_root)):
            with pytest.raises(
                (LedgerAnchorNotGrowingError, AccessControlUnauthorizedAccountError)
            ):
                attempt.anchor(size, root, [])
    # Nothing but `anchor` writes checkpoints: the rest of the ABI only manages roles.
    writers = {
        item["name"]
        for item in client.ledger_anchor.abi
        if item["type"] == "function" and item["stateMutability"] not in ("view", "pure")
    }
    assert writers == {"anchor", "grantRole", "revokeRole", "renounceRole"}
    assert client.checkpoint_at(0) == original
    assert client.checkpoint_count() == 1
    with pytest.raises(LedgerAnchorUnknownRootError):
        client.checkpoint_of(other_root)


def test_a_reverted_anchor_is_mined_but_emits_and_changes_nothing(
    client: ChainClient, big_tree: MemoryTree, all_logs: Callable[[], list[Any]]
) -> None:
    client.anchor(4, big_tree.root(4), [])
    before = all_logs()
    function = client.ledger_anchor.functions.anchor(
        9, big_tree.root(9), [flip(h) for h in big_tree.consistency_proof(4, 9)]
    )
    tx_hash = send_unchecked(client, function)
    receipt = mined_receipt(client, tx_hash)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    assert all_logs() == before
    assert client.checkpoint_count() == 1
    # The client decodes why, by replaying the transaction.
    with pytest.raises(LedgerAnchorInconsistentError) as error:
        client.wait_for_receipt(tx_hash)
    assert (error.value.from_size, error.value.to_size) == (4, 9)


def test_unknown_checkpoints_are_refused(client: ChainClient, big_tree: MemoryTree) -> None:
    with pytest.raises(LedgerAnchorNoCheckpointError):
        client.call(client.ledger_anchor.functions.latestCheckpoint())
    assert client.latest_checkpoint() is None
    assert client.checkpoints() == []
    with pytest.raises(UnknownCheckpointError) as error:
        client.checkpoint_at(0)
    assert (error.value.index, error.value.count) == (0, 0)
    client.anchor(2, big_tree.root(2), [])
    with pytest.raises(UnknownCheckpointError) as error:
        client.checkpoint_at(1)
    assert (error.value.index, error.value.count) == (1, 1)
    for root in (big_tree.root(3), big_tree.root(1), bytes(32)):
        with pytest.raises(LedgerAnchorUnknownRootError) as unknown:
            client.checkpoint_of(root)
        assert unknown.value.root_hash == root
    # A right proof against a tree size never anchored proves nothing on chain.
    leaf = big_tree.levels[0][0]
    assert merkle_says(0, 3, leaf, big_tree.inclusion_proof(0, 3), big_tree.root(3))
    assert not client.verify_inclusion(3, 0, leaf, big_tree.inclusion_proof(0, 3))
    assert client.verify_inclusion(2, 0, leaf, big_tree.inclusion_proof(0, 2))


INCLUSION_SIZES = [1, 2, 3, 5, 8, 13, 32, 33]


def merkle_says(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """The verdict of ``ledger.merkle``, the reference the contract must agree with."""
    try:
        verify_inclusion(index, size, leaf, proof, root)
    except (LedgerError, ValueError):
        return False
    return True


def _inclusion_mutations(
    index: int, size: int, leaf: bytes, proof: list[bytes]
) -> list[tuple[str, int, bytes, list[bytes]]]:
    mutations = [
        ("leaf bit flipped", index, flip(leaf), proof),
        ("index + 1", index + 1, leaf, proof),
        ("index - 1", index - 1, leaf, proof),
        ("index + size", index + size, leaf, proof),
        ("padded", index, leaf, [*proof, leaf]),
        ("padded with zeros", index, leaf, [*proof, bytes(32)]),
    ]
    if proof:
        mutations.append(("truncated", index, leaf, proof[:-1]))
        mutations.append(("first hash dropped", index, leaf, proof[1:]))
        for i in range(len(proof)):
            mutated = list(proof)
            mutated[i] = flip(mutated[i], 5)
            mutations.append((f"proof hash {i} flipped", index, leaf, mutated))
    return [m for m in mutations if m[1] >= 0]


def test_verify_inclusion_is_true_for_every_leaf_of_anchored_trees(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    anchor_sizes(client, big_tree, INCLUSION_SIZES)
    for size in INCLUSION_SIZES:
        for index in range(size):
            leaf = big_tree.levels[0][index]
            proof = big_tree.inclusion_proof(index, size)
            assert client.verify_inclusion(size, index, leaf, proof), (size, index)


def test_verify_inclusion_is_false_for_tampered_leaves_and_proofs(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    anchor_sizes(client, big_tree, INCLUSION_SIZES)
    checked = 0
    for checkpoint_index, size in enumerate(INCLUSION_SIZES):
        root = big_tree.root(size)
        for index in sorted({0, size // 2, size - 1}):
            leaf = big_tree.levels[0][index]
            proof = big_tree.inclusion_proof(index, size)
            for label, m_index, m_leaf, m_proof in _inclusion_mutations(index, size, leaf, proof):
                verdict = client.verify_inclusion(size, m_index, m_leaf, m_proof)
                assert verdict == merkle_says(m_index, size, m_leaf, m_proof, root), (
                    size,
                    index,
                    label,
                )
                assert not verdict or m_proof == proof, (size, index, label)
                checked += 1
            # A proof is only good for the checkpoint it was made for.
            if checkpoint_index > 0:
                other = INCLUSION_SIZES[checkpoint_index - 1]
                verdict = client.verify_inclusion(other, index, leaf, proof)
                assert verdict == merkle_says(index, other, leaf, proof, big_tree.root(other))
    assert checked > 100


def test_checkpoints_by_index_need_their_logs(client: ChainClient, big_tree: MemoryTree) -> None:
    client.anchor(2, big_tree.root(2), [])
    second = client.anchor(5, big_tree.root(5), big_tree.consistency_proof(2, 5))
    blind = client.with_account(dev_private_key(0))
    # A search for logs that starts after the first anchor does not find its log.
    blind.attach(
        ledger_anchor=client.ledger_anchor.address, ledger_anchor_block=second.block_number
    )
    with pytest.raises(CheckpointLogError, match="checkpoint 0 is anchored but no"):
        blind.checkpoint_at(0)
    with pytest.raises(CheckpointLogError, match=r"logs of 1 were not found .*\(first: 0\)"):
        blind.checkpoints()
    assert (
        blind.checkpoint_at(1) == client.checkpoint_at(1) == blind.checkpoint_of(big_tree.root(5))
    )


def test_a_log_the_contract_does_not_confirm_is_refused(
    client: ChainClient, big_tree: MemoryTree
) -> None:
    client.anchor(4, big_tree.root(4), [])
    [event] = client.checkpoint_events()
    assert client.confirm_event(event) == client.checkpoint_at(0)
    for forged, message in (
        (replace(event, root_hash=big_tree.root(3)), "which the contract does not hold"),
        (replace(event, tree_size=5), "the contract says root"),
        (replace(event, index=1), "the contract says root"),
    ):
        with pytest.raises(CheckpointLogError, match=message):
            client.confirm_event(forged)
