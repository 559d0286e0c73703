"""zh-CN and en: negotiation, the switch, and a translation for every message."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jinja2 import Environment

from explorer import app as explorer_app
from explorer import diagram, formatting, history, verifier, vocabulary
from explorer.catalog import ZH_CN
from explorer.i18n import Translator, negotiate, parse_accept_language
from explorer.models import FlowNode
from tests.explorer.conftest import World

TEMPLATES = Path(explorer_app.__file__).parent / "templates"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("zh-Hant-HK;q=0.5, en-GB;q=0.9", "en"),
        ("fr-FR, de;q=0.8, en;q=0.3", "en"),
        ("fr-FR, de;q=0.8", "zh-CN"),
        ("en;q=0, zh", "zh-CN"),
        ("en;q=abc, zh;q=0.1", "zh-CN"),
        ("*", "zh-CN"),
    ],
)
def test_accept_language_picks_the_best_language_we_speak(
    header: str | None, language: str
) -> None:
    assert negotiate(accept_language=header) == language


def test_query_beats_cookie_beats_accept_language() -> None:
    assert negotiate(query="en", cookie="zh-CN", accept_language="zh") == "en"
    assert negotiate(query=None, cookie="en", accept_language="zh") == "en"
    assert negotiate(query="xx", cookie="xx", accept_language="en") == "en"


def test_accept_language_weights_order_ties_by_position() -> None:
    assert parse_accept_language("a;q=0.5, b, c;q=0.5") == [("b", 1.0), ("a", 0.5), ("c", 0.5)]


def test_page_language_follows_accept_language_and_says_so(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    english = sqlite_client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text
    assert english.headers["content-language"] == "en"
    assert "Accept-Language" in english.headers["vary"]
    assert "Where charity money goes" in english.text
    chinese = sqlite_client.get("/", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="zh-CN">' in chinese.text
    assert "善款去向" in chinese.text


def test_language_switch_sets_a_cookie_that_later_pages_follow(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    switched = sqlite_client.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in switched.text
    assert "lang=en" in switched.headers["set-cookie"]
    later = sqlite_client.get("/checkpoints", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in later.text


def test_language_links_keep_the_page_and_its_query(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    html = sqlite_client.get("/search?q=%E5%86%AC&lang=zh-CN").text
    assert 'href="/search?q=%E5%86%AC&amp;lang=en"' in html
    assert 'hreflang="en"' in html


def test_json_twins_are_the_same_in_every_language(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    path = f"/donations/{sqlite_world.earmarked}.json"
    english = sqlite_client.get(path, headers={"Accept-Language": "en"}).json()
    chinese = sqlite_client.get(path, headers={"Accept-Language": "zh-CN"}).json()
    assert english == chinese


def _template_messages() -> set[str]:
    environment = Environment(extensions=["jinja2.ext.i18n"])
    messages: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        for _line, _function, message in environment.extract_translations(path.read_text()):
            if isinstance(message, str):
                messages.add(message)
    return messages


def _code_messages() -> set[str]:
    recorder: list[str] = []

    def record(message: str, **values: object) -> str:
        recorder.append(message)
        return message

    kinds = ["donations", "project", "general_fund", "use", "unspent", "refunded", "others"]
    for kind in kinds:
        for ref in (None, "pr_x"):
            node = FlowNode(id="x", column=0, kind=kind, ref=ref, name="n", detail="d", amount=1)  # type: ignore[arg-type]
            diagram.node_label(node, record)
    return (
        set(recorder)
        | set(verifier.MESSAGES.values())
        | set(history.HISTORY_MESSAGES.values())
        | set(history.KEEP_MESSAGES.values())
        | set(vocabulary.ENTRY_KINDS.values())
        | set(vocabulary.REF_KINDS.values())
        | {
            "Money flows from the donations on the left, through where it is now, to the "
            "payees on the right. The table below lists the same amounts."
        }
    )


def test_every_message_has_a_chinese_translation() -> None:
    messages = _template_messages() | _code_messages()
    assert len(messages) > 150
    missing = sorted(messages - ZH_CN.keys())
    assert missing == []


def test_translations_keep_their_placeholders() -> None:
    import re

    for english, chinese in ZH_CN.items():
        for pattern in (r"%\(\w+\)s", r"\{\w+\}"):
            expected = sorted(re.findall(pattern, english))
            assert sorted(re.findall(pattern, chinese)) == expected, english


def test_translator_fills_values_without_trusting_them_as_markup() -> None:
    _ = Translator("zh-CN")
    assert _("Anchored in block %(block)s", block=7) == "已在区块 7 上链"
    assert _("Anchored in block %(block)s", block="<b>") == "已在区块 <b> 上链"  # escaped later
    assert Translator("en")("Verify") == "Verify"
    assert _("a message nobody translated") == "a message nobody translated"


@pytest.mark.parametrize(
    ("moment", "language", "shown"),
    [
        ("2026-11-26T22:41:07.123Z", "en", "2026-11-26 22:41 UTC"),
        ("2026-11-26T22:41:07.123Z", "zh-CN", "2026-11-27 06:41 北京时间"),
        ("2026-12-31T16:00:00.000Z", "zh-CN", "2027-01-01 00:00 北京时间"),
        ("2026-07-01T03:30:00+02:00", "zh-CN", "2026-07-01 09:30 北京时间"),
        ("not a time", "zh-CN", "not a time"),
    ],
)
def test_times_are_shown_as_the_pages_readers_keep_time(
    moment: str, language: str, shown: str
) -> None:
    assert formatting.when(moment, language) == shown


def test_pages_show_beijing_time_in_chinese_and_utc_in_english(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    # Checkpoint 0 of the world was anchored at 08:00 UTC on 27 November 2026.
    chinese = sqlite_client.get("/checkpoints", headers={"Accept-Language": "zh-CN"})
    assert '<time datetime="2026-11-27T08:00:00Z">2026-11-27 16:00 北京时间</time>' in chinese.text
    assert " UTC</time>" not in chinese.text
    english = sqlite_client.get("/checkpoints", headers={"Accept-Language": "en"})
    assert '<time datetime="2026-11-27T08:00:00Z">2026-11-27 08:00 UTC</time>' in english.text
    assert "北京时间" not in english.text
