"""explorer/static/eip712.js against eth-account (ADR 0037): keccak-256, EIP-712 digests
and signer recovery, for each signed kind, in node."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from chain.typed_data import (
    SIGNED_KINDS,
    new_key,
    sign_typed_data,
    typed_data,
    typed_data_digest,
)

SCRIPT = Path(__file__).resolve().parents[2] / "explorer" / "static" / "eip712.js"

BODIES = {
    "project.opened": {
        "project_id": "pr_1",
        "charity_id": "ch_1",
        "title": "怒江村小课本 · Textbooks",
        "goal_amount": 6_000_000,
        "currency": "CNY",
    },
    "disbursement.made": {
        "disbursement_id": "db_1",
        "charity_id": "ch_1",
        "project_id": None,
        "amount": 10**12,
        "currency": "CNY",
        "payee": "昆明新华书店",
        "purpose": "textbooks",
        "evidence": [
            {"sha256": "0x" + "ab" * 32, "media_type": "application/pdf", "public": False},
            {"sha256": "0x" + "01" * 32, "media_type": "image/png", "public": True},
        ],
    },
    "disbursement.voided": {"disbursement_id": "db_1", "reason": "发票重复录入"},
    "allocation.made": {
        "allocation_id": "al_1",
        "donation_id": "dn_1",
        "disbursement_id": "db_1",
        "amount": 1,
    },
    "allocation.reversed": {"allocation_id": "al_1", "reason": "booked twice"},
    "charity.signer_changed": {
        "charity_id": "ch_1",
        "signer": None,
        "previous_seq": 41,
        "reason": "revoked",
    },
}


def test_eip712_js_computes_eth_accounts_digests_and_recovers_the_signer() -> None:
    assert set(BODIES) == set(SIGNED_KINDS)
    address, key = new_key()
    cases = []
    for kind, body in BODIES.items():
        typed = typed_data(
            kind, body, charity_id="ch_1", chain_id=131277322940537, registry="0x" + "e7" * 20
        )
        cases.append(
            {
                "typed": typed,
                "digest": "0x" + typed_data_digest(typed).hex(),
                "signature": sign_typed_data(typed, key),
            }
        )
    program = (
        f"const e = require({json.dumps(str(SCRIPT))});"
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify({"
        "empty: e.toHex(e.keccak256(new Uint8Array())),"
        "long: e.toHex(e.keccak256(new Uint8Array(300).fill(97))),"
        "digests: cases.map(c => e.toHex(e.typedDataDigest(c.typed))),"
        "signers: cases.map(c => e.recoverAddress(e.typedDataDigest(c.typed), c.signature)),"
        "}));"
    )
    result = subprocess.run(
        ["node", "-e", program],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    got = json.loads(result.stdout)
    assert got["empty"] == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    # 300 bytes: more than one block of the sponge (136 bytes)
    assert got["long"] == "0x" + _keccak(b"a" * 300).hex()
    assert got["digests"] == [c["digest"] for c in cases]
    assert got["signers"] == [address] * len(cases)


def _keccak(data: bytes) -> bytes:
    from eth_utils.crypto import keccak  # web3's own, in a test: outside the import rule

    return bytes(keccak(data))
