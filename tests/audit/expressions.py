"""The regular expressions the scanner in C was written from: the tests' oracle.

Until ADR 0024 these were the audit's second fast path (``audit.decoder``); now
``audit._scan`` is the only one, and these say, in a form a reviewer can read beside
``audit/_scan.c``, what it must accept: a line is of the *shape* of a donation or an
allocation when it is byte for byte the canonical form of an entry of that kind whose
every field matches its pattern (one strict expression a kind, with the ranges of amounts
and of the parts of a date); its fields are then the groups of a lenient expression
(the same keys in the same order, ``[^"]*`` a string), which on a line of the strict
shape gives the same groups.

``tests/audit/test_scan.py`` holds the scanner to these; ``tests/audit/test_scanner.py``
holds the scanner to the ledger's own validation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from audit.scanner import ALLOCATION, DONATION, OTHER
from ledger.entries import ENTRY_VERSION, MAX_AMOUNT

_ID_MAX = 40  # ledger.entries' id pattern
_ID = rf"[A-Za-z0-9]{{1,{_ID_MAX}}}"
_HASH = r"0x[0-9a-f]{64}"
# YYYY-MM-DDTHH:MM:SS.mmmZ with the ranges of each part (year 0000 does not exist); the
# 29th to 31st are checked against their month in Python (``real_instant``).
_AT = (
    r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z"
)
assert str(MAX_AMOUNT) == "1" + "0" * (len(str(MAX_AMOUNT)) - 1), "a power of ten"
_AMOUNT = rf"[1-9][0-9]{{0,{len(str(MAX_AMOUNT)) - 2}}}|{MAX_AMOUNT}"  # 1 to MAX_AMOUNT
_SEQ_DIGITS = 16
_SEQ = rf"0|[1-9][0-9]{{0,{_SEQ_DIGITS - 1}}}"  # bounded above by MAX_SEQ in Python
_ANY = r'[^"]*'


def _string(name: str, pattern: str) -> str:
    return f'"{name}":"({pattern})"'


def _number(name: str, pattern: str) -> str:
    return f'"{name}":({pattern})'


def _entry_pattern(kind: str, body: list[str], *, strict: bool) -> str:
    """The canonical form of an entry of ``kind`` without ``sig``: keys in RFC 8785 order."""
    return (
        r"\{"
        + ",".join(
            [
                _string("actor", f"platform|charity:ch_{_ID}" if strict else _ANY),
                _string("at", _AT if strict else _ANY),
                r'"body":\{' + ",".join(body) + r"\}",
                f'"kind":"{re.escape(kind)}"',
                _number("seq", _SEQ if strict else "[0-9]+"),
                f'"v":{ENTRY_VERSION}',
            ]
        )
        + r"\}"
    )


def _donation_pattern(*, strict: bool, hashes: bool = True) -> str:
    def field(pattern: str) -> str:
        return pattern if strict else _ANY

    def hash_field(name: str) -> str:
        return _string(name, field(_HASH)) if hashes else f'"{name}":"{_ANY}"'

    return _entry_pattern(
        "donation.received",
        [
            _number("amount", _AMOUNT if strict else "[0-9]+"),
            _string("channel", field("[a-z][a-z0-9_]{0,31}")),
            _string("charity_id", field(f"ch_{_ID}")),
            _string("currency", field("[A-Z]{3}")),
            _string("donation_id", field(f"dn_{_ID}")),
            hash_field("donor_commitment"),
            _string("paid_at", field(_AT)),
            hash_field("payment_ref_hash"),
            f'"project_id":(?:"({field(f"pr_{_ID}")})"|null)',
        ],
        strict=strict,
    )


def _allocation_pattern(*, strict: bool) -> str:
    def field(pattern: str) -> str:
        return pattern if strict else _ANY

    return _entry_pattern(
        "allocation.made",
        [
            _string("allocation_id", field(f"al_{_ID}")),
            _number("amount", _AMOUNT if strict else "[0-9]+"),
            _string("disbursement_id", field(f"db_{_ID}")),
            _string("donation_id", field(f"dn_{_ID}")),
        ],
        strict=strict,
    )


# The strict expressions match bytes: ASCII only, so a line with any other byte is not
# of the shape (and goes to decode_line). The lenient ones read the line decoded as
# Latin-1 (one character a byte, never fails), where the groups need no decoding.
_DONATION_SHAPE = re.compile(_donation_pattern(strict=True).encode())
_ALLOCATION_SHAPE = re.compile(_allocation_pattern(strict=True).encode())
DONATION_FIELDS = re.compile(_donation_pattern(strict=False))
"""Groups: actor, at, amount, channel, charity_id, currency, donation_id,
donor_commitment, paid_at, payment_ref_hash, project_id (or None), seq."""
DONATION_BOOKED = re.compile(_donation_pattern(strict=False, hashes=False))
"""``DONATION_FIELDS`` without the two hashes, which the books do not keep: actor, at,
amount, channel, charity_id, currency, donation_id, paid_at, project_id, seq."""
ALLOCATION_FIELDS = re.compile(_allocation_pattern(strict=False))
"""Groups: actor, at, allocation_id, amount, disbursement_id, donation_id, seq."""


def shapes(lines: Sequence[bytes]) -> bytes:
    """For each line, ``DONATION`` or ``ALLOCATION`` when it is of that shape, else ``OTHER``."""
    donation = _DONATION_SHAPE.fullmatch
    allocation = _ALLOCATION_SHAPE.fullmatch
    return bytes(
        [
            DONATION if donation(line) else ALLOCATION if allocation(line) else OTHER
            for line in lines
        ]
    )
