"""How the pages show amounts, times and hashes (the JSON twins keep the raw values).

Amounts stay integers in minor units end to end (STYLE habit 2): they are split into
major and minor parts with integer arithmetic, never through a float.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

MINOR_UNIT_DIGITS: dict[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
"""ISO 4217 minor-unit digits where they are not 2."""

SYMBOLS = {"CNY": "¥"}


def minor_digits(currency: str) -> int:
    """How many digits of an amount in ``currency`` are the minor unit (fen for CNY: 2)."""
    return MINOR_UNIT_DIGITS.get(currency, 2)


def money(amount: int, currency: str) -> str:
    """``12345`` fen of CNY as ``¥123.45``; other currencies as ``123.45 USD``.

    Args:
        amount: in minor units.
        currency: ISO 4217 code.
    """
    digits = minor_digits(currency)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    number = f"{major:,}" + (f".{minor:0{digits}d}" if digits else "")
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def _parse(value: str | datetime) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


BEIJING = timezone(timedelta(hours=8))
"""China Standard Time, UTC+8 all year (China has kept no daylight saving since 1991)."""
_ZONES = {"zh-CN": (BEIJING, "北京时间")}
"""The time zone of each page language but English, and how its pages name it."""


def when(value: str | datetime | None, language: str = "en") -> str:
    """A timestamp as the page's reader keeps time (the text of a ``<time>``).

    ``2026-11-26 22:41 UTC`` on English pages; ``2026-11-27 06:41 北京时间`` (UTC+8) on
    Chinese ones, where donors and charities read Beijing time.
    """
    if value is None:
        return ""
    moment = _parse(value)
    if moment is None:
        return str(value)
    zone, name = _ZONES.get(language, (UTC, "UTC"))
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") + " " + name


def iso(value: str | datetime | None) -> str:
    """A timestamp as RFC 3339 UTC (the ``datetime`` attribute of a ``<time>``)."""
    if value is None:
        return ""
    moment = _parse(value)
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def short_hash(value: str, keep: int = 10) -> str:
    """``0x1234abcd…ef01``: enough to recognize a hash; the full one is in its title."""
    if len(value) <= 2 * keep + 2:
        return value
    return f"{value[: keep + 2]}…{value[-keep // 2 :]}"
