"""The in-browser verifier's functions, run by Node against the Python implementation.

Node runs the very files the pages serve (``explorer/static/*.js``), so canonical JSON,
SHA-256 (WebCrypto and the pure-JS fallback), RFC 9162 inclusion checks, the donor
commitment and the ``checkpointOf`` call agree with ``ledger`` and web3 byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from typing import Any

import pytest
from eth_abi import encode
from web3 import Web3

from explorer.assets import STATIC
from explorer.verifier import checkpoint_of_selector
from ledger import merkle
from ledger.entries import donor_commitment, make_entry, to_hex
from tests import factories as f
from tests.explorer.conftest import run_node

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup)")

HARNESS = """
const v = require(process.argv[1]);
const sha = require(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const hex = v.toHex, bytes = (h) => v.fromHex(h);
(async () => {
  const out = {};
  out.canonical = cases.entries.map(v.canonicalize);
  out.leaf_webcrypto = [];
  for (const e of cases.entries) out.leaf_webcrypto.push(hex(await v.leafHash(e)));
  v.setForceFallback(true);
  out.leaf_fallback = [];
  for (const e of cases.entries) out.leaf_fallback.push(hex(await v.leafHash(e)));
  out.sha_fallback = cases.messages.map((m) => hex(sha.sha256(bytes(m))));
  out.roots = [];
  for (const c of cases.proofs) {
    try {
      out.roots.push(hex(await v.rootFromInclusionProof(c.index, c.size, bytes(c.leaf),
                                                        c.proof.map(bytes))));
    } catch (error) { out.roots.push("error: " + error.message); }
  }
  v.setForceFallback(false);
  out.commitment = hex(await v.commitment(cases.secret, cases.donation_id));
  out.call = v.checkpointOfCall(cases.selector, cases.root);
  try { v.checkpointOfCall(cases.selector, "0x1234"); out.short_root = "accepted"; }
  catch (e) { out.short_root = "refused"; }
  out.decoded = v.decodeCheckpoint(cases.encoded);
  out.secret = [v.receiptSecret("#s=" + cases.secret), v.receiptSecret("#s=xyz"),
                v.receiptSecret("#a=1&s=" + cases.secret.toUpperCase()), v.receiptSecret("")];
  try { v.canonicalize({a: 1.5}); out.float = "accepted"; } catch (e) { out.float = "refused"; }
  process.stdout.write(JSON.stringify(out));
})();
"""


def run(cases: Any) -> dict[str, Any]:
    answer: dict[str, Any] = run_node(HARNESS, [STATIC / "verify.js", STATIC / "sha256.js"], cases)
    return answer


def _entries() -> list[dict[str, Any]]:
    tricky = [
        "乡村学校基金会",
        'quote " backslash \\ slash /',
        "tab\tand newline\ninside (the only controls an entry may hold)",
        "U+2028 \u2028 U+2029 \u2029 and emoji 💰",
        "é vs e\u0301",
        "<script>alert(1)</script>",
    ]
    entries = []
    for seq, name in enumerate(tricky):
        draft = f.charity(name=name)
        entries.append(
            make_entry(
                draft.kind, draft.body, seq=seq, at="2026-11-26T22:41:26.123Z", actor="platform"
            )
        )
    ch = entries[0].body["charity_id"]
    for draft in (
        f.donation(str(ch), None, amount=10**12),
        f.disbursement(str(ch), None, purpose="多项 evidence", payee="x"),
    ):
        entries.append(
            make_entry(
                draft.kind,
                draft.body,
                seq=len(entries),
                at="2026-11-26T22:41:26.123Z",
                actor=draft.actor,
            )
        )
    return [e.to_json() for e in entries]


def _proof_cases() -> tuple[list[dict[str, Any]], list[str]]:
    rng = random.Random(7)
    cases: list[dict[str, Any]] = []
    expected: list[str] = []
    for size in [*range(1, 18), 31, 32, 33, 100]:
        tree = merkle.MemoryTree.from_leaf_hashes(
            merkle.leaf_hash(str(i).encode()) for i in range(size)
        )
        root = to_hex(tree.root(size))
        for index in range(size) if size < 40 else rng.sample(range(size), 10):
            leaf = to_hex(merkle.leaf_hash(str(index).encode()))
            proof = [to_hex(h) for h in tree.inclusion_proof(index, size)]
            cases.append({"index": index, "size": size, "leaf": leaf, "proof": proof})
            expected.append(root)
    tree = merkle.MemoryTree.from_leaf_hashes(merkle.leaf_hash(bytes([i])) for i in range(13))
    proof = [to_hex(h) for h in tree.inclusion_proof(5, 13)]
    leaf = to_hex(merkle.leaf_hash(bytes([5])))
    mutations = [
        {"index": 5, "size": 13, "leaf": leaf, "proof": proof[:-1]},  # an element missing
        {"index": 5, "size": 13, "leaf": leaf, "proof": [*proof, proof[0]]},  # one extra
        {"index": 13, "size": 13, "leaf": leaf, "proof": proof},  # index out of the tree
    ]
    cases += mutations
    expected += ["error"] * len(mutations)
    return cases, expected


def test_verifier_agrees_with_python_on_every_step() -> None:
    entries = _entries()
    messages = [os.urandom(n).hex() for n in (0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 1000)]
    proofs, roots = _proof_cases()
    secret = os.urandom(16)
    selector = checkpoint_of_selector()
    root = os.urandom(32)
    encoded = "0x" + encode(["uint256", "uint64", "uint64"], [7, 1234, 1_790_000_000]).hex()
    answer = run(
        {
            "entries": entries,
            "messages": messages,
            "proofs": proofs,
            "secret": secret.hex(),
            "donation_id": "dn_abc",
            "selector": selector,
            "root": "0x" + root.hex().upper(),
            "encoded": encoded,
        },
    )
    parsed = [
        make_entry(e["kind"], e["body"], seq=e["seq"], at=e["at"], actor=e["actor"])
        for e in entries
    ]
    assert answer["canonical"] == [e.leaf_bytes.decode("utf-8") for e in parsed]
    assert answer["leaf_webcrypto"] == [to_hex(e.leaf_hash) for e in parsed]
    assert answer["leaf_fallback"] == answer["leaf_webcrypto"]
    assert answer["sha_fallback"] == [
        "0x" + hashlib.sha256(bytes.fromhex(m)).hexdigest() for m in messages
    ]
    for got, want in zip(answer["roots"], roots, strict=True):
        assert got.startswith("error") if want == "error" else got == want
    assert answer["commitment"] == to_hex(donor_commitment(secret, "dn_abc"))
    contract = Web3().eth.contract(
        abi=[
            {
                "type": "function",
                "name": "checkpointOf",
                "stateMutability": "view",
                "inputs": [{"name": "rootHash", "type": "bytes32"}],
                "outputs": [
                    {"name": "index", "type": "uint256"},
                    {"name": "treeSize", "type": "uint64"},
                    {"name": "anchoredAt", "type": "uint64"},
                ],
            }
        ]
    )
    assert answer["call"] == contract.encode_abi("checkpointOf", [root])
    assert answer["short_root"] == "refused"
    assert answer["decoded"] == {"index": 7, "treeSize": 1234, "anchoredAt": 1_790_000_000}
    assert answer["secret"] == [secret.hex(), None, secret.hex(), None]
    assert answer["float"] == "refused"


def test_selector_comes_from_the_committed_abi() -> None:
    assert checkpoint_of_selector() == "0x" + Web3.keccak(text="checkpointOf(bytes32)")[:4].hex()
