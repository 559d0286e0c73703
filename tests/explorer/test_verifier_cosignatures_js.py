"""The in-browser verifier's check of witnesses' cosignatures (cosignature/v1, ADR 0035),
run by Node on notes cosigned by the test witness (``tests/tlog/witness.py``)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from explorer.assets import STATIC
from ledger.signed_note import CheckpointBody, Signer
from tests.explorer.conftest import run_node
from tests.explorer.test_verifier_note_js import NODE
from tests.tlog.witness import SpecWitness

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup)")

HARNESS = """
const v = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  const out = [];
  for (const c of cases) {
    try { out.push({names: await v.openCosignatures(c.note, c.witnesses)}); }
    catch (error) { out.push({error: error.message}); }
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


def test_the_browser_checks_each_witness_cosignature_and_refuses_a_changed_one(
    tmp_path: Path,
) -> None:
    log = Signer.generate("give.example.org/tlog")
    text = CheckpointBody(log.name, 20852, bytes(range(32))).text()
    w1, w2, w3 = (SpecWitness(f"witness.example/w{i}", logs={}) for i in (1, 2, 3))
    note = log.sign(text) + w1.cosign(text) + w2.cosign(text, timestamp=1_679_315_147)
    keys = [{"name": w.name, "vkey": w.vkey} for w in (w1, w2, w3)]
    line = w2.cosign(text, timestamp=1_679_315_147)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[11] ^= 1  # the time's last byte: the signature is over the other time
    changed_time = note.replace(line, f"\u2014 {w2.name} {base64.b64encode(raw).decode()}\n")
    stranger = SpecWitness("witness.example/w1", logs={})  # same name, another key
    cases = [
        {"note": note, "witnesses": keys},
        {"note": log.sign(text), "witnesses": keys},
        {"note": note.replace(text, text.replace("20852", "20853")), "witnesses": keys},
        {"note": changed_time, "witnesses": keys},
        {"note": note, "witnesses": [{"name": stranger.name, "vkey": stranger.vkey}]},
        {"note": note, "witnesses": [{"name": "x", "vkey": log.verifier.vkey}]},
    ]
    answers = run_node(HARNESS, [STATIC / "verify.js"], cases)
    assert answers[0] == {"names": ["witness.example/w1", "witness.example/w2"]}
    assert answers[1] == {"names": []}
    assert "does not verify" in answers[2]["error"]
    assert "does not verify" in answers[3]["error"]
    assert answers[4] == {"names": []}  # another key's line is ignored
    assert answers[5] == {"error": "not a cosignature/v1 key"}
