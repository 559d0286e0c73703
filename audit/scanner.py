"""The audit's fast path: ``audit._scan``, a scanner in C, and the checks around it.

The reference is ``audit.decoder.decode_line``, the ledger's own validation (about 15 µs
a line). Most lines of a real journal are donations and allocations, and for those two
kinds ``audit._scan`` (``audit/_scan.c``, ADR 0015 and 0024) reads a whole block in one
call: for every line, whether it is byte for byte the canonical form of an entry of
that kind whose every field matches its pattern (its *shape*), and the fields of the
lines of a shape as columns (well under a microsecond a line). What a pattern cannot
check it leaves to ``fast_values``: ``seq`` at most ``MAX_SEQ``, an ISO 4217 currency,
a ``paid_at`` on the 29th to 31st that its month has. Every other line goes to
``decode_line``, so a bad line always gets the ledger's own error.

The fast path only ever says yes to lines the ledger says yes to, with the same fields:

- it is used only while the ledger's schemas for those kinds are the ones it was
  written against (``SCHEMA_FINGERPRINT``; a test fails when they change) and the
  module's constants are the ledger's;
- property tests hold it to ``decode_line`` on valid, mutated and random lines, and to
  the regular expressions it was written from (``tests/audit/expressions.py``, the
  oracle; ``tests/audit/test_scanner.py``, ``tests/audit/test_scan.py``).

Where it is missing (no C compiler at install time) an audit takes the reference path
for every line, gives the same findings, and says so loudly (``SCANNER_PROBLEM``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from ledger.currencies import ISO_4217
from ledger.entries import BODIES, ENTRY_VERSION, MAX_AMOUNT, MAX_SEQ

FAST_KINDS = ("donation.received", "allocation.made")

OTHER = 0
DONATION = 1
ALLOCATION = 2
"""The shape of a line in ``scan``: take ``decode_line``, or read it as that kind."""

ID_MAX = 40
"""Longest id after its prefix (``ledger.entries``' id pattern), as the scanner has it."""
SEQ_DIGITS = 16
"""Digits the scanner reads in a ``seq``; ``fast_values`` bounds it by ``MAX_SEQ``."""
INTERFACE = 2
"""The version of what ``scan`` gives that this module reads (``audit._scan.INTERFACE``):
2, each line behind the leaf prefix."""


def schema_fingerprint() -> str:
    """SHA-256 of what the fast path depends on in ``ledger.entries``.

    The JSON schemas of the fast kinds' bodies, the names of the validators their
    fields run, and the entry constants.
    """
    described: dict[str, Any] = {
        "version": ENTRY_VERSION,
        "max_amount": MAX_AMOUNT,
        "max_seq": MAX_SEQ,
        "currencies": sorted(ISO_4217),
    }
    for kind in FAST_KINDS:
        model = BODIES[kind]
        described[kind] = {
            "schema": model.model_json_schema(),
            "validators": {
                name: [
                    getattr(getattr(meta, "func", None), "__qualname__", type(meta).__name__)
                    for meta in field.metadata
                ]
                for name, field in model.model_fields.items()
            },
        }
    encoded = json.dumps(described, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


SCHEMA_FINGERPRINT = "1d1a3d3a6b9bdd88bf1c2bdab73772dc0ecc2f56bffc43271f54f79e886e29fc"
"""``schema_fingerprint()`` of the ledger the scanner was written against."""

try:
    from audit import _scan
except ImportError:  # built without a C compiler
    _scan = None  # type: ignore[assignment]


def _problem() -> str | None:
    if _scan is None:
        return (
            "audit._scan (the scanner in C) is not built here: every line is read through "
            "the ledger's reference path, several times slower, with the same findings; "
            "install shanlian again with a C compiler at hand (scripts/setup installs gcc) "
            "for the fast path"
        )
    if getattr(_scan, "INTERFACE", 1) != INTERFACE:
        return (
            "audit._scan was built from another audit/_scan.c than audit/scanner.py reads: "
            "every line is read through the ledger's reference path, several times slower, "
            "with the same findings; install shanlian again (scripts/setup) to rebuild it"
        )
    if schema_fingerprint() != SCHEMA_FINGERPRINT or (
        _scan.ENTRY_VERSION != ENTRY_VERSION
        or 10 ** (_scan.AMOUNT_DIGITS - 1) != MAX_AMOUNT
        or _scan.SEQ_DIGITS != SEQ_DIGITS
        or _scan.ID_MAX != ID_MAX
    ):
        return (
            "ledger.entries changed since audit/_scan.c was written: every line is read "
            "through the ledger's reference path, several times slower, with the same "
            "findings"
        )
    return None


SCANNER_PROBLEM = _problem()
"""Why the fast path is off (a sentence for the report and stderr), or None."""

SCANNER_AVAILABLE = SCANNER_PROBLEM is None
"""Whether ``scan`` can read blocks: ``audit._scan`` is built and agrees with the ledger."""

Scanned = tuple[bytes, list[bytes], tuple[list[Any], ...], tuple[list[Any], ...]]
"""What ``scan`` gives for a block: shapes, leaf inputs, donation and allocation columns."""

DONATION_COLUMNS = (
    "actor", "at", "amount", "channel", "charity_id", "currency", "donation_id", "paid_at",
    "project_id", "seq",
)  # fmt: skip
"""The columns of ``scan``'s donations, in order (the books keep no hashes)."""
ALLOCATION_COLUMNS = (
    "actor", "at", "allocation_id", "amount", "disbursement_id", "donation_id", "seq",
)  # fmt: skip
"""The columns of ``scan``'s allocations, in order."""


def scan(block: bytes) -> Scanned:
    """The shapes of a block's lines and the fields of those of a shape, in one call.

    The lines are what lies between the block's newlines. Requires ``SCANNER_AVAILABLE``.

    Returns:
        ``(shapes, leaves, donations, allocations)``: ``shapes``, a byte a line,
        ``DONATION``, ``ALLOCATION`` or ``OTHER``; ``leaves``, a ``bytes`` a line, 0x00
        and then the line (the input of its RFC 6962 leaf hash, so the pass neither
        splits the block nor copies a line again to hash it); ``donations``, one list a column of
        ``DONATION_COLUMNS`` (``amount`` and ``seq`` as ints, a null ``project_id`` as
        None, the values repeated down a column interned), an item a donation line in
        order; ``allocations`` likewise with ``ALLOCATION_COLUMNS``.

    Raises:
        RuntimeError: ``audit._scan`` is not built.
    """
    if _scan is None:
        raise RuntimeError("audit._scan is not built")
    return _scan.scan(block)


_fromisoformat = datetime.fromisoformat


def real_instant(moment: str) -> bool:
    """Whether a timestamp of the scanner's shape is a real instant (it is, up to the 28th)."""
    if moment[8:10] <= "28":
        return True
    try:
        # For a string of this shape, the ledger's normalization (fromisoformat, then
        # UTC with milliseconds and Z) gives the string back exactly when it parses.
        _fromisoformat(moment)
    except ValueError:
        return False
    return True


def fast_values(seq: int, currency: str | None = None, paid_at: str | None = None) -> bool:
    """Whether a line of a shape, with these values, is a valid entry (donations: all three).

    ``audit.journal`` makes the same checks on a run of donations at once, cheapest first.
    """
    if seq > MAX_SEQ:
        return False
    if currency is None or paid_at is None:
        return True
    return currency in ISO_4217 and real_instant(paid_at)
