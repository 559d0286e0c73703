"""The in-browser verifier's Ed25519 fallback (vendored @noble/ed25519, ADR 0036), under Node.

RFC 8032's test vectors, and the same vectors with every byte changed in turn; notes
signed by ``ledger.signed_note`` are opened with the fallback in test_verifier_note_js.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from explorer.assets import STATIC
from tests.explorer.conftest import run_node

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup)")
VENDOR = Path(__file__).resolve().parents[2] / "explorer" / "vendor"

RFC_8032 = [
    # RFC 8032 §7.1, TEST 1, TEST 2, TEST 3: secret key, public key, message, signature.
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]

HARNESS = """
const v = require(process.argv[1]);
const ed = require(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const hex = (s) => Uint8Array.from(Buffer.from(s, "hex"));
(async () => {
  v.setForceEd25519Fallback(true);
  const out = [];
  for (const c of cases) {
    // The vendored library itself, and through the verifier with WebCrypto set aside.
    const direct = ed.verifyEd25519(hex(c.signature), hex(c.message), hex(c.key));
    const through = await v.verifyEd25519(hex(c.key), hex(c.signature), hex(c.message));
    out.push([direct, through]);
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


def run(cases: list[dict[str, Any]]) -> list[list[bool]]:
    answer: list[list[bool]] = run_node(
        HARNESS, [STATIC / "verify.js", STATIC / "vendor" / "ed25519.js"], cases
    )
    return answer


def flipped(text: str, position: int) -> str:
    data = bytearray(bytes.fromhex(text))
    data[position] ^= 0x01
    return data.hex()


def test_the_vectors_are_rfc_8032s() -> None:
    # What the literal vectors are: the same keys and signatures from pyca/cryptography.
    for secret, public, message, signature in RFC_8032:
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
        assert key.public_key().public_bytes_raw().hex() == public
        assert key.sign(bytes.fromhex(message)).hex() == signature


def test_the_fallback_accepts_rfc_8032_and_refuses_every_changed_byte() -> None:
    vectors = []
    for _secret, public, message, signature in RFC_8032:
        vectors.append({"key": public, "message": message, "signature": signature, "ok": True})
        for position in range(64):
            changed = flipped(signature, position)
            vectors.append({"key": public, "message": message, "signature": changed, "ok": False})
        for position in range(0, 32, 3):
            changed = flipped(public, position)
            vectors.append(
                {"key": changed, "message": message, "signature": signature, "ok": False}
            )
        if message:
            changed = flipped(message, 0)
            vectors.append({"key": public, "message": changed, "signature": signature, "ok": False})
        else:
            vectors.append({"key": public, "message": "00", "signature": signature, "ok": False})
    results = run(vectors)
    wrong = [(v, r) for v, r in zip(vectors, results, strict=True) if r != [v["ok"], v["ok"]]]
    assert wrong == []


def test_the_vendored_file_names_the_pinned_packages_and_ships_their_licence() -> None:
    package = json.loads((VENDOR / "package.json").read_text())
    lock = json.loads((VENDOR / "package-lock.json").read_text())
    banner = (STATIC / "vendor" / "ed25519.js").read_text().split("*/", 1)[0]
    for name in ("@noble/ed25519", "@noble/hashes"):
        version = package["dependencies"][name]
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly"
        locked = lock["packages"][f"node_modules/{name}"]
        assert locked["version"] == version
        assert f"{name} {version} ({locked['integrity']})" in banner
    licence = (STATIC / "vendor" / "ed25519.LICENSE").read_text()
    assert licence.count("MIT License") >= 1
    assert "Paul Miller" in licence
