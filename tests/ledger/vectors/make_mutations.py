"""Build ``mutations.json``: the RFC 6962 proofs of ``rfc6962.json``, each one mutated.

Run from the repository root, after changing this file or ``rfc6962.json``::

    python tests/ledger/vectors/make_mutations.py

For every inclusion and consistency proof of the known answers it writes the happy path
and systematic mutations of it (an index or a size ±1 or ×2, each proof hash with a bit
flipped, missing, one hash too many, a wrong root or leaf, a 31-byte hash), each with the
outcome a verifier must reach: ``ok`` or the name of the error it raises, plus that
error's evidence.

Outcomes are computed, never assumed: some mutations still verify (leaf 0 of a tree of
3 has the same audit path and the same computed root when the tree is said to have 4
leaves), and a vector that claimed otherwise would be wrong. The oracle is independent of
``ledger.merkle`` (it imports nothing from the project):

- proof lengths come from the recursive definitions of PATH and PROOF/SUBPROOF in
  RFC 6962 §2.1.1 and §2.1.2;
- computed roots come from the verification algorithms of RFC 9162 §2.1.3.2 and
  §2.1.4.2, followed step by step, including their own length checks (``sn`` must reach
  0 exactly when the path ends); the generator asserts that those checks fail exactly
  when the length differs from the recursive definition's.

Where a claim has several faults the outcome would depend on the order of the checks,
so every mutation changes one thing, and the generator asserts that no case mixes a
wrong hash length with a wrong proof length.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RFC_VECTORS = HERE / "rfc6962.json"
MUTATIONS = HERE / "mutations.json"

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
# A 32-byte hash that appears in no tree of the known answers.
STRANGER = hashlib.sha256(b"shanlian: a hash from no tree").digest()

Case = dict[str, Any]


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2), as RFC 6962 §2.1 says."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


# --- RFC 6962 §2.1.1–2.1.2: how many hashes PATH and PROOF have -------------------------


def path_length(m: int, n: int) -> int:
    """len(PATH(m, D[n])). Requires 0 <= m < n."""
    if n == 1:
        return 0
    k = _split(n)
    return 1 + (path_length(m, k) if m < k else path_length(m - k, n - k))


def subproof_length(m: int, n: int, complete: bool) -> int:
    """len(SUBPROOF(m, D[n], b)). Requires 0 < m <= n."""
    if m == n:
        return 0 if complete else 1
    k = _split(n)
    if m <= k:
        return 1 + subproof_length(m, k, complete)
    return 1 + subproof_length(m - k, n - k, False)


# --- RFC 9162 §2.1.3.2 and §2.1.4.2, step by step -----------------------------------------


class _PathLengthError(Exception):
    """The algorithm's own ``sn`` checks failed: the path is too long or too short."""


def _shift_until_set_or_zero(fn: int, sn: int) -> tuple[int, int]:
    while not (fn & 1 or fn == 0):
        fn >>= 1
        sn >>= 1
    return fn, sn


def rfc9162_inclusion_root(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """§2.1.3.2 steps 1–5: the root that ``path`` implies. Requires 0 <= index < size."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise _PathLengthError
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                fn, sn = _shift_until_set_or_zero(fn, sn)
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _PathLengthError
    return r


def rfc9162_consistency_roots(
    first: int, second: int, first_root: bytes, path: list[bytes]
) -> tuple[bytes, bytes]:
    """§2.1.4.2 steps 1–7: the two roots that ``path`` implies.

    Requires 0 < first < second.
    """
    if not path:
        raise _PathLengthError
    if first & (first - 1) == 0:
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _PathLengthError
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                fn, sn = _shift_until_set_or_zero(fn, sn)
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _PathLengthError
    return fr, sr


# --- The oracle: what a verifier must answer ----------------------------------------------


def _ok() -> Case:
    return {"expect": "ok"}


def _size_error() -> Case:
    return {"expect": "ProofSizeError"}


def _shape_error(expected: int, got: int) -> Case:
    return {"expect": "ProofShapeError", "evidence": {"expected": expected, "got": got}}


def _mismatch(expected: bytes, calculated: bytes) -> Case:
    return {
        "expect": "RootMismatchError",
        "evidence": {"expected": _hex(expected), "calculated": _hex(calculated)},
    }


def inclusion_outcome(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> Case:
    """What verify_inclusion(index, size, leaf, proof, root) must do."""
    if not 0 <= index < size:
        return _size_error()
    lengths_wrong = any(len(h) != HASH_SIZE for h in [leaf, root, *proof])
    expected = path_length(index, size)
    assert not (lengths_wrong and len(proof) != expected), "two faults: order would decide"
    if lengths_wrong:
        return _size_error()
    try:
        calculated = rfc9162_inclusion_root(index, size, leaf, proof)
    except _PathLengthError:
        assert len(proof) != expected, "RFC 9162 and RFC 6962 disagree on the path length"
        return _shape_error(expected, len(proof))
    assert len(proof) == expected, "RFC 9162 and RFC 6962 disagree on the path length"
    return _ok() if calculated == root else _mismatch(root, calculated)


def consistency_outcome(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> Case:
    """What verify_consistency(first, second, first_root, second_root, proof) must do.

    From the empty tree the proof is empty and the first root is the empty root; between
    equal sizes the proof is empty and the first root must be the second (the second is
    the one the checkpoint vouches for, so it is the ``expected`` of the mismatch).
    """
    if not 0 <= first <= second:
        return _size_error()
    lengths_wrong = any(len(h) != HASH_SIZE for h in [first_root, second_root, *proof])
    expected = 0 if first in (0, second) else subproof_length(first, second, True)
    assert not (lengths_wrong and len(proof) != expected), "two faults: order would decide"
    if lengths_wrong:
        return _size_error()
    if first in (0, second):
        if proof:
            return _shape_error(expected, len(proof))
        if first == 0:
            if first_root != EMPTY_ROOT:
                return _mismatch(first_root, EMPTY_ROOT)
            if second == 0 and second_root != EMPTY_ROOT:
                return _mismatch(second_root, EMPTY_ROOT)
            return _ok()
        return _ok() if first_root == second_root else _mismatch(second_root, first_root)
    try:
        fr, sr = rfc9162_consistency_roots(first, second, first_root, proof)
    except _PathLengthError:
        assert len(proof) != expected, "RFC 9162 and RFC 6962 disagree on the proof length"
        return _shape_error(expected, len(proof))
    assert len(proof) == expected, "RFC 9162 and RFC 6962 disagree on the proof length"
    if fr != first_root:
        return _mismatch(first_root, fr)
    if sr != second_root:
        return _mismatch(second_root, sr)
    return _ok()


# --- Mutations ------------------------------------------------------------------------------


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _unhex(s: str) -> bytes:
    assert s.startswith("0x"), s
    return bytes.fromhex(s[2:])


def flip_bit(h: bytes) -> bytes:
    """The hash with the lowest bit of its last byte flipped."""
    return h[:-1] + bytes([h[-1] ^ 1])


def _proof_mutations(proof: list[bytes]) -> list[tuple[str, list[bytes]]]:
    """Each hash bit-flipped, each hash missing, one hash too many at either end."""
    out: list[tuple[str, list[bytes]]] = []
    for k in range(len(proof)):
        out.append((f"proof[{k}] bit flipped", [*proof[:k], flip_bit(proof[k]), *proof[k + 1 :]]))
    for k in range(len(proof)):
        out.append((f"proof[{k}] missing", proof[:k] + proof[k + 1 :]))
    out.append(("extra hash appended", [*proof, STRANGER]))
    out.append(("extra hash prepended", [STRANGER, *proof]))
    if proof:
        out.append(("proof[0] truncated to 31 bytes", [proof[0][:-1], *proof[1:]]))
        out.append(("proof[-1] truncated to 31 bytes", [*proof[:-1], proof[-1][:-1]]))
    return out


def inclusion_cases(rfc: dict[str, Any]) -> list[Case]:
    """The happy path and the mutations of every inclusion proof."""
    leaves = [_unhex(h) for h in rfc["leaf_hashes"]]
    data = [_unhex(d) for d in rfc["leaves"]]
    roots = {int(n): _unhex(r) for n, r in rfc["roots"].items()}
    cases: list[Case] = []
    for vector in rfc["inclusion"]:
        i, n = vector["leaf_index"], vector["tree_size"]
        proof = [_unhex(h) for h in vector["proof"]]
        leaf, root = leaves[i], roots[n]
        other_root = roots[n - 1] if n > 1 else roots[2]
        variants: list[tuple[str, int, int, bytes, list[bytes], bytes]] = [
            ("happy path", i, n, leaf, proof, root),
            ("index + 1", i + 1, n, leaf, proof, root),
            ("index - 1", i - 1, n, leaf, proof, root),
            ("size + 1", i, n + 1, leaf, proof, root),
            ("size - 1", i, n - 1, leaf, proof, root),
            ("size * 2", i, n * 2, leaf, proof, root),
            ("root bit flipped", i, n, leaf, proof, flip_bit(root)),
            ("root of another size", i, n, leaf, proof, other_root),
            ("root truncated to 31 bytes", i, n, leaf, proof, root[:-1]),
            ("leaf bit flipped", i, n, flip_bit(leaf), proof, root),
            ("leaf of the next index", i, n, leaves[(i + 1) % len(leaves)], proof, root),
            (
                "leaf hashed without the 0x00 prefix",
                i,
                n,
                hashlib.sha256(data[i]).digest(),
                proof,
                root,
            ),
            ("leaf truncated to 31 bytes", i, n, leaf[:-1], proof, root),
        ]
        variants += [(name, i, n, leaf, p, root) for name, p in _proof_mutations(proof)]
        seen: set[tuple[object, ...]] = set()
        for name, vi, vn, vleaf, vproof, vroot in variants:
            claim = (vi, vn, vleaf, tuple(vproof), vroot)
            if claim in seen:  # e.g. the first and the last hash of a one-hash proof
                continue
            seen.add(claim)
            cases.append(
                {
                    "id": f"inclusion {i} of {n}: {name}",
                    "index": vi,
                    "size": vn,
                    "leaf": _hex(vleaf),
                    "proof": [_hex(p) for p in vproof],
                    "root": _hex(vroot),
                    **inclusion_outcome(vi, vn, vleaf, vproof, vroot),
                }
            )
    return cases


def consistency_cases(rfc: dict[str, Any]) -> list[Case]:
    """The happy path and the mutations of every consistency proof."""
    roots = {int(n): _unhex(r) for n, r in rfc["roots"].items()}
    roots[0] = _unhex(rfc["empty_root"])
    cases: list[Case] = []
    for vector in rfc["consistency"]:
        m, n = vector["first"], vector["second"]
        proof = [_unhex(h) for h in vector["proof"]]
        r1, r2 = roots[m], roots[n]
        variants: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = [
            ("happy path", m, n, r1, r2, proof),
            ("first + 1", m + 1, n, r1, r2, proof),
            ("first - 1", m - 1, n, r1, r2, proof),
            ("first * 2", m * 2, n, r1, r2, proof),
            ("second + 1", m, n + 1, r1, r2, proof),
            ("second - 1", m, n - 1, r1, r2, proof),
            ("second * 2", m, n * 2, r1, r2, proof),
            ("first root bit flipped", m, n, flip_bit(r1), r2, proof),
            ("second root bit flipped", m, n, r1, flip_bit(r2), proof),
            ("roots swapped", m, n, r2, r1, proof),
            ("first root truncated to 31 bytes", m, n, r1[:-1], r2, proof),
            ("second root truncated to 31 bytes", m, n, r1, r2[:-1], proof),
        ]
        variants += [(name, m, n, r1, r2, p) for name, p in _proof_mutations(proof)]
        seen: set[tuple[object, ...]] = set()
        for name, vm, vn, vr1, vr2, vproof in variants:
            claim = (vm, vn, vr1, vr2, tuple(vproof))
            if claim in seen:  # e.g. the roots swapped between equal sizes
                continue
            seen.add(claim)
            cases.append(
                {
                    "id": f"consistency {m} to {n}: {name}",
                    "first": vm,
                    "second": vn,
                    "first_root": _hex(vr1),
                    "second_root": _hex(vr2),
                    "proof": [_hex(p) for p in vproof],
                    **consistency_outcome(vm, vn, vr1, vr2, vproof),
                }
            )
    return cases


def build(rfc: dict[str, Any]) -> dict[str, Any]:
    """The whole mutations document, from the RFC 6962 known answers."""
    inclusion = inclusion_cases(rfc)
    consistency = consistency_cases(rfc)
    for case in inclusion + consistency:
        if case["id"].endswith("happy path"):
            assert case["expect"] == "ok", case["id"]
    return {
        "about": (
            "Mutations of the RFC 6962 proofs in rfc6962.json with the outcome a verifier "
            "must reach (ok, or the error and its evidence). Generated by make_mutations.py; "
            "do not edit by hand."
        ),
        "inclusion": inclusion,
        "consistency": consistency,
    }


def render(document: dict[str, Any]) -> str:
    """JSON with one case a line, so that a regenerated file diffs case by case."""
    lines = ["{", f'  "about": {json.dumps(document["about"], ensure_ascii=False)},']
    for key, trailer in (("inclusion", ","), ("consistency", "")):
        lines.append(f'  "{key}": [')
        cases = document[key]
        for k, case in enumerate(cases):
            comma = "," if k < len(cases) - 1 else ""
            lines.append("    " + json.dumps(case, ensure_ascii=False) + comma)
        lines.append("  ]" + trailer)
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Rewrite mutations.json next to this file."""
    rfc = json.loads(RFC_VECTORS.read_text(encoding="utf-8"))
    MUTATIONS.write_text(render(build(rfc)), encoding="utf-8")


if __name__ == "__main__":
    main()
