"""Reading the stored Merkle tree: leaf hashes from ``entry``, tiles from ``merkle_node``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, bindparam, literal, select, tuple_, union_all
from sqlalchemy.engine import Connection

from ledger.errors import ProofSizeError
from ledger.merkle import NodeId, node_hash
from ledger.store.tables import ENTRY, NODE

_CHUNK = 500
"""Nodes asked for in one statement (SQLite allows 32,766 parameters, a pair a node)."""
# Built once: a statement made anew for every proof costs more Python than its query.
_LEAVES = select(
    literal(0, BigInteger).label("level"),
    ENTRY.c.seq.label("idx"),
    ENTRY.c.leaf_hash.label("hash"),
).where(ENTRY.c.seq.in_(bindparam("leaves", expanding=True)))
_NODES = select(NODE.c.level, NODE.c.idx, NODE.c.hash).where(
    tuple_(NODE.c.level, NODE.c.idx).in_(bindparam("nodes", expanding=True))
)
_BOTH = union_all(_LEAVES, _NODES)


def read_nodes(connection: Connection, ids: Sequence[NodeId] | set[NodeId]) -> list[bytes]:
    """Hashes of the given complete subtrees, in the order given.

    Level 0 comes from ``entry.leaf_hash``, even levels from ``merkle_node``, and an
    odd level is hashed from its two children: one query for up to 500 of each.
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
    interior = sorted(node for node in stored if node[0])
    # One query a chunk of each (a proof's nodes are one chunk: one round trip).
    for start in range(0, max(len(leaves), len(interior)), _CHUNK):
        chunk, chunk_of_nodes = leaves[start : start + _CHUNK], interior[start : start + _CHUNK]
        query = _BOTH if chunk and chunk_of_nodes else _LEAVES if chunk else _NODES
        rows = connection.execute(query, {"leaves": chunk, "nodes": chunk_of_nodes})
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
