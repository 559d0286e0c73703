"""The pages' message templates (explorer/static/messages.js), filled by Node."""

from __future__ import annotations

import shutil

import pytest

from explorer.assets import STATIC
from tests.explorer.conftest import run_node

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup)")

HARNESS = """
const m = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(cases.map((c) => m.format(c[0], c[1]))));
"""


def test_format_fills_the_placeholders_it_has_values_for_and_keeps_the_others() -> None:
    cases = [
        ["{count} donations shown", {"count": 3}],
        ["entry {seq} of {id}", {"id": "dn_x", "seq": 0}],
        ["{a}{a} and {missing}", {"a": "x"}],
        ["no values: {n}", None],
        ["{n} is text, not markup: {html}", {"n": 1, "html": "<b>"}],
    ]
    assert run_node(HARNESS, [STATIC / "messages.js"], cases) == [
        "3 donations shown",
        "entry 0 of dn_x",
        "xx and {missing}",
        "no values: {n}",
        "1 is text, not markup: <b>",
    ]
