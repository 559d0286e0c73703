"""The in-browser verifier's checkpoint signature check (WebCrypto Ed25519), run by Node on
notes signed by ``ledger.signed_note`` and on Go's documented example (ADR 0031)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from explorer.assets import STATIC
from ledger.signed_note import CheckpointBody, Signer
from tests.explorer.conftest import run_node

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup)")

HARNESS = """
const v = require(process.argv[1]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const cases = input.cases;
v.setForceEd25519Fallback(input.fallback);  // the vendored @noble/ed25519 (ADR 0036)
(async () => {
  const out = [];
  for (const c of cases) {
    try {
      const body = await v.openCheckpoint(c.note, c.vkey);
      out.push({origin: body.origin, size: body.size, root: v.toHex(body.rootHash)});
    } catch (error) { out.push({error: error.message}); }
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


def run(cases: Any, *, fallback: bool) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = run_node(
        HARNESS, [STATIC / "verify.js"], {"cases": cases, "fallback": fallback}
    )
    return answer


@pytest.mark.parametrize("fallback", [False, True], ids=["webcrypto", "noble fallback"])
def test_the_browser_opens_signed_checkpoints_and_refuses_every_change(fallback: bool) -> None:
    log = Signer.generate("give.example.org/tlog")
    vkey = log.verifier.vkey
    root = bytes(range(32))
    note = log.sign(CheckpointBody(log.name, 20852, root).text())
    other = Signer.generate(log.name)
    cosigned = note + other.sign(CheckpointBody(log.name, 20852, root).text()).split("\n\n")[1]
    changed = []
    for position in range(0, len(note) - 1, 7):
        data = bytearray(note.encode())
        data[position] ^= 0x01
        changed.append({"note": data.decode(errors="replace"), "vkey": vkey})
    cases = [
        {"note": note, "vkey": vkey},
        {"note": cosigned, "vkey": vkey},
        {"note": note, "vkey": other.verifier.vkey},
        {"note": note, "vkey": vkey.replace("+", "+0", 1)},
        *changed,
    ]
    results = run(cases, fallback=fallback)
    good = {"origin": log.name, "size": 20852, "root": "0x" + root.hex()}
    assert results[0] == good
    assert results[1] == good
    assert "error" in results[2]
    assert "error" in results[3]
    accepted = [i for i, r in enumerate(results[4:]) if "error" not in r]
    assert accepted == [], [changed[i]["note"] for i in accepted]
