"""ISO 4217 currency codes in current use (list one, as published by SIX), and amounts as
people read them.

Amounts stay integers in minor units end to end (STYLE habit 2): ``money`` splits them
into major and minor parts with integer arithmetic, never through a float.
"""

from __future__ import annotations

ISO_4217: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
    VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA
    XXX YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905 - a table reads better than 180 quoted strings
)

NOT_MONEY: frozenset[str] = frozenset(
    """
    XTS XXX XAU XAG XPT XPD XBA XBB XBC XBD XDR XSU XUA
    BOV CHE CHW CLF COU MXV USN UYI UYW
    """.split()  # noqa: SIM905
)
"""Codes of list one that no donor pays in: the test code (XTS), "no currency" (XXX),
precious metals (XAU, XAG, XPT, XPD), bond-market units (XBA–XBD), the IMF's SDR (XDR),
SUCRE (XSU), the ADB unit of account (XUA), and the fund codes (BOV, CHE, CHW, CLF, COU,
MXV, USN, UYI, UYW). The journal's format accepts them; a deployment takes them only
when configured to (the API's ``API_SPECIAL_CURRENCIES``)."""


def special_currency_problem(code: str, allowed: frozenset[str] | set[str]) -> str | None:
    """Why ``code`` is refused for new money facts (None when it is accepted).

    Args:
        code: an ISO 4217 code.
        allowed: the codes of ``NOT_MONEY`` this deployment accepts anyway.
    """
    if code in NOT_MONEY and code not in allowed:
        return (
            f"{code} is an ISO 4217 test, fund, metal or accounting-unit code, not money a "
            "donor pays in; this deployment accepts it only if API_SPECIAL_CURRENCIES "
            "lists it"
        )
    return None


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

    Total: what is not an integer amount is shown as it is, never an error on a page.

    Args:
        amount: in minor units.
        currency: ISO 4217 code.
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        return f"{amount} {currency}"
    digits = minor_digits(currency) if isinstance(currency, str) else 2
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    number = f"{major:,}" + (f".{minor:0{digits}d}" if digits else "")
    symbol = SYMBOLS.get(currency) if isinstance(currency, str) else None
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"
