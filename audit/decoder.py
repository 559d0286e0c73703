"""Lines of a journal export to entries: each must be a valid v1 entry in canonical form.

The authority is ``ledger.entries``: a line is good when ``parse_entry(json.loads(line))``
succeeds and the entry's canonical bytes are the line, byte for byte (``decode_line``).

That costs about 25 µs a line, most of it JSON and pydantic, and a million-entry audit
is mostly donations and allocations. For those two kinds ``decode_fast`` matches the
line against one regular expression that accepts exactly the canonical form of a valid
entry — keys in RFC 8785 order, every field's pattern, amounts and ``seq`` without
leading zeros — and checks the rest in Python (amount and seq bounds, ISO 4217, a real
``paid_at`` instant). Anything it does not accept, it hands to ``decode_line``, so a bad
line always gets the ledger's own error. The fast path only ever says yes to lines the
ledger says yes to:

- it is enabled only while the ledger's schemas for those kinds are the ones it was
  written against (``SCHEMA_FINGERPRINT``; a test fails when they change);
- a property test feeds both paths valid entries and mutated lines and requires the
  same answer (``tests/audit/test_decoder.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from audit.errors import LineError
from ledger.currencies import ISO_4217
from ledger.entries import (
    BODIES,
    ENTRY_VERSION,
    MAX_AMOUNT,
    MAX_SEQ,
    Entry,
    JsonValue,
    parse_entry,
)
from ledger.errors import EntryError

FAST_KINDS = ("donation.received", "allocation.made")


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
"""``schema_fingerprint()`` of the ledger this fast path was written against."""

FAST_PATH_AVAILABLE = schema_fingerprint() == SCHEMA_FINGERPRINT
"""False when ``ledger.entries`` changed under the fast path: every line takes the
ledger's own path then (correct, slower), and the audit says so."""


def decode_line(line: bytes) -> Entry:
    """Decode one line the ledger's way: JSON, ``parse_entry``, canonical bytes compared.

    Raises:
        LineError: ``json`` (not JSON), ``entry`` (not a valid entry, the field named) or
            ``canonical`` (valid, but not byte for byte its RFC 8785 form).
    """
    try:
        obj = json.loads(line)
    except UnicodeDecodeError as error:
        raise LineError("json", f"not UTF-8 at byte {error.start}") from None
    except ValueError as error:
        raise LineError("json", f"not JSON: {error}") from None
    try:
        entry = parse_entry(obj)
    except EntryError as error:
        raise LineError("entry", f"not a valid entry: {error}") from None
    canonical = entry.leaf_bytes
    if canonical != line:
        at = next(
            (i for i, (a, b) in enumerate(zip(canonical, line, strict=False)) if a != b),
            min(len(canonical), len(line)),
        )
        raise LineError(
            "canonical",
            f"a valid entry, but not in RFC 8785 canonical form: from byte {at} the line "
            f"has {line[at : at + 24]!r}, the canonical form {canonical[at : at + 24]!r}",
        )
    return entry


# -- the fast path ------------------------------------------------------------------------
#
# In two steps, which an audit may run in different processes (audit/journal.py):
#
# 1. ``shapes``: whether each line is, byte for byte, the canonical form of a donation or
#    an allocation whose every field matches its pattern (one strict expression a kind,
#    with the ranges of amounts and of the parts of a date);
# 2. reading the fields of a line of that shape with a lenient expression (the same
#    keys in the same order, ``[^"]*`` for each string), then the values an expression
#    cannot check (``fast_values``): ``seq`` at most ``MAX_SEQ``, an ISO 4217 currency,
#    a ``paid_at`` on the 29th to 31st that its month has.
#
# On a line of the strict shape the lenient expression matches the same line with the
# same groups: a strict string field holds no '"', so ``[^"]*`` stops at its closing
# quote. It costs a third of the strict one, which is what lets the strict step move
# to another process.

OTHER = 0
DONATION = 1
ALLOCATION = 2
"""What ``shapes`` says of a line: take ``decode_line``, or read it as that kind."""

_ID_MAX = 40
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


def real_instant(moment: str) -> bool:
    """Whether a timestamp of the strict shape is a real instant (it is, up to the 28th)."""
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

    ``audit.journal`` makes the same checks inline, cheapest first.
    """
    if seq > MAX_SEQ:
        return False
    if currency is None or paid_at is None:
        return True
    return currency in ISO_4217 and real_instant(paid_at)


def shapes(lines: Sequence[bytes]) -> bytes:
    """For each line, ``DONATION`` or ``ALLOCATION`` when it is of that shape, else ``OTHER``.

    A line of a shape is byte for byte the canonical form of an entry of that kind
    whose fields all match their patterns; read its fields with ``DONATION_FIELDS``
    or ``ALLOCATION_FIELDS``, and it is a valid entry when ``fast_values`` says so.
    All ``OTHER`` when the fast path is unavailable.
    """
    if not FAST_PATH_AVAILABLE:
        return bytes(len(lines))
    donation = _DONATION_SHAPE.fullmatch
    allocation = _ALLOCATION_SHAPE.fullmatch
    return bytes(
        [
            DONATION if donation(line) else ALLOCATION if allocation(line) else OTHER
            for line in lines
        ]
    )


# -- the same two steps in C -----------------------------------------------------------------
#
# ``audit._scan`` (audit/_scan.c, ADR 0015) finds the shapes of a whole block and reads
# the fields of its donation and allocation lines in one call, with the answers of the
# expressions above (tests/audit/test_scan.py holds it to them). It is built on install
# when a C compiler is there; without it, or when it was written against other ledger
# constants, the expressions do the work.

try:
    from audit import _scan
except ImportError:  # built without a C compiler
    _scan = None  # type: ignore[assignment]

Scanned = tuple[bytes, bytes, tuple[list[Any], ...], tuple[list[Any], ...]]
"""What ``scan`` gives for a block: shapes, line starts, donation and allocation columns."""


def _scanner_available() -> bool:
    return (
        _scan is not None
        and FAST_PATH_AVAILABLE
        and _scan.ENTRY_VERSION == ENTRY_VERSION
        and 10 ** (_scan.AMOUNT_DIGITS - 1) == MAX_AMOUNT
        and _scan.SEQ_DIGITS == _SEQ_DIGITS
        and _scan.ID_MAX == _ID_MAX
    )


SCANNER_AVAILABLE = _scanner_available()
"""Whether ``scan`` can read blocks: ``audit._scan`` is built and agrees with the ledger."""


def scan(block: bytes) -> Scanned:
    """The shapes of a block's lines and the fields of those of a shape, in one call.

    The lines are what lies between the block's newlines. Requires ``SCANNER_AVAILABLE``.

    Returns:
        ``(shapes, starts, donations, allocations)``: ``shapes`` as ``shapes`` gives
        them; ``starts``, native uint32, the offset of each line and then
        ``len(block) + 1``; ``donations``, one column a group of ``DONATION_BOOKED``
        (``amount`` and ``seq`` as ints, a null ``project_id`` as None, the values
        repeated down a column interned), an item a donation line in order;
        ``allocations`` likewise with ``ALLOCATION_FIELDS``.
    """
    if _scan is None:
        raise RuntimeError("audit._scan is not built")
    return _scan.scan(block)


_fromisoformat = datetime.fromisoformat
_intern = sys.intern
_new = object.__new__


def _construct(seq: int, kind: str, at: str, actor: str, body: dict[str, JsonValue]) -> Entry:
    return Entry(seq=seq, kind=kind, at=at, actor=actor, body=body)


def _assemble(seq: int, kind: str, at: str, actor: str, body: dict[str, JsonValue]) -> Entry:
    # A frozen dataclass's __init__ sets each field through object.__setattr__: 2.5 µs,
    # a tenth of an audit's time per entry. The fields are validated above and Entry
    # has no __post_init__, so filling the instance dict builds the same Entry (``sig``,
    # ``v`` and the caches keep their class defaults); _entry_factory checks that it does.
    entry: Entry = _new(Entry)
    fields = entry.__dict__
    fields["seq"] = seq
    fields["kind"] = kind
    fields["at"] = at
    fields["actor"] = actor
    fields["body"] = body
    return entry


def _entry_factory() -> Callable[[int, str, str, str, dict[str, JsonValue]], Entry]:
    probe: tuple[int, str, str, str, dict[str, JsonValue]] = (
        7,
        "allocation.made",
        "2026-11-26T10:00:00.000Z",
        "platform",
        {"allocation_id": "al_1", "donation_id": "dn_1", "disbursement_id": "db_1", "amount": 1},
    )
    try:
        assembled = _assemble(*probe)
        same = assembled == _construct(*probe) and assembled.leaf_bytes == (
            _construct(*probe).leaf_bytes
        )
    except (AttributeError, TypeError):  # e.g. Entry got __slots__
        same = False
    return _assemble if same else _construct


_entry = _entry_factory()


def decode_fast(line: bytes) -> Entry | None:
    """The entry of a canonical donation or allocation line, or None to take ``decode_line``.

    Both steps of the fast path, as an audit takes them. Never raises, and never
    accepts a line that ``decode_line`` would refuse.
    """
    shape = shapes([line])[0]
    if shape == OTHER:
        return None
    text = line.decode("latin-1")
    if shape == DONATION:
        m = DONATION_FIELDS.match(text)
        assert m is not None  # the strict shape is a case of the lenient one
        (actor, at, amount, channel, charity, currency, donation, commitment, paid_at, ref,
         project, seq) = m.groups()  # fmt: skip
        number = int(seq)
        if not fast_values(number, currency, paid_at):
            return None
        # The books keep these for every donation: one shared copy of each repeated
        # value instead of a million (a fifth of the audit's memory at 1M entries).
        return _entry(
            number,
            "donation.received",
            at,
            _intern(actor),
            {
                "donation_id": donation,
                "charity_id": _intern(charity),
                "project_id": None if project is None else _intern(project),
                "amount": int(amount),
                "currency": _intern(currency),
                "channel": _intern(channel),
                "paid_at": paid_at,
                "donor_commitment": commitment,
                "payment_ref_hash": ref,
            },
        )
    m = ALLOCATION_FIELDS.match(text)
    assert m is not None
    actor, at, allocation, amount, disbursement, donation, seq = m.groups()
    number = int(seq)
    if not fast_values(number):
        return None
    return _entry(
        number,
        "allocation.made",
        at,
        _intern(actor),
        {
            "allocation_id": allocation,
            "donation_id": donation,
            "disbursement_id": disbursement,
            "amount": int(amount),
        },
    )


def decoder(*, fast: bool = True) -> Callable[[bytes], Entry]:
    """The line decoder an audit uses: the fast path first when allowed and available.

    Args:
        fast: allow the fast path (``--no-fast-path`` turns it off).

    Returns:
        A function from a line to its entry, raising ``LineError`` for a bad line.
    """
    if not (fast and FAST_PATH_AVAILABLE):
        return decode_line

    def decode(line: bytes) -> Entry:
        entry = decode_fast(line)
        return entry if entry is not None else decode_line(line)

    return decode
