"""The RFC 6962 Merkle log (``ledger.merkle``): known answers, mutated vectors, properties.

The vectors live in ``tests/ledger/vectors/``: ``rfc6962.json`` (the Certificate
Transparency known answers, a copy of ``shared/vectors/rfc6962.json``) and
``mutations.json``, which ``make_mutations.py`` derives from it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import (
    LedgerError,
    MerkleError,
    ProofShapeError,
    ProofSizeError,
    RootMismatchError,
)
from ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    NodeId,
    consistency_plan,
    fold,
    inclusion_plan,
    leaf_hash,
    leaf_hashes,
    node_hash,
    plan_nodes,
    range_nodes,
    resolve,
    root_from_inclusion_proof,
    root_plan,
    subtree_levels,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parent / "vectors"


def unhex(value: str) -> bytes:
    """Bytes from the ``0x``-prefixed hex of the vectors."""
    assert value.startswith("0x"), value
    return bytes.fromhex(value[2:])


RFC: dict[str, Any] = json.loads((VECTORS / "rfc6962.json").read_text(encoding="utf-8"))
MUTATIONS: dict[str, Any] = json.loads((VECTORS / "mutations.json").read_text(encoding="utf-8"))

RFC_LEAVES = [unhex(d) for d in RFC["leaves"]]
RFC_LEAF_HASHES = [unhex(h) for h in RFC["leaf_hashes"]]
RFC_ROOTS = {0: unhex(RFC["empty_root"])} | {int(n): unhex(r) for n, r in RFC["roots"].items()}
RFC_TREE = MemoryTree.from_leaf_hashes(leaf_hash(d) for d in RFC_LEAVES)

# One tree, shared by the properties: any size up to BIG is a prefix of it.
BIG = 512
BIG_TREE = MemoryTree.from_leaf_hashes(leaf_hash(i.to_bytes(4, "big")) for i in range(BIG))


def flip_bit(value: bytes, bit: int) -> bytes:
    """``value`` with bit ``bit`` (0 = the lowest bit of the first byte) flipped."""
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# --- A naive RFC 6962 §2.1, straight from the text: the reference the log is held to ------


def naive_split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]): the Merkle Tree Hash of the leaf data ``d``."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = naive_split(len(d))
    return hashlib.sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:])).digest()


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 6962 §2.1.1."""
    if len(d) == 1:
        return []
    k = naive_split(len(d))
    if m < k:
        return [*naive_path(m, d[:k]), naive_mth(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_mth(d[:k])]


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 6962 §2.1.2."""
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = naive_split(n)
    if m <= k:
        return [*naive_subproof(m, d[:k], b), naive_mth(d[k:])]
    return [*naive_subproof(m - k, d[k:], False), naive_mth(d[:k])]


def naive_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), RFC 6962 §2.1.2."""
    return naive_subproof(m, d, True)


def naive_nodes(node_ids: set[NodeId], d: list[bytes]) -> dict[NodeId, bytes]:
    """The hash of each complete subtree, as the MTH of the leaves it spans."""
    return {(level, j): naive_mth(d[j << level : (j + 1) << level]) for level, j in node_ids}


# --- 1. RFC 6962 known answers --------------------------------------------------------------


def test_leaf_hashes_match_rfc6962() -> None:
    assert [leaf_hash(d) for d in RFC_LEAVES] == RFC_LEAF_HASHES


def test_empty_root_is_the_sha256_of_nothing() -> None:
    assert EMPTY_ROOT == RFC_ROOTS[0] == hashlib.sha256(b"").digest()
    assert MemoryTree.from_leaf_hashes([]).root() == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_root_matches_rfc6962_at_every_size(size: int) -> None:
    assert RFC_TREE.root(size) == RFC_ROOTS[size]
    assert fold([RFC_TREE.node(n) for n in root_plan(size)]) == RFC_ROOTS[size]
    compact = CompactRange()
    for h in RFC_LEAF_HASHES[:size]:
        compact.append(h)
    assert compact.root() == RFC_ROOTS[size]


@pytest.mark.parametrize(
    "vector", RFC["inclusion"], ids=lambda v: f"{v['leaf_index']} of {v['tree_size']}"
)
def test_inclusion_proof_matches_rfc6962_and_verifies(vector: dict[str, Any]) -> None:
    index, size = vector["leaf_index"], vector["tree_size"]
    expected = [unhex(h) for h in vector["proof"]]
    proof = RFC_TREE.inclusion_proof(index, size)
    assert proof == expected
    assert root_from_inclusion_proof(index, size, RFC_LEAF_HASHES[index], proof) == RFC_ROOTS[size]
    verify_inclusion(
        index, size, RFC_LEAF_HASHES[index], proof, RFC_ROOTS[size]
    )  # raises unless it verifies


@pytest.mark.parametrize(
    "vector", RFC["consistency"], ids=lambda v: f"{v['first']} to {v['second']}"
)
def test_consistency_proof_matches_rfc6962_and_verifies(vector: dict[str, Any]) -> None:
    first, second = vector["first"], vector["second"]
    expected = [unhex(h) for h in vector["proof"]]
    proof = RFC_TREE.consistency_proof(first, second)
    assert proof == expected
    verify_consistency(
        first, second, RFC_ROOTS[first], RFC_ROOTS[second], proof
    )  # raises unless it verifies


def test_the_known_answers_cover_every_proof_of_eight_leaves() -> None:
    inclusion = {(v["leaf_index"], v["tree_size"]) for v in RFC["inclusion"]}
    consistency = {(v["first"], v["second"]) for v in RFC["consistency"]}
    assert inclusion == {(i, n) for n in range(1, 9) for i in range(n)}
    assert consistency == {(m, n) for n in range(1, 9) for m in range(1, n + 1)}


# --- 2. Mutated vectors ---------------------------------------------------------------------

ERRORS: dict[str, type[MerkleError]] = {
    "ProofSizeError": ProofSizeError,
    "ProofShapeError": ProofShapeError,
    "RootMismatchError": RootMismatchError,
}


def _verifier(kind: str, case: dict[str, Any]) -> Callable[[], None]:
    proof = [unhex(h) for h in case["proof"]]
    if kind == "inclusion":
        return lambda: verify_inclusion(
            case["index"], case["size"], unhex(case["leaf"]), proof, unhex(case["root"])
        )
    return lambda: verify_consistency(
        case["first"],
        case["second"],
        unhex(case["first_root"]),
        unhex(case["second_root"]),
        proof,
    )


MUTATION_CASES = [
    pytest.param(kind, case, id=case["id"])
    for kind in ("inclusion", "consistency")
    for case in MUTATIONS[kind]
]


@pytest.mark.parametrize(("kind", "case"), MUTATION_CASES)
def test_mutated_proof_gets_exactly_the_expected_outcome(kind: str, case: dict[str, Any]) -> None:
    verify = _verifier(kind, case)
    if case["expect"] == "ok":
        verify()  # raises unless it verifies
        return
    with pytest.raises(MerkleError) as raised:
        verify()
    error = raised.value
    assert type(error) is ERRORS[case["expect"]]
    if isinstance(error, RootMismatchError):
        assert error.expected == unhex(case["evidence"]["expected"])
        assert error.calculated == unhex(case["evidence"]["calculated"])
    if isinstance(error, ProofShapeError):
        assert (error.expected, error.got) == (
            case["evidence"]["expected"],
            case["evidence"]["got"],
        )


def test_mutation_vectors_are_what_their_generator_makes() -> None:
    spec = importlib.util.spec_from_file_location("make_mutations", VECTORS / "make_mutations.py")
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    rebuilt = generator.render(generator.build(RFC))
    assert rebuilt == (VECTORS / "mutations.json").read_text(encoding="utf-8"), (
        "mutations.json is stale: run python tests/ledger/vectors/make_mutations.py"
    )


def test_mutation_vectors_cover_every_outcome_and_every_mutation() -> None:
    cases = MUTATIONS["inclusion"] + MUTATIONS["consistency"]
    assert {c["expect"] for c in cases} == {"ok", *ERRORS}
    names = {c["id"].split(": ", 1)[1] for c in cases}
    for mutation in (
        "happy path",
        "index + 1",
        "index - 1",
        "size + 1",
        "size - 1",
        "size * 2",
        "first * 2",
        "second * 2",
        "proof[0] bit flipped",
        "proof[0] missing",
        "extra hash appended",
        "root bit flipped",
        "leaf of the next index",
        "leaf truncated to 31 bytes",
        "proof[0] truncated to 31 bytes",
    ):
        assert mutation in names
    # Some mutations still verify (RFC 9162 cannot tell a wrong size from a right one when
    # the path is the same): the vectors must say so rather than expect an error.
    assert any(c["expect"] == "ok" and "happy path" not in c["id"] for c in cases)


# --- 3. Properties --------------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=400)
salts = st.binary(max_size=8)


def salted_leaves(salt: bytes, n: int) -> list[bytes]:
    """Leaf data that differs from one example to the next."""
    return [salt + i.to_bytes(2, "big") for i in range(n)]


@settings(max_examples=100, deadline=None)
@given(size=sizes)
def test_every_leaf_proves_its_inclusion(size: int) -> None:
    root = BIG_TREE.root(size)
    for index in range(size):
        proof = BIG_TREE.inclusion_proof(index, size)
        verify_inclusion(index, size, BIG_TREE.node((0, index)), proof, root)


def test_every_consistency_pair_of_small_trees_proves() -> None:
    for second in range(129):
        for first in range(second + 1):
            proof = BIG_TREE.consistency_proof(first, second) if first else []
            verify_consistency(first, second, BIG_TREE.root(first), BIG_TREE.root(second), proof)


@settings(max_examples=60, deadline=None)
@given(second=sizes)
def test_every_earlier_size_proves_consistent_with_a_later_one(second: int) -> None:
    second_root = BIG_TREE.root(second)
    for first in range(second + 1):
        proof = BIG_TREE.consistency_proof(first, second) if first else []
        verify_consistency(first, second, BIG_TREE.root(first), second_root, proof)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=sizes, bit=st.integers(0, 255))
def test_any_bit_flip_in_an_inclusion_proof_fails_verification(
    data: st.DataObject, size: int, bit: int
) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, root = BIG_TREE.node((0, index)), BIG_TREE.root(size)
    proof = BIG_TREE.inclusion_proof(index, size)
    target = data.draw(st.sampled_from(["leaf", "root", *range(len(proof))]), label="target")
    if target == "leaf":
        leaf = flip_bit(leaf, bit)
    elif target == "root":
        root = flip_bit(root, bit)
    else:
        assert isinstance(target, int)
        proof[target] = flip_bit(proof[target], bit)
    with pytest.raises(RootMismatchError) as raised:
        verify_inclusion(index, size, leaf, proof, root)
    assert raised.value.expected == root
    assert raised.value.calculated != root


@settings(max_examples=300, deadline=None)
@given(data=st.data(), second=sizes, bit=st.integers(0, 255))
def test_any_bit_flip_in_a_consistency_proof_fails_verification(
    data: st.DataObject, second: int, bit: int
) -> None:
    first = data.draw(st.integers(1, second), label="first")
    first_root, second_root = BIG_TREE.root(first), BIG_TREE.root(second)
    proof = BIG_TREE.consistency_proof(first, second)
    choices = ["first root", "second root", *range(len(proof))]
    target = data.draw(st.sampled_from(choices), label="target")
    if target == "first root":
        first_root = flip_bit(first_root, bit)
    elif target == "second root":
        second_root = flip_bit(second_root, bit)
    else:
        assert isinstance(target, int)
        proof[target] = flip_bit(proof[target], bit)
    with pytest.raises(RootMismatchError) as raised:
        verify_consistency(first, second, first_root, second_root, proof)
    assert raised.value.expected in (first_root, second_root)
    assert raised.value.calculated != raised.value.expected


def completed_by_append(size: int) -> list[NodeId]:
    """The complete subtrees whose last leaf is leaf ``size - 1``, smallest first."""
    ids: list[NodeId] = []
    level = 0
    while size % (1 << level) == 0:
        ids.append((level, (size >> level) - 1))
        level += 1
    return ids


@settings(max_examples=60, deadline=None)
@given(size=sizes, data=st.data())
def test_compact_range_tracks_the_memory_tree_leaf_by_leaf(size: int, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, size), label="start")
    compact = CompactRange(start, [BIG_TREE.node(n) for n in root_plan(start)])
    assert compact.root() == BIG_TREE.root(start)
    for index in range(start, size):
        completed = compact.append(BIG_TREE.node((0, index)))
        assert [node_id for node_id, _ in completed] == completed_by_append(index + 1)
        assert all(h == BIG_TREE.node(node_id) for node_id, h in completed)
        assert compact.size == index + 1
        assert compact.root() == BIG_TREE.root(index + 1)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 200), salt=salts)
def test_subtree_levels_hold_every_complete_subtree_as_a_naive_rfc6962_hashes_it(
    size: int, salt: bytes
) -> None:
    d = salted_leaves(salt, size)
    levels = subtree_levels(leaf_hashes(d))
    assert levels[0] == [leaf_hash(x) for x in d]
    assert {(lv, j): h for lv, level in enumerate(levels) for j, h in enumerate(level)} == (
        naive_nodes(set(_all_nodes(size)), d)
    )


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 100), more=st.integers(0, 100), salt=salts)
def test_a_memory_tree_extended_is_the_tree_built_at_once(
    size: int, more: int, salt: bytes
) -> None:
    hashes = leaf_hashes(salted_leaves(salt, size + more))
    tree = MemoryTree.from_leaf_hashes(hashes[:size])
    tree.extend(hashes[size:])
    assert tree.levels == MemoryTree.from_leaf_hashes(hashes).levels


@settings(max_examples=60, deadline=None)
@given(data=st.data(), level=st.integers(0, 5))
def test_a_compact_range_takes_whole_aligned_subtrees(data: st.DataObject, level: int) -> None:
    count = data.draw(st.integers(0, BIG >> level), label="subtrees")
    compact = CompactRange()
    for index in range(count):
        completed = compact.append_subtree(level, BIG_TREE.node((level, index)))
        assert completed[0] == ((level, index), BIG_TREE.node((level, index)))
        assert all(h == BIG_TREE.node(node_id) for node_id, h in completed)
    assert compact.size == count << level
    assert compact.root() == BIG_TREE.root(count << level)
    assert compact.hashes == [BIG_TREE.node(n) for n in root_plan(count << level)]


def test_a_compact_range_refuses_a_subtree_that_does_not_start_aligned() -> None:
    compact = CompactRange(3, [BIG_TREE.node((1, 0)), BIG_TREE.node((0, 2))])
    with pytest.raises(ProofSizeError, match="a subtree of 4 leaves cannot start at 3"):
        compact.append_subtree(2, BIG_TREE.node((2, 1)))
    assert compact.size == 3


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=sizes)
def test_plans_resolved_from_stored_nodes_give_the_memory_tree_proofs(
    data: st.DataObject, size: int
) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    first = data.draw(st.integers(1, size), label="first")
    stored = {(level, j): BIG_TREE.node((level, j)) for level, j in _all_nodes(size)}

    def fetch(plan: list[list[NodeId]]) -> dict[NodeId, bytes]:
        return {node: stored[node] for node in plan_nodes(plan)}

    assert fold(resolve([root_plan(size)], fetch([root_plan(size)]))) == BIG_TREE.root(size)
    inclusion = inclusion_plan(index, size)
    assert resolve(inclusion, fetch(inclusion)) == BIG_TREE.inclusion_proof(index, size)
    consistency = consistency_plan(first, size)
    assert resolve(consistency, fetch(consistency)) == BIG_TREE.consistency_proof(first, size)


def _all_nodes(size: int) -> list[NodeId]:
    """Every complete subtree of a tree of ``size`` leaves: what a store holds."""
    return [(level, j) for level in range(size.bit_length()) for j in range(size >> level)]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=2**64))
def test_plans_read_a_logarithmic_number_of_nodes(data: st.DataObject, size: int) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    first = data.draw(st.integers(1, size), label="first")
    bound = 2 * math.log2(size) + 2
    assert len(plan_nodes(inclusion_plan(index, size))) <= bound
    assert len(plan_nodes(consistency_plan(first, size))) <= bound
    assert len(root_plan(size)) <= math.log2(size) + 1


@settings(max_examples=150, deadline=None)
@given(data=st.data(), salt=salts, size=st.integers(min_value=0, max_value=200))
def test_plans_and_folds_agree_with_a_naive_rfc6962(
    data: st.DataObject, salt: bytes, size: int
) -> None:
    d = salted_leaves(salt, size)
    tree = MemoryTree.from_leaf_hashes(leaf_hash(x) for x in d)
    root = naive_mth(d)
    assert fold([naive_nodes({n}, d)[n] for n in root_plan(size)]) == root
    assert tree.root() == root
    if size == 0:
        return
    index = data.draw(st.integers(0, size - 1), label="index")
    path = naive_path(index, d)
    plan = inclusion_plan(index, size)
    assert resolve(plan, naive_nodes(plan_nodes(plan), d)) == path
    assert tree.inclusion_proof(index, size) == path
    verify_inclusion(index, size, leaf_hash(d[index]), path, root)

    first = data.draw(st.integers(1, size), label="first")
    proof = naive_proof(first, d)
    plan = consistency_plan(first, size)
    assert resolve(plan, naive_nodes(plan_nodes(plan), d)) == proof
    assert tree.consistency_proof(first, size) == proof
    verify_consistency(first, size, naive_mth(d[:first]), root, proof)


# --- 4. Edge cases --------------------------------------------------------------------------

LEAF0, ROOT8 = RFC_LEAF_HASHES[0], RFC_ROOTS[8]


@pytest.mark.parametrize(("index", "size"), [(8, 8), (9, 8), (-1, 8), (0, 0), (0, -1)])
def test_inclusion_rejects_an_index_outside_the_tree(index: int, size: int) -> None:
    with pytest.raises(ProofSizeError):
        verify_inclusion(index, size, LEAF0, [], ROOT8)
    with pytest.raises(ProofSizeError):
        root_from_inclusion_proof(index, size, LEAF0, [])
    with pytest.raises(ProofSizeError):
        inclusion_plan(index, size)


@pytest.mark.parametrize("second", [0, 1, 5, 8])
def test_consistency_from_the_empty_tree_holds_with_an_empty_proof(second: int) -> None:
    verify_consistency(0, second, EMPTY_ROOT, RFC_ROOTS[second], [])  # raises unless it holds


def test_consistency_from_the_empty_tree_rejects_a_non_empty_proof() -> None:
    with pytest.raises(ProofShapeError) as raised:
        verify_consistency(0, 8, EMPTY_ROOT, ROOT8, [RFC_ROOTS[1]])
    assert (raised.value.expected, raised.value.got) == (0, 1)


def test_consistency_from_the_empty_tree_rejects_a_first_root_that_is_not_empty() -> None:
    with pytest.raises(RootMismatchError) as raised:
        verify_consistency(0, 8, RFC_ROOTS[1], ROOT8, [])
    assert (raised.value.expected, raised.value.calculated) == (RFC_ROOTS[1], EMPTY_ROOT)


def test_consistency_between_two_empty_trees_rejects_a_second_root_that_is_not_empty() -> None:
    with pytest.raises(RootMismatchError):
        verify_consistency(0, 0, EMPTY_ROOT, ROOT8, [])


@pytest.mark.parametrize(("first", "second"), [(5, 4), (9, 8), (1, 0), (-1, 8), (-1, -1)])
def test_consistency_rejects_sizes_out_of_order(first: int, second: int) -> None:
    with pytest.raises(ProofSizeError):
        verify_consistency(first, second, ROOT8, ROOT8, [])


def test_consistency_between_equal_sizes_rejects_different_roots() -> None:
    with pytest.raises(RootMismatchError) as raised:
        verify_consistency(8, 8, RFC_ROOTS[7], ROOT8, [])
    assert (raised.value.expected, raised.value.calculated) == (ROOT8, RFC_ROOTS[7])


def test_consistency_between_equal_sizes_rejects_a_non_empty_proof() -> None:
    with pytest.raises(ProofShapeError) as raised:
        verify_consistency(8, 8, ROOT8, ROOT8, [ROOT8])
    assert (raised.value.expected, raised.value.got) == (0, 1)


WRONG_LENGTHS = [0, 20, 31, 33, 64]


@pytest.mark.parametrize("length", WRONG_LENGTHS)
@pytest.mark.parametrize("which", ["leaf", "root", "first proof hash", "last proof hash"])
def test_inclusion_rejects_hashes_of_the_wrong_length(which: str, length: int) -> None:
    index, size = 2, 7
    leaf, root = RFC_LEAF_HASHES[index], RFC_ROOTS[size]
    proof = RFC_TREE.inclusion_proof(index, size)
    wrong = (b"\xab" * 64)[:length]
    if which == "leaf":
        leaf = wrong
    elif which == "root":
        root = wrong
    else:
        proof[0 if which.startswith("first") else -1] = wrong
    with pytest.raises(ProofSizeError):
        verify_inclusion(index, size, leaf, proof, root)


@pytest.mark.parametrize("length", WRONG_LENGTHS)
@pytest.mark.parametrize(
    ("which", "first", "second"),
    [
        ("first root", 3, 7),
        ("second root", 3, 7),
        ("first proof hash", 3, 7),
        ("last proof hash", 3, 7),
        ("first root", 4, 7),  # a power of two: the first root is part of the path
        ("first root", 0, 7),
        ("second root", 0, 7),
        ("first root", 7, 7),
        ("second root", 7, 7),
    ],
)
def test_consistency_rejects_hashes_of_the_wrong_length(
    which: str, first: int, second: int, length: int
) -> None:
    first_root, second_root = RFC_ROOTS[first], RFC_ROOTS[second]
    proof = RFC_TREE.consistency_proof(first, second) if first else []
    wrong = (b"\xab" * 64)[:length]
    if which == "first root":
        first_root = wrong
    elif which == "second root":
        second_root = wrong
    else:
        proof[0 if which.startswith("first") else -1] = wrong
    with pytest.raises(ProofSizeError):
        verify_consistency(first, second, first_root, second_root, proof)


@pytest.mark.parametrize(
    "call",
    [
        lambda: range_nodes(3, 2),
        lambda: range_nodes(-1, 2),
        lambda: root_plan(-1),
        lambda: inclusion_plan(0, 0),
        lambda: consistency_plan(0, 3),
        lambda: consistency_plan(4, 3),
        lambda: RFC_TREE.root(9),
        lambda: RFC_TREE.root(-1),
        lambda: RFC_TREE.inclusion_proof(0, 9),
        lambda: RFC_TREE.consistency_proof(1, 9),
        lambda: CompactRange(-1),
    ],
    ids=[
        "range ends before it starts",
        "range starts below zero",
        "root plan of a negative size",
        "inclusion plan in an empty tree",
        "consistency plan from the empty tree",
        "consistency plan to a smaller tree",
        "memory tree root beyond its leaves",
        "memory tree root of a negative size",
        "memory tree inclusion beyond its leaves",
        "memory tree consistency beyond its leaves",
        "compact range of a negative size",
    ],
)
def test_sizes_that_make_no_sense_raise_proof_size_error(call: Callable[[], object]) -> None:
    with pytest.raises(ProofSizeError):
        call()


def test_compact_range_rejects_the_wrong_number_of_hashes() -> None:
    with pytest.raises(ProofShapeError) as raised:
        CompactRange(7, [RFC_ROOTS[4], RFC_ROOTS[2]])
    assert (raised.value.expected, raised.value.got) == (3, 2)


def test_merkle_errors_share_the_ledger_root() -> None:
    for error in (ProofSizeError, ProofShapeError, RootMismatchError):
        assert issubclass(error, MerkleError)
        assert issubclass(error, LedgerError)
    assert issubclass(ProofSizeError, ValueError)


def test_a_leaf_cannot_pass_for_a_node() -> None:
    # Domain separation: the node over two leaf hashes is not the leaf hash of their bytes.
    left, right = RFC_LEAF_HASHES[0], RFC_LEAF_HASHES[1]
    assert node_hash(left, right) != leaf_hash(left + right)
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
