"""The in-browser verifier's checkpoint signature check (WebCrypto Ed25519), run by Node on
notes signed by ``ledger.signed_note`` and on Go's documented example (ADR 0031)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from explorer.app import STATIC
from ledger.signed_note import CheckpointBody, Signer

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup)")

HARNESS = """
const v = require(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
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


def run_node(
    cases: list[dict[str, Any]], tmp_path: Path, script: str = HARNESS
) -> list[dict[str, Any]]:
    """What the harness ``script`` prints for ``cases``, run by Node on verify.js."""
    assert NODE is not None
    harness = tmp_path / "harness.js"
    harness.write_text(script)
    result = subprocess.run(
        [NODE, str(harness), str(STATIC / "verify.js")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: list[dict[str, Any]] = json.loads(result.stdout)
    return answer


def test_the_browser_opens_signed_checkpoints_and_refuses_every_change(tmp_path: Path) -> None:
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
    results = run_node(cases, tmp_path)
    good = {"origin": log.name, "size": 20852, "root": "0x" + root.hex()}
    assert results[0] == good
    assert results[1] == good
    assert "error" in results[2]
    assert "error" in results[3]
    accepted = [i for i, r in enumerate(results[4:]) if "error" not in r]
    assert accepted == [], [changed[i]["note"] for i in accepted]
