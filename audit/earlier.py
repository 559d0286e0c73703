"""The auditor's own earlier export, read beside the current one to name exact changes.

A checkpoint mismatch is bounded by the checkpoints around it; an export the auditor
kept from an earlier audit names the exact ``seq`` of every change, provided it matches
the chain itself (else it is not evidence against the chain, and the check says so).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

from audit.report import Check, CheckpointResult, Problem
from audit.tree import BLOCK, Tree, leaf_hashes


class EarlierExport:
    """The ``earlier_export`` check, fed the current export a block at a time."""

    def __init__(self, lines: Iterable[bytes], sizes: Sequence[int]) -> None:
        """Read ``lines`` (the earlier export, streamed) beside the current one.

        Args:
            lines: the earlier export's lines, without newlines.
            sizes: the checkpoints' tree sizes, ascending: its roots are kept there.
        """
        self.lines: Iterator[bytes] | None = iter(lines)
        self.tree = Tree(sizes)
        self.check = Check(
            "earlier_export", "every entry of the auditor's earlier export is unchanged"
        )

    def compare(self, block: bytes, lines: list[bytes], first: int) -> None:
        """Compare the next block of the current export (``lines``, from ``seq`` ``first``)."""
        if self.lines is None:
            return
        count = len(lines)
        old_chunk = list(itertools.islice(self.lines, count))
        self.tree.add(leaf_hashes(old_chunk))
        if len(old_chunk) < count:
            self.lines = None
        elif b"\n".join(old_chunk) == block:
            return
        for offset, (old, line) in enumerate(zip(old_chunk, lines, strict=False)):
            if old != line:
                self.check.add(
                    Problem("earlier_export", _difference(old, line), seq=first + offset)
                )

    def finish(self, size: int, results: list[CheckpointResult]) -> Check:
        """The check, once the current export (``size`` entries) is read.

        Args:
            size: the current export's entries.
            results: every checkpoint, by index: the earlier export must match each one
                it covers.
        """
        check = self.check
        rest = self.lines
        if rest is not None:  # perhaps longer than the current one: hash the rest
            extra = 0
            for chunk in iter(lambda: list(itertools.islice(rest, BLOCK)), []):
                self.tree.add(leaf_hashes(chunk))
                extra += len(chunk)
            if extra:
                check.add(
                    Problem(
                        "earlier_export",
                        f"the earlier export had {size + extra:,} entries, this one ends after "
                        f"{size:,}: entries {size}..{size + extra - 1} were removed",
                        seq=size,
                    )
                )
        self.tree.finish()
        vouched = 0
        for result in results:
            if result.tree_size > self.tree.size:
                break
            if self.tree.roots.get(result.tree_size) != result.root_hash:
                check.add(
                    Problem(
                        "earlier_export",
                        f"the earlier export itself does not match checkpoint {result.index}: "
                        "it is not evidence against the chain",
                        first=0,
                        last=result.tree_size - 1,
                    )
                )
                break
            vouched = result.tree_size
        check.summary = (
            f"compared {min(self.tree.size, size):,} entries line by line; the earlier "
            f"export matches the chain up to {vouched:,} entries"
        )
        return check


def _difference(old: bytes, new: bytes) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
        min(len(old), len(new)),
    )
    start = max(0, at - 16)
    return (
        f"changed since the earlier export, from byte {at}: it had "
        f"{old[start : at + 24]!r}, now {new[start : at + 24]!r}"
    )
