"""Gas per anchor stays under 80,000 at a million entries (issue #3), on both chains,
for the heaviest consistency proofs there are."""

from __future__ import annotations

import pytest

from chain.client import ChainClient
from ledger.merkle import MemoryTree, consistency_plan, leaf_hash

MILLION = 1_000_000
GAS_BUDGET = 80_000

# Anchors from these earlier sizes to 1,000,000 entries carry the longest consistency
# proofs (21 hashes) that take the most SHA-256 calls to check (38): bench/bench_anchor_gas.py
# finds them by trying every earlier size. The others are what an operator anchors most:
# half the log, and a few entries more.
HEAVIEST = (524_287, 983_039)
HISTORIES = [
    [HEAVIEST[0]],
    [3, HEAVIEST[1]],
    [MILLION // 2],
    [7, MILLION - 1],
]


@pytest.fixture(scope="module")
def million_tree() -> MemoryTree:
    return MemoryTree.from_leaf_hashes(leaf_hash(b"gas %d" % i) for i in range(MILLION))


def test_the_heaviest_proofs_are_the_longest() -> None:
    longest = max(len(consistency_plan(m, MILLION)) for m in range(1, MILLION, 4_099))
    assert [len(consistency_plan(m, MILLION)) for m in HEAVIEST] == [longest, longest] == [21, 21]


@pytest.mark.parametrize("history", HISTORIES, ids=lambda h: "-".join(map(str, h)))
def test_an_anchor_at_a_million_entries_costs_under_80000_gas(
    client: ChainClient, million_tree: MemoryTree, history: list[int]
) -> None:
    previous = 0
    for size in history:
        proof = million_tree.consistency_proof(previous, size) if previous else []
        client.anchor(size, million_tree.root(size), proof)
        previous = size
    outcome = client.anchor(
        MILLION, million_tree.root(MILLION), million_tree.consistency_proof(previous, MILLION)
    )
    assert outcome.checkpoint_index == len(history)
    assert outcome.gas_used < GAS_BUDGET, (history, outcome.gas_used)
