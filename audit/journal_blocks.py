"""How the journal pass reads an export: lines into blocks, a scanned block into runs.

``audit.journal`` takes an export a block of lines at a time (``blocks_of`` where it is
given lines, not ``Blocks``); the scanner (``audit.scanner.scan``) gives a block's shapes as
one byte a line and the fields of its donation and allocation lines as columns, and the
pass replays each run of one shape (``RUNS``) from its slice of the columns (``run_of``).
``real_instants`` is the scanner's timestamp check taken a whole column at a time.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from audit.scanner import real_instant


def blocks_of(lines: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``size`` lines at a time, joined by newlines.

    Raises:
        ValueError: a line holds a newline (lines are what is between newlines).
    """
    source = iter(lines)
    for chunk in iter(lambda: list(itertools.islice(source, size)), []):
        block = b"\n".join(chunk)
        if block.count(b"\n") != len(chunk) - 1:
            raise ValueError("a line of the export holds a newline")
        yield block


RUNS = re.compile(b"\x01+|\x02+|\x00+")
"""Runs of lines of one shape in the shapes ``scan`` gives."""
DAY = itemgetter(slice(8, 10))
"""The day of a timestamp the scanner took (above 28: maybe not a real day)."""


def run_of(columns: Sequence[list[Any]], start: int, count: int) -> Sequence[list[Any]]:
    """The items ``start`` to ``start + count`` of each column (the columns themselves when
    that is all of them: the common block, one run of a shape, is not copied)."""
    if start == 0 and count == len(columns[0]):
        return columns
    return [column[start : start + count] for column in columns]


def real_instants(column: Sequence[str], *, ordered: bool = False) -> bool:
    """Whether every timestamp of the scanner's shape in ``column`` is a real instant.

    Up to the 28th every one is (``real_instant``); in a column in order whose first and
    last lie in one month, every day lies between theirs, so the last one's says it.
    """
    if ordered and column[0][:7] == column[-1][:7]:
        if column[-1][8:10] <= "28":
            return True
    elif max(map(DAY, column)) <= "28":
        return True
    return all(map(real_instant, set(column)))
