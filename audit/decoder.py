"""Lines of a journal export to entries, the ledger's way: the audit's reference path.

A line is good when ``parse_entry(json.loads(line))`` succeeds and the entry's canonical
bytes are the line, byte for byte (``decode_line``). The authority is ``ledger.entries``;
this only names what is wrong with a line that is not good. It costs about 15 µs a line,
most of it JSON and pydantic: ``audit.scanner`` is the fast path for the common lines, and
is held equal to this one by tests.
"""

from __future__ import annotations

import json

from audit.errors import LineError
from ledger.entries import Entry, parse_entry
from ledger.errors import EntryError


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
