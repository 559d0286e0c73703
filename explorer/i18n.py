"""Languages: zh-CN and en, chosen by ``?lang=``, then the ``lang`` cookie, then
Accept-Language (RFC 9110 §12.5.4), then zh-CN.

Messages are written in English in the templates (``_("Donations")``) and looked up in
``catalog.ZH_CN``; a test checks that every message has a translation.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.catalog import ZH_CN

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
COOKIE = "lang"
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}
CATALOGS: dict[str, dict[str, str]] = {"zh-CN": ZH_CN, "en": {}}


def supported(tag: str | None) -> str | None:
    """The language we speak for a BCP 47 tag: any Chinese → zh-CN, any English → en."""
    if not tag:
        return None
    primary = tag.strip().lower().replace("_", "-").split("-", 1)[0]
    if primary == "zh":
        return "zh-CN"
    if primary == "en":
        return "en"
    return None


def parse_accept_language(header: str) -> list[tuple[str, float]]:
    """The header's language ranges with their weights, best first (ties keep their order)."""
    ranges: list[tuple[str, float, int]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag.strip() and 0 < weight <= 1:
            ranges.append((tag.strip(), weight, position))
    ranges.sort(key=lambda r: (-r[1], r[2]))
    return [(tag, weight) for tag, weight, _ in ranges]


def negotiate(
    *, query: str | None = None, cookie: str | None = None, accept_language: str | None = None
) -> str:
    """The page's language: an explicit choice first, then the browser's preference."""
    for choice in (query, cookie):
        language = supported(choice)
        if language:
            return language
    for tag, _weight in parse_accept_language(accept_language or ""):
        language = supported(tag)
        if language:
            return language
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Translator:
    """``_`` of the templates: the message in ``language``, with ``%(name)s`` filled in.

    The result is plain text: the template escapes it, the values included.
    """

    language: str

    def __call__(self, message: str, **values: object) -> str:
        text = CATALOGS[self.language].get(message, message)
        return text % values if values else text
