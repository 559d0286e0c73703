"""The RFC 6962 Merkle log: hashing, proofs and their verification (RFC 9162 §2.1).

Pure: bytes and ints in, values or exceptions out.

A tree of ``size`` leaves is addressed by its *complete subtrees*: ``(level, index)``
names the perfect subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``;
level 0 is a leaf hash. Every hash that a root or a proof needs is a fold of such nodes,
so a store that keeps them (about ``2 * size`` hashes) answers any root or proof with
O(log n) reads: the ``*_plan`` functions say which nodes, ``resolve`` folds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ledger.errors import ProofShapeError, ProofSizeError, RootMismatchError

# RFC 6962 §2.1 domain separation: leaves and interior nodes hash under different
# one-byte prefixes, so a leaf can never be passed off as a node (second preimage).
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
# MTH({}) = SHA-256() — the root of the empty tree.
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
"""``(level, index)``: the complete subtree over ``[index << level, (index + 1) << level)``."""

Plan = list[list[NodeId]]
"""One list of nodes per proof hash; each list folds (``fold``) into that hash."""


def leaf_hash(leaf: bytes) -> bytes:
    """Hash a leaf: SHA-256(0x00 ‖ leaf)."""
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash an interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


# The batch forms below are what an audit of a million leaves spends its time in: the
# cost in CPython is the call per hash, not the hashing, so each is one comprehension
# with ``sha256`` bound locally rather than a call of ``leaf_hash``/``node_hash`` per hash.


def leaf_hashes(leaves: Iterable[bytes]) -> list[bytes]:
    """``leaf_hash`` of each leaf, in order."""
    sha256 = hashlib.sha256
    return [sha256(LEAF_PREFIX + leaf).digest() for leaf in leaves]


def parent_level(hashes: Sequence[bytes]) -> list[bytes]:
    """The level above ``hashes``: ``node_hash`` of each pair, left to right.

    An odd last hash has no sibling yet and is left out.
    """
    sha256 = hashlib.sha256
    pairs = zip(hashes[::2], hashes[1::2], strict=False)
    return [sha256(NODE_PREFIX + left + right).digest() for left, right in pairs]


def subtree_levels(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the complete subtrees over ``hashes``, ``hashes`` itself first.

    Level ``l`` holds the ``len(hashes) >> l`` nodes complete within the list: with leaf
    hashes from leaf 0, ``levels[l][i]`` is node ``(l, i)``.
    """
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        levels.append(parent_level(levels[-1]))
    return levels


def _split(n: int) -> int:
    """The largest power of two strictly below ``n``. Requires n >= 2."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[NodeId]:
    """Decompose ``[start, end)`` into maximal complete subtrees, left to right.

    Requires 0 <= start <= end.
    """
    if not 0 <= start <= end:
        raise ProofSizeError(f"invalid range [{start}, {end})")
    nodes: list[NodeId] = []
    while start < end:
        # The largest aligned subtree starting at `start` that still fits.
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while (1 << level) > end - start:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash a range from its complete subtrees, as RFC 6962's MTH splits it.

    Requires the range to start at a multiple of a power of two at least as large as
    the range, which holds for every range in a root or a proof; the first subtree is
    then the largest and MTH = node(h0, node(h1, … node(h_{k-2}, h_{k-1}))).
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_plan(size: int) -> list[NodeId]:
    """The nodes whose fold is the root of a tree of ``size`` leaves. Requires size >= 0."""
    return range_nodes(0, size)


def inclusion_plan(index: int, size: int) -> Plan:
    """Nodes of the audit path PATH(index, D[0:size]) (RFC 6962 §2.1.1), leaf side first.

    Requires 0 <= index < size.
    """
    if not 0 <= index < size:
        raise ProofSizeError(f"leaf index {index} is outside a tree of size {size}")
    plan: Plan = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            plan.append(range_nodes(lo + k, hi))
            hi = lo + k
        else:
            plan.append(range_nodes(lo, lo + k))
            lo += k
    plan.reverse()
    return plan


def consistency_plan(first: int, second: int) -> Plan:
    """Nodes of PROOF(first, D[0:second]) (RFC 6962 §2.1.2), smallest subtree first.

    Requires 0 < first <= second; the proof between equal sizes is empty.
    """
    if not 0 < first <= second:
        raise ProofSizeError(f"no consistency proof from size {first} to size {second}")
    plan: Plan = []
    lo, hi, m, complete = 0, second, first, True
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                plan.append(range_nodes(lo, hi))
            break
        k = _split(n)
        if m <= k:
            plan.append(range_nodes(lo + k, hi))
            hi = lo + k
        else:
            plan.append(range_nodes(lo, lo + k))
            lo += k
            m -= k
            complete = False
    plan.reverse()
    return plan


def plan_nodes(plan: Plan) -> set[NodeId]:
    """Every distinct node a plan reads: fetch these, then ``resolve``."""
    return {node for step in plan for node in step}


def resolve(plan: Plan, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """Fold each step of a plan into a proof hash, reading nodes from ``nodes``."""
    return [fold([nodes[n] for n in step]) for step in plan]


class CompactRange:
    """The complete subtrees covering ``[0, size)``: enough to append and to take the root.

    Appending a leaf returns every node it completes, which is what a store writes.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Start from a tree of ``size`` leaves.

        Args:
            size: leaves already in the tree.
            hashes: the hashes of ``root_plan(size)``, in that order.
        """
        ids = root_plan(size)
        if len(ids) != len(hashes):
            raise ProofShapeError(expected=len(ids), got=len(hashes))
        self.size = size
        self._stack: list[tuple[NodeId, bytes]] = list(zip(ids, hashes, strict=True))

    def append(self, leaf: bytes) -> list[tuple[NodeId, bytes]]:
        """Add a leaf hash; return the nodes it completes, the leaf itself first."""
        return self.append_subtree(0, leaf)

    def append_subtree(self, level: int, subtree: bytes) -> list[tuple[NodeId, bytes]]:
        """Add the hash of a complete subtree of ``2**level`` leaves; return the nodes it
        completes, the subtree itself first.

        Requires the size to be a multiple of ``2**level`` (the subtree starts aligned).
        """
        if self.size & ((1 << level) - 1):
            raise ProofSizeError(f"a subtree of {1 << level} leaves cannot start at {self.size}")
        completed: list[tuple[NodeId, bytes]] = [((level, self.size >> level), subtree)]
        self._stack.append(completed[0])
        while len(self._stack) >= 2 and self._stack[-1][0][0] == self._stack[-2][0][0]:
            (_, right), (left_id, left) = self._stack.pop(), self._stack.pop()
            parent = ((left_id[0] + 1, left_id[1] >> 1), node_hash(left, right))
            self._stack.append(parent)
            completed.append(parent)
        self.size += 1 << level
        return completed

    @property
    def hashes(self) -> list[bytes]:
        """The hashes of ``root_plan(size)``, largest subtree first."""
        return [h for _, h in self._stack]

    def root(self) -> bytes:
        """The tree's root hash (MTH of all leaves so far)."""
        return fold(self.hashes)


@dataclass
class MemoryTree:
    """Every complete subtree of a log held in memory: for audits, tests and tools."""

    levels: list[list[bytes]]

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> MemoryTree:
        """Build the tree over the given leaf hashes."""
        return cls(levels=subtree_levels(list(leaf_hashes)))

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes, completing every subtree they close."""
        levels = self.levels
        frontier = CompactRange(self.size, [self.node(n) for n in root_plan(self.size)])
        for h in leaf_hashes:
            for (level, _), node in frontier.append(h):
                if level == len(levels):
                    levels.append([])
                levels[level].append(node)

    def node(self, node_id: NodeId) -> bytes:
        """The hash of a complete subtree."""
        return self.levels[node_id[0]][node_id[1]]

    def _resolve(self, plan: Plan) -> list[bytes]:
        return [fold([self.node(n) for n in step]) for step in plan]

    def root(self, size: int | None = None) -> bytes:
        """The root at ``size`` (default: all leaves). Requires 0 <= size <= self.size."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ProofSizeError(f"tree has {self.size} leaves, not {size}")
        return fold([self.node(n) for n in root_plan(size)])

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """The audit path for leaf ``index`` in the tree at ``size``."""
        if size > self.size:
            raise ProofSizeError(f"tree has {self.size} leaves, not {size}")
        return self._resolve(inclusion_plan(index, size))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """The consistency proof from the tree at ``first`` to the tree at ``second``."""
        if second > self.size:
            raise ProofSizeError(f"tree has {self.size} leaves, not {second}")
        return self._resolve(consistency_plan(first, second))


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofSizeError(f"{name} has {len(value)} bytes, expected {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that an inclusion proof implies (RFC 9162 §2.1.3.2).

    Requires 0 <= index < size and a proof of exactly the length the sizes call for.
    """
    if not 0 <= index < size:
        raise ProofSizeError(f"leaf index {index} is outside a tree of size {size}")
    expected = len(inclusion_plan(index, size))
    if len(proof) != expected:
        raise ProofShapeError(expected=expected, got=len(proof))
    _check_hash("leaf hash", leaf)
    r = leaf
    for p, left in zip(proof, _sides(index, size - 1, len(proof)), strict=True):
        _check_hash("proof hash", p)
        r = node_hash(p, r) if left else node_hash(r, p)
    return r


def _sides(fn: int, sn: int, count: int) -> Iterator[bool]:
    """Whether each of ``count`` hashes up a proof's path is a left sibling.

    The walk of RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency): ``fn`` is the
    index of the node the path starts at, ``sn`` the last index at its level.
    """
    for _ in range(count):
        left = bool(fn & 1) or fn == sn
        if left:
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
        yield left


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` is at ``index`` in the tree of ``size`` leaves with ``root``.

    Requires 0 <= index < size. ``size`` and ``root`` must come from a trusted
    checkpoint, never from the proof.

    Raises:
        ProofSizeError: the index does not fit the size, or a hash has the wrong length.
        ProofShapeError: the proof has the wrong number of hashes.
        RootMismatchError: the proof leads to another root.
    """
    _check_hash("root", root)
    calculated = root_from_inclusion_proof(index, size, leaf, proof)
    if calculated != root:
        raise RootMismatchError(expected=root, calculated=calculated)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree at ``second`` extends the tree at ``first`` (RFC 9162 §2.1.4.2).

    Requires 0 <= first <= second. From the empty tree every tree is consistent (the
    proof is empty); between equal sizes the proof is empty and the roots are equal.

    Raises:
        ProofSizeError: the sizes are out of order, or a hash has the wrong length.
        ProofShapeError: the proof has the wrong number of hashes.
        RootMismatchError: the proof does not lead to ``first_root`` or ``second_root``.
    """
    if not 0 <= first <= second:
        raise ProofSizeError(f"no consistency proof from size {first} to size {second}")
    _check_hash("first root", first_root)
    _check_hash("second root", second_root)
    expected = 0 if first in (0, second) else len(consistency_plan(first, second))
    if len(proof) != expected:
        raise ProofShapeError(expected=expected, got=len(proof))
    if first == 0:
        if first_root != EMPTY_ROOT:
            raise RootMismatchError(expected=first_root, calculated=EMPTY_ROOT)
        if second == 0 and second_root != EMPTY_ROOT:
            raise RootMismatchError(expected=second_root, calculated=EMPTY_ROOT)
        return
    if first == second:
        if first_root != second_root:
            raise RootMismatchError(expected=second_root, calculated=first_root)
        return
    for p in proof:
        _check_hash("proof hash", p)
    path = list(proof)
    if first & (first - 1) == 0:  # first is a power of two: its root is a node of the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c, left in zip(path[1:], _sides(fn, sn, len(path) - 1), strict=True):
        if left:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
        else:
            sr = node_hash(sr, c)
    if fr != first_root:
        raise RootMismatchError(expected=first_root, calculated=fr)
    if sr != second_root:
        raise RootMismatchError(expected=second_root, calculated=sr)
