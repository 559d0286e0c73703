"""The test witness itself: its consistency check agrees with RFC 9162 proofs."""

from __future__ import annotations

from ledger import merkle
from tests.tlog.witness import consistent


def test_the_witness_accepts_every_proof_and_refuses_every_changed_one() -> None:
    hashes = merkle.leaf_hashes(bytes([i]) for i in range(40))
    tree = merkle.MemoryTree.from_leaf_hashes(hashes)
    for second in range(1, 40):
        for first in range(1, second + 1):
            proof = tree.consistency_proof(first, second)
            first_root, second_root = tree.root(first), tree.root(second)
            assert consistent(first, second, first_root, second_root, proof)
            assert not consistent(first, second, first_root, bytes(32), proof)
            for i in range(len(proof)):
                changed = [*proof]
                changed[i] = bytes([changed[i][0] ^ 1]) + changed[i][1:]
                assert not consistent(first, second, first_root, second_root, changed)
            if proof:
                assert not consistent(first, second, first_root, second_root, proof[:-1])
                assert not consistent(first, second, first_root, second_root, [*proof, bytes(32)])
