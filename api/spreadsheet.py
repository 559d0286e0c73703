"""CSV cells that a spreadsheet shows as text, never runs as a formula (CSV injection).

OWASP's rule: a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with a single quote, which spreadsheets take as "this cell is text"
(and hide). We apply it more widely, because a charity chooses the text that lands in an
auditor's spreadsheet (payee, purpose):

- the first character that counts is the first one after white space and invisible
  format characters (U+200B, U+FEFF, bidi marks): some programs trim those on import;
- full-width and small forms (``＝ ＋ － ＠`` U+FF1D…, ``﹦ ﹢ ﹣ ﹫``) count as their ASCII
  forms (NFKC), since an IME types them and some spreadsheets fold them;
- a cell beginning with any control character (tab, CR, LF, …) is neutralized.

Numbers (``int``) are written as numbers: amounts are positive integers, and a number is
never a formula. Only text is changed, and only by the leading quote.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

FORMULA_TRIGGERS = frozenset("=+-@")
"""What a spreadsheet takes as the start of a formula (after NFKC folding)."""

TEXT_PREFIX = "'"


def _significant(value: str) -> str | None:
    """The first character that is neither white space nor an invisible format character."""
    for ch in value:
        if ch.isspace() or unicodedata.category(ch) == "Cf":
            continue
        return ch
    return None


def is_formula_like(value: str) -> bool:
    """Whether a spreadsheet could read ``value`` as a formula (see the module's rule)."""
    if not value:
        return False
    if unicodedata.category(value[0]) == "Cc":
        return True
    first = _significant(value)
    if first is None:
        return False
    folded = unicodedata.normalize("NFKC", first).lstrip()
    return folded[:1] in FORMULA_TRIGGERS


def safe_cell(value: Any) -> Any:
    """A value ready for ``csv.writer``: text neutralized, numbers and booleans as they are.

    ``None`` is an empty cell; a ``datetime`` is written in ISO 8601 (it cannot start with
    a trigger).
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return TEXT_PREFIX + text if is_formula_like(text) else text


def safe_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row through :func:`safe_cell`."""
    return [safe_cell(value) for value in values]
