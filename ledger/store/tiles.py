"""Reading the stored Merkle tree: leaf hashes from ``entry``, tiles from ``merkle_node``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.engine import Connection

from ledger.errors import ProofSizeError
from ledger.merkle import NodeId, node_hash
from ledger.store.tables import ENTRY, NODE


def read_nodes(connection: Connection, ids: Sequence[NodeId] | set[NodeId]) -> list[bytes]:
    """Hashes of the given complete subtrees, in the order given.

    Level 0 comes from ``entry.leaf_hash``, even levels from ``merkle_node``, and an
    odd level is hashed from its two children: at most two queries in all.
    """
    wanted = list(ids)
    stored: set[NodeId] = set()
    for level, idx in wanted:
        if level & 1:
            stored.update(((level - 1, 2 * idx), (level - 1, 2 * idx + 1)))
        else:
            stored.add((level, idx))
    found: dict[NodeId, bytes] = {}
    leaves = sorted(idx for level, idx in stored if level == 0)
    for start in range(0, len(leaves), 500):
        rows = connection.execute(
            select(ENTRY.c.seq, ENTRY.c.leaf_hash).where(
                ENTRY.c.seq.in_(leaves[start : start + 500])
            )
        )
        found.update(((0, row.seq), bytes(row.leaf_hash)) for row in rows)
    interior = sorted(node for node in stored if node[0])
    for start in range(0, len(interior), 500):
        rows = connection.execute(
            select(NODE.c.level, NODE.c.idx, NODE.c.hash).where(
                tuple_(NODE.c.level, NODE.c.idx).in_(interior[start : start + 500])
            )
        )
        found.update(((row.level, row.idx), bytes(row.hash)) for row in rows)
    missing = sorted(stored - found.keys())
    if missing:
        raise ProofSizeError(f"the store has no Merkle node {missing[0]}")
    for level, idx in wanted:
        if level & 1:
            found[(level, idx)] = node_hash(
                found[(level - 1, 2 * idx)], found[(level - 1, 2 * idx + 1)]
            )
    return [found[node] for node in wanted]
