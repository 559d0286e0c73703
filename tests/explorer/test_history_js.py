"""The donor's list (explorer/static/history.js), run by Node against the Python side.

Node runs the very file the pages serve: what it keeps from a file or a link must be
exactly what can be a receipt, and what it shows (money, times) must read as the
explorer's server-rendered pages read.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from explorer import formatting
from explorer.assets import STATIC
from explorer.history import MAX_CODES, PER_CODE, history_config
from explorer.i18n import Translator
from ledger.currencies import money
from tests.explorer.conftest import run_node

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup)")

SECRET = "0123456789abcdef0123456789abcdef"

HARNESS = """
const h = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const attempt = (f) => {
  try { return {ok: f()}; }
  catch (e) { return {error: e.code || e.message, values: e.values}; }
};
const out = {};
out.clean = cases.lists.map((list) => attempt(() => h.clean(list)));
out.files = cases.files.map((text) => attempt(() => h.fromFile(text)));
out.fragments = cases.fragments.map((hash) => attempt(() => h.fromFragment(hash)));
out.round_trip = attempt(() => h.fromFile(h.toFile(h.clean(cases.lists[0]))));
out.payloads = h.transferPayloads(cases.many);
out.back = out.payloads.map((p) => h.fromFragment("#import=" + p));
out.merge = attempt(() => h.merge(cases.many.slice(0, 3), cases.many.slice(2, 5)));
out.without = h.without(cases.many.slice(0, 3), cases.many[1].id).map((i) => i.id);
out.money = cases.money.map((c) => h.money(c[0], c[1], cases.config_zh));
out.when_zh = cases.times.map((t) => h.when(t, cases.config_zh));
out.when_en = cases.times.map((t) => h.when(t, cases.config_en));
const store = {
  data: {},
  getItem(k) { return this.data[k] ?? null; },
  setItem(k, v) { this.data[k] = String(v); },
};
h.save(h.clean(cases.lists[0]), store);
out.loaded = h.load(store).map((i) => i.id);
store.data["shanlian.receipts"] = "{damaged";
out.damaged = h.load(store);
out.constants = [h.PER_CODE, h.MAX_RECEIPTS];
process.stdout.write(JSON.stringify(out));
"""


def receipt(n: int, secret: str = SECRET, **extra: Any) -> dict[str, Any]:
    return {"id": f"dn_{n:020d}", "secret": secret, **extra}


def run(cases: dict[str, Any]) -> dict[str, Any]:
    assert NODE is not None
    result: dict[str, Any] = run_node(HARNESS, [STATIC / "history.js"], cases)
    return result


@pytest.fixture(scope="module")
def out() -> dict[str, Any]:
    many = [receipt(n) for n in range(PER_CODE * 2 + 3)]
    lists: list[Any] = [
        [receipt(1, saved_at="2026-12-05T10:00:00Z"), receipt(2, SECRET.upper())],
        [receipt(1), receipt(1, "f" * 32)],  # the same donation twice: the first kept
        [{"id": "dn_x", "secret": SECRET[:-1]}],
        [{"id": "ch_abc", "secret": SECRET}],
        [{"id": "dn_" + "a" * 41, "secret": SECRET}],
        [{"id": "dn_a<b>", "secret": SECRET}],
        [{"id": "dn_a", "secret": SECRET, "saved_at": "x" * 100}],
        [None],
        "not a list",
        [receipt(n) for n in range(1001)],
    ]
    files = [
        json.dumps({"format": "shanlian-receipts", "version": 1, "receipts": [receipt(7)]}),
        "{",
        json.dumps({"format": "other", "version": 1, "receipts": []}),
        json.dumps({"format": "shanlian-receipts", "version": 2, "receipts": []}),
        json.dumps({"format": "shanlian-receipts", "version": 1, "receipts": {"a": 1}}),
        json.dumps(None),
    ]
    fragments = [
        f"#import=1~dn_a.{SECRET}~dn_b.{SECRET}",
        "#s=" + SECRET,
        "",
        f"#import=2~dn_a.{SECRET}",
        f"#import=1~dn_a.{SECRET.upper()}",
        f"#import=1~dn_a.{SECRET}~",
        f"#import=1~dn_a.{SECRET}<script>",
        "#import=1",
    ]
    zh = history_config("zh-CN", Translator("zh-CN"))
    en = history_config("en", Translator("en"))
    money = [[12345, "CNY"], [0, "CNY"], [5, "CNY"], [-250, "CNY"], [10**12, "CNY"]]
    money += [[1234, "JPY"], [1234, "USD"], [123456, "KWD"], [7, "CLF"]]
    times = ["2026-11-26T22:41:00Z", "2026-12-31T20:00:00.000Z", "0001-01-01T00:00:00Z"]
    times += ["not a time"]
    cases = {
        "lists": lists,
        "files": files,
        "fragments": fragments,
        "many": many,
        "config_zh": zh,
        "config_en": en,
        "money": money,
        "times": times,
    }
    result = run(cases)
    result["cases"] = cases
    return result


def test_a_clean_list_keeps_exact_receipts_once_in_lowercase(out: dict[str, Any]) -> None:
    first, twice = out["clean"][0]["ok"], out["clean"][1]["ok"]
    assert [item["secret"] for item in first] == [SECRET, SECRET]
    assert first[0]["saved_at"] == "2026-12-05T10:00:00Z"
    assert twice == [{"id": "dn_00000000000000000001", "secret": SECRET, "saved_at": None}]


def test_anything_that_cannot_be_a_receipt_is_refused_naming_which(out: dict[str, Any]) -> None:
    errors = [answer.get("error") for answer in out["clean"][2:]]
    assert errors == [
        "bad_secret",
        "bad_id",
        "bad_id",
        "bad_id",
        None,  # an over-long saved_at is dropped, not fatal
        "bad_id",
        "not_a_list",
        "too_many",
    ]
    assert out["clean"][6]["ok"][0]["saved_at"] is None
    assert out["clean"][2]["values"] == {"n": 1}


def test_files_are_read_only_in_their_own_format(out: dict[str, Any]) -> None:
    assert [item["id"] for item in out["files"][0]["ok"]] == ["dn_00000000000000000007"]
    assert [answer.get("error") for answer in out["files"][1:]] == [
        "not_json",
        "not_ours",
        "bad_version",
        "not_a_list",
        "not_ours",
    ]
    assert [item["id"] for item in out["round_trip"]["ok"]] == [
        "dn_00000000000000000001",
        "dn_00000000000000000002",
    ]


def test_links_carry_the_list_in_codes_of_a_few_receipts_and_come_back_whole(
    out: dict[str, Any],
) -> None:
    many = out["cases"]["many"]
    assert len(out["payloads"]) == 3
    assert all(payload.count("~") <= PER_CODE for payload in out["payloads"])
    back = [item["id"] for part in out["back"] for item in part]
    assert back == [item["id"] for item in many]
    assert out["constants"] == [PER_CODE, 1000]
    assert MAX_CODES * PER_CODE < 1000  # a list too long for codes still fits a file


def test_a_damaged_link_is_refused_and_a_receipt_link_is_not_an_import(
    out: dict[str, Any],
) -> None:
    first = out["fragments"][0]["ok"]
    assert [item["id"] for item in first] == ["dn_a", "dn_b"]
    assert out["fragments"][1] == {"ok": None}
    assert out["fragments"][2] == {"ok": None}
    assert [answer.get("error") for answer in out["fragments"][3:]] == ["bad_link"] * 5


def test_merging_adds_only_what_is_new_and_forgetting_removes_one(out: dict[str, Any]) -> None:
    merged = out["merge"]["ok"]
    assert merged["added"] == 2
    assert len(merged["list"]) == 5
    assert out["without"] == ["dn_00000000000000000000", "dn_00000000000000000002"]


def test_storage_round_trips_and_a_damaged_store_reads_as_empty(out: dict[str, Any]) -> None:
    assert out["loaded"] == ["dn_00000000000000000001", "dn_00000000000000000002"]
    assert out["damaged"] == []


def test_money_and_times_read_as_the_server_rendered_pages(out: dict[str, Any]) -> None:
    assert out["money"] == [money(a, c) for a, c in out["cases"]["money"]]
    times = out["cases"]["times"]
    assert out["when_zh"][:3] == [formatting.when(t, "zh-CN") for t in times[:3]]
    assert out["when_en"][:3] == [formatting.when(t, "en") for t in times[:3]]
    assert out["when_zh"][3] == "not a time"
