"""The RFC 6962 tree of a stream of leaves, built a block at a time.

An audit hashes a million leaves and as many interior nodes; what CPython costs is the
call per hash, not the hashing. So leaves are taken in blocks of ``BLOCK`` (aligned on
multiples of it), and a block's subtree is built a level at a time by
``ledger.merkle.subtree_levels``, each level one list comprehension over the one below.
Above the blocks, the block roots go onto a ``ledger.merkle.CompactRange``.

While a block's levels are at hand, the tree keeps what the audit asks for: the root
at each checkpoint size, and the nodes (``(level, index)``, as in ``ledger.merkle``)
that consistency proofs between checkpoints are made of. Nothing else is held.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ledger.merkle import CompactRange, NodeId, fold, leaf_hashes, range_nodes, subtree_levels

__all__ = ["BLOCK", "BLOCK_LEVEL", "Tree", "leaf_hashes", "prefixed_leaf_hashes"]

BLOCK_LEVEL = 11
BLOCK = 1 << BLOCK_LEVEL
"""Leaves per block: 2,048 (64 KiB of hashes; a journal export's 1 MiB or so of lines)."""


def prefixed_leaf_hashes(leaves: Iterable[bytes]) -> list[bytes]:
    """``leaf_hashes`` of lines given behind their leaf prefix already (``LEAF_PREFIX`` ‖
    line, as ``audit.scanner.scan`` cuts them): SHA-256 of each, without a copy to add it."""
    sha256 = hashlib.sha256
    return [sha256(leaf).digest() for leaf in leaves]


class Tree:
    """The tree of the leaves added so far, keeping roots and nodes asked for up front.

    Attributes:
        size: leaves added.
        roots: the root at each wanted size reached so far.
        kept: each wanted node complete so far.
    """

    def __init__(self, sizes: Iterable[int] = (), nodes: Iterable[NodeId] = ()) -> None:
        """Start an empty tree.

        Args:
            sizes: tree sizes whose root to keep (0 and repeats are ignored).
            nodes: nodes to keep, ``(level, index)``.
        """
        self.size = 0
        self.roots: dict[int, bytes] = {}
        self.kept: dict[NodeId, bytes] = {}
        self._sizes = sorted({size for size in sizes if size > 0}, reverse=True)
        self._above: set[NodeId] = set()
        self._in_block: dict[int, list[NodeId]] = {}
        for level, index in set(nodes):
            if level > BLOCK_LEVEL:
                self._above.add((level, index))
            else:
                block = (index << level) >> BLOCK_LEVEL
                self._in_block.setdefault(block, []).append((level, index))
        self._blocks = CompactRange()  # the whole blocks so far
        self._pending: list[bytes] = []  # leaf hashes of the block being filled

    def add(self, leaves: Sequence[bytes]) -> None:
        """Append leaf hashes."""
        pending = self._pending
        pending.extend(leaves)
        self.size += len(leaves)
        while len(pending) >= BLOCK:
            block = pending[:BLOCK]
            del pending[:BLOCK]
            self._close(block)
        if pending and self._sizes and self._sizes[-1] <= self.size:
            self._take_roots(subtree_levels(pending))

    def root(self) -> bytes:
        """The root of the leaves so far."""
        if not self._pending:
            return self._blocks.root()
        return self._root_at(self.size, subtree_levels(self._pending))

    def finish(self) -> None:
        """Keep the wanted nodes complete in the last, partial block (call once, at the end)."""
        if self._pending:
            self._keep(subtree_levels(self._pending))

    def _block(self) -> int:
        """The index of the block being filled."""
        return self._blocks.size >> BLOCK_LEVEL

    def _root_at(self, size: int, levels: list[list[bytes]]) -> bytes:
        """The root at ``size``, which lies in the block being filled, from that block's levels."""
        start = self._blocks.size
        inside = [levels[lv][index - (start >> lv)] for lv, index in range_nodes(start, size)]
        return fold(self._blocks.hashes + inside)

    def _take_roots(self, levels: list[list[bytes]]) -> None:
        sizes = self._sizes
        end = self._blocks.size + len(levels[0])
        while sizes and sizes[-1] <= end:
            size = sizes.pop()
            self.roots[size] = self._root_at(size, levels)

    def _keep(self, levels: list[list[bytes]]) -> None:
        start, block = self._blocks.size, self._block()
        for level, index in self._in_block.pop(block, ()):
            offset = index - (start >> level)
            if level < len(levels) and offset < len(levels[level]):
                self.kept[(level, index)] = levels[level][offset]
            else:  # not complete yet: wait for the block to fill
                self._in_block.setdefault(block, []).append((level, index))

    def _close(self, block: list[bytes]) -> None:
        levels = subtree_levels(block)
        self._take_roots(levels)
        self._keep(levels)
        for node, h in self._blocks.append_subtree(BLOCK_LEVEL, levels[-1][0]):
            if node in self._above:
                self.kept[node] = h
