"""Lines of a journal export to entries: each must be a valid v1 entry in canonical form.

The authority is ``ledger.entries``: a line is good when ``parse_entry(json.loads(line))``
succeeds and the entry's canonical bytes are the line, byte for byte (``decode_line``).

That costs about 25 µs a line, most of it JSON and pydantic, and a million-entry audit
is mostly donations and allocations. For those two kinds ``read_block`` matches each
line of a block against one regular expression that accepts exactly the canonical form
of an entry of the kind whose fields match their patterns — keys in RFC 8785 order,
amounts and ``seq`` without leading zeros, the ranges of a date's parts — and
``fast_values`` checks what is left (``seq`` at most MAX_SEQ, ISO 4217, a real
``paid_at`` day). Anything they do not accept goes to ``decode_line``, so a bad line
always gets the ledger's own error; ``decode_fast`` is both steps on one line. The fast
path only ever says yes to lines the ledger says yes to:

- it is enabled only while the ledger's schemas for those kinds are the ones it was
  written against (``SCHEMA_FINGERPRINT``; a test fails when they change);
- a property test feeds both paths valid entries and mutated lines and requires the
  same answer (``tests/audit/test_decoder.py``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import re
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

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
# ``read_block`` reads a block of lines (which an audit may do in another process,
# audit/journal.py). For each line it matches one strict expression a kind, which
# accepts exactly the canonical form of an entry of that kind whose every field
# matches its pattern: keys in RFC 8785 order, the ids' and hashes' patterns, amounts
# from 1 to MAX_AMOUNT and ``seq`` without leading zeros, the ranges of a date's parts.
# What an expression cannot say is checked on the fields afterwards (``fast_values``):
# ``seq`` at most MAX_SEQ, an ISO 4217 currency, a ``paid_at`` on the 29th to 31st only
# where its month has that day. A line that fails either goes to ``decode_line``.

OTHER = 0
DONATION = 1
ALLOCATION = 2
"""What ``read_block`` says of a line: read as a donation, as an allocation, or not."""

DONATION_FIELDS = (
    "actor", "at", "amount", "channel", "charity_id", "currency", "donation_id",
    "donor_commitment", "paid_at", "payment_ref_hash", "project_id", "seq",
)  # fmt: skip
"""The fields of a donation row of ``read_block``, in order (``project_id`` empty for null)."""
ALLOCATION_FIELDS = (
    "actor", "at", "allocation_id", "amount", "disbursement_id", "donation_id", "seq"
)  # fmt: skip
"""The fields of an allocation row of ``read_block``, in order."""

_ID = r"[A-Za-z0-9]{1,40}"
_HASH = r"0x[0-9a-f]{64}"
# Matched as any 64 characters but '"', then checked a block at a time (``_hex``): the
# expression engine spends a third of a donation line's time on these 128 characters.
_HASH_SHAPE = r'0x[^"]{64}'
# YYYY-MM-DDTHH:MM:SS.mmmZ with the ranges of each part (year 0000 does not exist); the
# 29th to 31st are checked against their month in Python (``real_instant``).
_AT = (
    r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z"
)
assert str(MAX_AMOUNT) == "1" + "0" * (len(str(MAX_AMOUNT)) - 1), "a power of ten"
_AMOUNT = rf"[1-9][0-9]{{0,{len(str(MAX_AMOUNT)) - 2}}}|{MAX_AMOUNT}"  # 1 to MAX_AMOUNT
_SEQ = r"0|[1-9][0-9]{0,15}"  # bounded above by MAX_SEQ in Python


def _string(name: str, pattern: str) -> str:
    return f'"{name}":"({pattern})"'


def _number(name: str, pattern: str) -> str:
    return f'"{name}":({pattern})'


def _entry_pattern(kind: str, body: list[str]) -> re.Pattern[str]:
    """The canonical form of an entry of ``kind`` without ``sig``, then a newline.

    ASCII only (a line with any other character does not match); matched where a line
    starts in a block of lines decoded as Latin-1, one character a byte.
    """
    pattern = (
        r"\{"
        + ",".join(
            [
                _string("actor", f"platform|charity:ch_{_ID}"),
                _string("at", _AT),
                r'"body":\{' + ",".join(body) + r"\}",
                f'"kind":"{re.escape(kind)}"',
                _number("seq", _SEQ),
                f'"v":{ENTRY_VERSION}',
            ]
        )
        + r"\}(?=\n)"
    )
    return re.compile(pattern, re.ASCII)


_DONATION = _entry_pattern(
    "donation.received",
    [
        _number("amount", _AMOUNT),
        _string("channel", "[a-z][a-z0-9_]{0,31}"),
        _string("charity_id", f"ch_{_ID}"),
        _string("currency", "[A-Z]{3}"),
        _string("donation_id", f"dn_{_ID}"),
        _string("donor_commitment", _HASH_SHAPE),
        _string("paid_at", _AT),
        _string("payment_ref_hash", _HASH_SHAPE),
        f'"project_id":(?:"(pr_{_ID})"|null)',
    ],
)
_ALLOCATION = _entry_pattern(
    "allocation.made",
    [
        _string("allocation_id", f"al_{_ID}"),
        _number("amount", _AMOUNT),
        _string("disbursement_id", f"db_{_ID}"),
        _string("donation_id", f"dn_{_ID}"),
    ],
)
_fromisoformat = datetime.fromisoformat
_NOT_HEX = str.maketrans(dict.fromkeys("0123456789abcdef"))
_HASHES = operator.itemgetter(7, 9)  # donor_commitment, payment_ref_hash


def _hex(hashes: Sequence[str]) -> bool:
    """Whether each of these (``0x`` and 64 characters but '"') is ``0x`` and lowercase hex.

    Without the hex digits, each must leave the x of its 0x and nothing else.
    """
    return "".join(hashes).translate(_NOT_HEX) == "x" * len(hashes)


class BlockRead(NamedTuple):
    """What ``read_block`` found.

    Attributes:
        kinds: for each line, ``DONATION``, ``ALLOCATION`` or ``OTHER``.
        donations: the fields of each donation line, in order (``DONATION_FIELDS``).
        allocations: the fields of each allocation line, in order (``ALLOCATION_FIELDS``).
    """

    kinds: bytes
    donations: list[tuple[str, ...]]
    allocations: list[tuple[str, ...]]


def read_block(text: str, starts: Sequence[int]) -> BlockRead:
    """Read the donations and allocations of a block of lines by their strict shape.

    Args:
        text: the lines, each followed by a newline, decoded as Latin-1.
        starts: where each line starts in ``text``, and one more entry (its length).

    Returns:
        Which lines have the strict shape of a donation or an allocation, and their
        fields; the values are for ``fast_values`` to check. All ``OTHER`` when the
        fast path is unavailable.
    """
    count = len(starts) - 1
    if not FAST_PATH_AVAILABLE:
        return BlockRead(bytes(count), [], [])
    donation, allocation = _DONATION.match, _ALLOCATION.match
    kinds = bytearray(count)
    donations: list[tuple[str, ...]] = []
    allocations: list[tuple[str, ...]] = []
    for n, start in enumerate(itertools.islice(starts, count)):
        m = donation(text, start)
        if m is not None:
            kinds[n] = DONATION
            donations.append(m.groups(""))
            continue
        m = allocation(text, start)
        if m is not None:
            kinds[n] = ALLOCATION
            allocations.append(m.groups())
    if donations and not _hex(list(itertools.chain.from_iterable(map(_HASHES, donations)))):
        # Rare: find the lines whose hashes are not hex, and leave them to decode_line.
        lines = [n for n, kind in enumerate(kinds) if kind == DONATION]
        for n, row in zip(lines, donations, strict=True):
            if not _hex(_HASHES(row)):
                kinds[n] = OTHER
        donations = [row for row in donations if _hex(_HASHES(row))]
    return BlockRead(bytes(kinds), donations, allocations)


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
    """Whether a line of a strict shape with these values is a valid entry.

    Donations give all three, allocations their ``seq``. ``audit.journal`` makes the
    same checks on whole columns of donations at once.
    """
    if seq > MAX_SEQ:
        return False
    if currency is None or paid_at is None:
        return True
    return currency in ISO_4217 and real_instant(paid_at)


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

    ``read_block`` and ``fast_values`` on the one line, as an audit reads it. Never
    raises, and never accepts a line that ``decode_line`` would refuse.
    """
    found = read_block(line.decode("latin-1") + "\n", (0, len(line) + 1))
    if found.kinds[0] == DONATION:
        (actor, at, amount, channel, charity, currency, donation, commitment, paid_at, ref,
         project, seq) = found.donations[0]  # fmt: skip
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
                "project_id": _intern(project) if project else None,
                "amount": int(amount),
                "currency": _intern(currency),
                "channel": _intern(channel),
                "paid_at": paid_at,
                "donor_commitment": commitment,
                "payment_ref_hash": ref,
            },
        )
    if found.kinds[0] == ALLOCATION:
        actor, at, allocation, amount, disbursement, donation, seq = found.allocations[0]
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
    return None


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
