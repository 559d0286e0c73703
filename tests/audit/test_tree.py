"""The audit's block-at-a-time tree: the same roots and proof nodes as the ledger's tree."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.tree import BLOCK, Tree, leaf_hashes
from ledger.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    consistency_plan,
    leaf_hash,
    plan_nodes,
    resolve,
    verify_consistency,
)

LINES = [f"line {n}".encode() for n in range(3 * BLOCK + 5)]
LEAVES = leaf_hashes(LINES)
MEMORY = MemoryTree.from_leaf_hashes(LEAVES)


def test_leaf_hashes_are_rfc_6962_leaf_hashes() -> None:
    assert LEAVES[:3] == [leaf_hash(line) for line in LINES[:3]]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, len(LINES)),
    st.lists(st.integers(1, len(LINES)), max_size=6),
    st.lists(st.integers(1, BLOCK + 3), min_size=1, max_size=8),
)
def test_roots_at_every_size_and_the_nodes_of_every_proof_are_the_memory_trees(
    size: int, sizes: list[int], steps: list[int]
) -> None:
    sizes = sorted({s for s in sizes if s <= size})
    nodes = set()
    for before, after in itertools.pairwise(sizes):
        nodes |= plan_nodes(consistency_plan(before, after))
    tree = Tree(sizes, nodes)
    done = 0
    for step in itertools.cycle(steps):  # batches of any size, across block boundaries
        if done >= size:
            break
        tree.add(LEAVES[done : min(size, done + step)])
        done = min(size, done + step)
    tree.finish()
    assert tree.size == size
    assert tree.root() == MEMORY.root(size)
    assert tree.roots == {s: MEMORY.root(s) for s in sizes}
    for before, after in itertools.pairwise(sizes):
        proof = resolve(consistency_plan(before, after), tree.kept)
        verify_consistency(before, after, MEMORY.root(before), MEMORY.root(after), proof)


def test_an_empty_tree_has_the_empty_root() -> None:
    tree = Tree([1])
    tree.finish()
    assert tree.root() == EMPTY_ROOT
    assert tree.roots == {}
