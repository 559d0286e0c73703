"""The journal's vocabulary (ADR 0027): id forms, patterns, limits, times and field types.

Pure: no I/O. Every package takes these names from here (through ``ledger.entries``, which
re-exports them); the body of each kind of entry (``ledger.bodies``) is made of the field
types below. Patterns are used with fullmatch: in Python, $ also matches before a final
newline, and \\d any Unicode digit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt

from ledger.currencies import ISO_4217

JSON_SAFE_INTEGER = 2**53 - 1
"""Largest integer every JSON parser keeps exact: browsers read numbers as doubles."""
MAX_AMOUNT = 10**12
"""Largest amount in minor units (10^12 fen = ¥10 billion)."""
MAX_SEQ = JSON_SAFE_INTEGER
"""Largest ``seq`` (a tree holds at most ``MAX_SEQ + 1`` entries): a ``seq`` travels in JSON
to the explorer's in-browser verifier, which must read it exactly."""


ID_PREFIXES: Mapping[str, str] = {
    "charity": "ch",
    "project": "pr",
    "donation": "dn",
    "disbursement": "db",
    "allocation": "al",
    # Matching funds (ADR 0040).
    "matcher": "mt",
    "pool": "mp",
}
"""What an id names, and its prefix: ``dn_…`` is a donation. Bodies hold it as ``<thing>_id``."""
ID_MAX_LENGTH = 40
"""Characters after the prefix and ``_``, at most."""
_ID_TAIL = rf"[A-Za-z0-9]{{1,{ID_MAX_LENGTH}}}"
ID_PATTERNS: Mapping[str, re.Pattern[str]] = {
    thing: re.compile(rf"{prefix}_{_ID_TAIL}") for thing, prefix in ID_PREFIXES.items()
}
"""The ids of each thing (``fullmatch``). Ids are case-sensitive: ``dn_ab`` and ``dn_AB`` are
two donations; the platform makes lowercase ones (``ledger.store.requests.new_id``)."""
ID = re.compile(rf"(?:{'|'.join(ID_PREFIXES.values())})_{_ID_TAIL}")
"""Any id of the journal (``fullmatch``)."""
HASH = re.compile(r"0x[0-9a-f]{64}")
"""A SHA-256 digest or a transaction hash as the journal and its JSON write it (``fullmatch``)."""
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
"""An EVM address as accepted (``fullmatch``): either letter case, as EIP-55 checksums mix
them; the journal keeps it lowercase."""
SIGNATURE = re.compile(r"0x[0-9a-f]{130}")
"""A 65-byte signature (``sig``), 0x lowercase hex (``fullmatch``)."""
ACTOR = re.compile(rf"platform|charity:{ID_PATTERNS['charity'].pattern}")
"""Who may be accountable for an entry (``fullmatch``)."""
AT_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
"""An ``at`` of the journal (``fullmatch``): UTC RFC 3339 with milliseconds and ``Z``."""
REPORT_PERIOD = re.compile(r"[0-9]{4}-Q[1-4]|final")
"""A disclosure report's period (``fullmatch``): a calendar quarter in Asia/Shanghai
(``2026-Q3``) for a progress report, ``final`` for a project's final report."""


def thing_of(value: str) -> str | None:
    """What an id names (``charity``, ``project``, …) by its form, or None for no id."""
    if not ID.fullmatch(value):
        return None
    prefix = value.partition("_")[0]
    return next(thing for thing, p in ID_PREFIXES.items() if p == prefix)


def id_spellings(text: str) -> list[str]:
    """The ids a typed ``text`` may mean, the exact spelling first.

    Ids are case-sensitive, but people retype the lowercase ids the platform makes from
    a printed receipt in capitals: ``DN_K3V0`` may mean ``dn_K3V0`` or ``dn_k3v0``. Only
    spellings that are ids (``ID``) are given; none when ``text`` is no id in any case.
    """
    candidates = (text, text[:2].lower() + text[2:], text.lower())
    return [spelling for spelling in dict.fromkeys(candidates) if ID.fullmatch(spelling)]


def _anchored(pattern: re.Pattern[str]) -> str:
    """A fullmatch pattern (without alternation) for pydantic's ``Field(pattern=…)``, which
    searches. Written as before ADR 0027: the audit's fast path fingerprints the schemas."""
    if "|" in pattern.pattern:
        raise ValueError(f"{pattern.pattern!r} has an alternation: group it before anchoring")
    return f"^{pattern.pattern}$"


def _text(value: str) -> str:
    """NFC-normalize a string and refuse what cannot be shown or encoded."""
    if value.isascii() and value.isprintable():  # the common case: already NFC, no controls
        if value != value.strip():
            raise ValueError("has leading or trailing white space")
        return value
    normalized = unicodedata.normalize("NFC", value)
    for ch in normalized:
        category = unicodedata.category(ch)
        if category == "Cs":
            raise ValueError("contains a lone surrogate, which is not valid Unicode")
        if category == "Cc" and ch not in "\n\t":
            raise ValueError(f"contains the control character U+{ord(ch):04X}")
    if normalized != normalized.strip():
        raise ValueError("has leading or trailing white space")
    return normalized


def _max_length(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"is {len(value)} characters long, at most {limit} are allowed")
        if not value:
            raise ValueError("must not be empty")
        return value

    return AfterValidator(check)


_RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>[0-9]{2}:[0-9]{2}:(?P<second>[0-9]{2}))"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?P<offset>[Zz]|[+-](?P<hours>[0-9]{2}):(?P<minutes>[0-9]{2}))"
)


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 ``date-time`` (§5.6): full date, full time, an offset required.

    Narrower than ``datetime.fromisoformat``, which also takes ISO 8601's basic and week
    forms, a date alone, a space for ``T`` and offsets with seconds. Fractions beyond
    microseconds are cut, as the journal keeps milliseconds anyway.

    Raises:
        ValueError: naming what is wrong, in words a caller can act on.
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        if _RFC3339.fullmatch(value + "Z"):
            raise ValueError("needs a time zone offset, e.g. 2026-11-26T10:00:00Z")
        raise ValueError(
            "is not an RFC 3339 date-time with an offset, e.g. 2026-11-26T10:00:00Z or "
            "2026-11-26T18:00:00+08:00"
        )
    if match["second"] == "60":
        raise ValueError("is a leap second (:60), which cannot be stored: use :59")
    if match["hours"] is not None and (int(match["hours"]) > 23 or int(match["minutes"]) > 59):
        raise ValueError("has an offset beyond ±23:59")
    fraction = f".{match['fraction'][:6]:0<6}" if match["fraction"] else ""
    offset = "+00:00" if match["offset"] in "Zz" else match["offset"]
    try:
        return datetime.fromisoformat(f"{match['date']}T{match['time']}{fraction}{offset}")
    except ValueError:
        raise ValueError("is not a date and time that exists (year, month, day, hour)") from None


_UTC_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z")
"""A moment already in UTC to the second or millisecond with ``Z``: what payment systems
and the journal itself write, and so nearly every timestamp a giving day brings."""


def _timestamp(value: str) -> str:
    """Accept RFC 3339 with an offset; store it as UTC with milliseconds and ``Z``.

    A value already in UTC with ``Z`` and whole seconds or milliseconds only needs its
    date checked (and ``.000`` added): the general path parses and formats again, and
    took a tenth of an append's time. Anything else, or a date that does not exist
    (February 30th, a leap second, year 0), goes the general way and its message.
    """
    fast = _UTC_SECONDS.fullmatch(value)
    if fast is not None:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value if fast[1] else value[:-1] + ".000Z"
    parsed = parse_rfc3339(value)
    try:
        return format_at(parsed)
    except OverflowError:
        raise ValueError("is outside the years 0001 to 9999 once in UTC") from None


def _lower_hex(value: str) -> str:
    return value.lower()


Text = Annotated[str, Field(strict=True), AfterValidator(_text)]
Name = Annotated[Text, _max_length(200)]
Reason = Annotated[Text, _max_length(500)]
RegistrationNo = Annotated[Text, _max_length(64)]
"""A registration number as written (``registration_key`` says when two are the same)."""
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]
Hash = Annotated[str, Field(strict=True, pattern=_anchored(HASH))]
Timestamp = Annotated[str, Field(strict=True), AfterValidator(_timestamp)]
Address = Annotated[
    str,
    Field(strict=True, pattern=_anchored(ADDRESS)),
    AfterValidator(_lower_hex),
]


def _currency(value: str) -> str:
    if value not in ISO_4217:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


Currency = Annotated[str, Field(strict=True), AfterValidator(_currency)]
CharityId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["charity"]))]
ProjectId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["project"]))]
DonationId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["donation"]))]
DisbursementId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["disbursement"]))]
AllocationId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["allocation"]))]
MatcherId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["matcher"]))]
PoolId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["pool"]))]


def format_at(moment: datetime) -> str:
    """Format a timezone-aware moment as UTC RFC 3339 with milliseconds and ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined UTC instant")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


def parse_at(value: str) -> datetime:
    """Parse an ``at`` string of the journal (``YYYY-MM-DDTHH:MM:SS.mmmZ``)."""
    if not AT_FORMAT.fullmatch(value):
        raise ValueError(f"{value!r} is not UTC RFC 3339 with milliseconds and Z")
    return datetime.fromisoformat(value)


def registration_key(registration_no: str) -> str:
    """What makes two registration numbers the same one: NFKC, capitals, no separators.

    ``53530000MJ0005678Y``, ``５３５３…`` (full width), ``53530000mj0005678y`` and
    ``5353 0000-MJ00 05678Y`` all give ``53530000MJ0005678Y``: white space, hyphens, dots
    and slashes are how people group the digits, not part of the number.
    """
    folded = unicodedata.normalize("NFKC", registration_no).upper()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-./\u2010\u2011")
