"""The field types of the API's request bodies, and the checks behind them.

Names shown to people refuse what would deceive a reader (bidi controls, zero-width
characters, look-alike scripts mixed in one word); money is an integer of minor units;
a moment is RFC 3339 with an offset and nothing else. ``api.models`` builds its bodies
from these.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from ledger.entries import HASH, MAX_AMOUNT, parse_rfc3339

Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT, description="minor units (fen for CNY)")]

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Characters that reorder text on screen (Trojan Source, CVE-2021-42574)."""
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
"""Characters that show nothing, so that two different names look the same."""
_LOOKALIKE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")
"""Scripts whose letters pass for one another (а/a, ο/o, Р/P): one word uses one of them."""


def _refused_character(ch: str) -> str | None:
    """What is wrong with ``ch`` in a name shown to people, or None."""
    if ch in BIDI_CONTROLS:
        return "a bidi control, which reorders the text around it"
    if ch in ZERO_WIDTH:
        return "a zero-width character, which hides in the text"
    category = unicodedata.category(ch)
    return {
        "Cc": "a control character",
        "Cf": "an invisible format character",
        "Cs": "a lone surrogate, which is not valid Unicode",
        "Co": "a private-use character, which has no agreed meaning",
        "Cn": "a code point Unicode has not assigned",
        "Zl": "a line separator",
        "Zp": "a paragraph separator",
    }.get(category)


def _script(ch: str) -> str | None:
    name = unicodedata.name(ch, "")
    return next((s for s in _LOOKALIKE_SCRIPTS if name.startswith(s + " ")), None)


def human_text(value: str) -> str:
    """A name, title, payee, purpose or reason as people will read it, or ValueError.

    NFKC-normalized (full-width ``ＡＢＣ`` is ``ABC``, ``ﬁ`` is ``fi``, U+3000 a space), trimmed;
    refuses control, format (bidi and zero-width among them), private-use, unassigned
    and separator characters, naming the code point; and refuses a word that mixes
    Latin, Greek and Cyrillic letters (``Pаypal`` with a Cyrillic ``а``), the usual
    look-alike. Other confusables (a whole word in another script) are shown as they are.
    """
    normalized = unicodedata.normalize("NFKC", value).strip()
    for ch in normalized:
        problem = _refused_character(ch)
        if problem is not None:
            raise ValueError(
                f"contains U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')}), {problem}; "
                "names and texts may hold printable characters only"
            )
    for word in re.findall(r"[^\W\d_]+", normalized):
        scripts = {s for s in map(_script, word) if s is not None}
        if len(scripts) > 1:
            mixed = " and ".join(s.title() for s in sorted(scripts))
            raise ValueError(
                f"the word {word!r} mixes {mixed} letters, "
                "which look alike; write each word in one script"
            )
    return normalized


HumanText = AfterValidator(human_text)


def _currency(value: str) -> str:
    if not (value.isascii() and value.isalpha() and value.isupper()):
        raise ValueError("is an ISO 4217 code: three capital letters, e.g. CNY")
    return value


Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
Hex32 = Annotated[str, Field(pattern=f"^{HASH.pattern}$", description="0x lowercase hex")]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, (int, float)):
        return "a JSON number"
    return "a JSON array" if isinstance(value, list) else "a JSON object"


def _rfc3339(value: object) -> datetime:
    """Only an RFC 3339 string with an offset (or an aware datetime, from Python callers).

    Pydantic's own ``datetime`` would also take Unix seconds as a number or a string of
    digits, a date alone (naive), a space for ``T`` and years it cannot move to UTC.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = parse_rfc3339(value)
    else:
        raise ValueError(
            f"must be an RFC 3339 string such as 2026-11-26T10:00:00Z, not {_json_type(value)}"
        )
    if moment.tzinfo is None:
        raise ValueError("needs a time zone offset, e.g. 2026-11-26T10:00:00Z")
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 0001 to 9999 once in UTC") from None
    return moment


Rfc3339 = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    Field(description="RFC 3339 with an offset, e.g. 2026-11-26T18:00:00+08:00"),
]
"""A moment a caller sends: RFC 3339 with an offset, nothing else (see ``_rfc3339``)."""


def with_example(example: dict[str, Any]) -> ConfigDict:
    """A request body's configuration: unknown fields refused, and the example its schema shows."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class Closed(BaseModel):
    """Request bodies refuse unknown fields: a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


def _no_control_characters(value: str | None) -> str | None:
    for ch in value or "":
        if unicodedata.category(ch) == "Cc":
            raise ValueError(f"contains the control character U+{ord(ch):04X}")
    return value


NoControl = AfterValidator(_no_control_characters)
OptionalHumanText = AfterValidator(lambda v: None if v is None else human_text(v))
