"""The journal half of the audit: one streaming pass over an export, no chain calls.

Given the export's lines and the checkpoints read from the chain, ``verify_journal``
recomputes every leaf hash and the RFC 6962 tree as it goes (``audit.tree``: a block of
leaves at a time, then a compact range of O(log n) hashes), takes the root whenever the
prefix reaches a checkpoint's size, keeps the few subtree hashes the consistency
proofs between checkpoints need, decodes every line as an entry, checks the sequence
and the timestamps, and replays the accounting rules through ``ledger.accounting.Books``.
Lines are taken a block at a time and not held after it; the books are what grows
(about 300 bytes per donation). ``audit.checkpoints`` then judges the roots.

Two ways to read a line, held equal by tests (ADR 0024):

- the fast path, ``audit.scanner``: one call in C reads a whole block, giving the shape
  of every line, the line itself behind the leaf prefix (what its leaf hash hashes), and
  the fields of its donation and allocation lines as columns. A run
  of donation lines that checks out as a whole is replayed at once
  (``Books.receive_donations``); any other line of a shape is replayed on its own from
  its fields (``_Pass._line``), which is where problems are named;
- the reference path, ``audit.decoder.decode_line``: the ledger's own validation, for
  every line the scanner does not take, and for every line where the scanner is not
  built (the findings then say so) or ``fast`` is off.

One process does all of it; the findings do not depend on which path read a line. How
the pass cuts an export into blocks and a scanned block into runs is in
``audit.journal_blocks``; its checks and what it reports, in ``audit.journal_findings``.

What each check can pin (DESIGN.md §8): a line that is not a canonical entry, a broken
sequence and an accounting violation name their ``seq``; a tree that recomputes cleanly
but differs from the chain is bounded by the checkpoints, to the range between the last
checkpoint that matches and the first that does not; an earlier export of the auditor's
own names the exact ``seq`` that changed.
"""

from __future__ import annotations

import gc
import itertools
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import le
from typing import Any, cast

from audit.checkpoints import (
    anchor_limits,
    judge_checkpoints,
    judge_consistency,
    wanted_nodes,
)
from audit.decoder import decode_line
from audit.earlier import EarlierExport
from audit.errors import LineError
from audit.export import Blocks
from audit.journal_blocks import RUNS, blocks_of, real_instants, run_of
from audit.journal_findings import (
    CharityEntry,
    JournalFindings,
    balances,
    journal_checks,
    sequence_problem,
    summarize,
)
from audit.report import CheckpointResult, Problem
from audit.scanner import (
    ALLOCATION,
    DONATION,
    OTHER,
    SCANNER_PROBLEM,
    fast_values,
    scan,
)
from audit.tree import BLOCK, Tree, leaf_hashes, prefixed_leaf_hashes
from chain.ledger_anchor import Checkpoint
from ledger.accounting import Books
from ledger.currencies import ISO_4217
from ledger.entries import Entry
from ledger.errors import AccountingError
from ledger.merkle import EMPTY_ROOT, NodeId, leaf_hash

# What callers have always imported from here; each is defined in its own module.
__all__ = ["CharityEntry", "JournalFindings", "balances", "verify_journal"]

PROGRESS_EVERY = 1 << 16
"""Lines between progress reports (and between trims of the books' change log)."""


def verify_journal(
    lines: Iterable[bytes] | Blocks,
    checkpoints: Sequence[Checkpoint],
    *,
    earlier: Iterable[bytes] | None = None,
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
) -> JournalFindings:
    """Verify an export against the anchored checkpoints, in one pass.

    Args:
        lines: the export's lines without their newlines, in order (streamed), or
            its blocks of whole lines (``Export.blocks()``, cheaper).
        checkpoints: every checkpoint on chain, by index.
        earlier: the auditor's own earlier export (streamed), to name the exact ``seq``
            of a change.
        fast: read lines with the fast path (``audit.scanner``) where it is built;
            False sends every line through the reference path (``--no-fast-path``).
            The findings are the same either way; where the scanner is missing they
            carry a note saying so (``SCANNER_PROBLEM``).
        progress: called with the lines done so far, every ``PROGRESS_EVERY`` lines.

    Returns:
        The findings; nothing raises for a bad journal, every problem is a finding.
    """
    # The books grow by a few objects per entry and none of them form cycles; left on,
    # the cyclic collector rescans all of them again and again (a third of the time at
    # a million entries). It is switched back on when the pass ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Pass(checkpoints, earlier=earlier, fast=fast, progress=progress).run(lines)
    finally:
        if collecting:
            gc.enable()


CHUNK_LINES = BLOCK
"""Lines taken at a time: a block of the tree (about 1 MiB of a journal export)."""


class _Pass:
    """One pass over an export: the state kept between blocks."""

    def __init__(
        self,
        checkpoints: Sequence[Checkpoint],
        *,
        earlier: Iterable[bytes] | None,
        fast: bool,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.checks = journal_checks()
        self.scanner = fast and SCANNER_PROBLEM is None
        self.scanner_missing = fast and SCANNER_PROBLEM is not None
        self.progress = progress
        self.books = Books()
        self.charities: list[CharityEntry] = []
        self.kinds: dict[str, int] = {}
        self.ordered = sorted(checkpoints, key=lambda c: c.index)
        self.sizes = sorted({c.tree_size for c in self.ordered if c.tree_size > 0})
        self.tree = Tree(self.sizes, wanted_nodes(self.ordered))
        self.size = 0
        self.prev_seq = -1
        self.prev_at = ""
        self.limits = anchor_limits(self.ordered)
        self.limit = 0  # the limit of the entries from self.size on
        self.late_flagged = -1  # the last limit a late entry was reported under
        self.earlier = None if earlier is None else EarlierExport(earlier, self.sizes)

    def run(self, source: Iterable[bytes] | Blocks) -> JournalFindings:
        """Go through the export, a block at a time, and judge what was found."""
        blocks = (
            iter(source)
            if isinstance(source, Blocks)
            else blocks_of(source, min(CHUNK_LINES, PROGRESS_EVERY))
        )
        for block in blocks:
            before = self.size
            if self.scanner:
                # The scanner cuts the lines too, each already behind the leaf prefix.
                shaped, leaves, donations, allocations = scan(block)
                self.tree.add(prefixed_leaf_hashes(leaves))
                if self.earlier is not None:
                    self.earlier.compare(block, block.split(b"\n"), before)
                self._replay_scanned(shaped, leaves, donations, allocations)
            else:
                lines = block.split(b"\n")
                self.tree.add(leaf_hashes(lines))
                if self.earlier is not None:
                    self.earlier.compare(block, lines, before)
                for line in lines:
                    self._line(OTHER, None, line)
            self._end_block(before)
        self.tree.finish()
        return self._findings(self.tree.root(), self.tree.roots, self.tree.kept)

    def _replay_scanned(
        self,
        shaped: bytes,
        leaves: list[bytes],
        donations: Sequence[list[Any]],
        allocations: Sequence[list[Any]],
    ) -> None:
        """Check and replay a block as the scanner read it (``scan``: shapes, each line
        behind the leaf prefix, the fields of the lines of a shape)."""
        d = a = 0  # donation and allocation lines so far
        for run in RUNS.finditer(shaped):
            first, end = run.span()
            count = end - first
            shape = shaped[first]
            if shape == DONATION:
                columns = run_of(donations, d, count)
                d += count
                if self._donations(columns):
                    continue
                rows: Iterable[tuple[object, ...]] = zip(*columns, strict=True)
            elif shape == ALLOCATION:
                columns = run_of(allocations, a, count)
                a += count
                if self._allocations(columns):
                    continue
                rows = zip(*columns, strict=True)
            else:
                rows = itertools.repeat((), count)
            for i, row in enumerate(rows, first):
                line = leaves[i][1:]
                self._line(shape, cast("tuple[str, ...]", row) if row else None, line)

    def _end_block(self, before: int) -> None:
        # The store reads these to write what a batch changed; an audit never does.
        self.books.created.clear()
        self.books.changed.clear()
        if self.progress is not None and self.size // PROGRESS_EVERY > before // PROGRESS_EVERY:
            self.progress(self.size)

    def _donations(self, columns: Sequence[Sequence[Any]]) -> bool:
        """Replay a run of donation lines at once, when they all check out; else do nothing.

        ``columns``: as ``audit.scanner.scan`` gives them (``DONATION_COLUMNS``): amount
        and seq as ints, a null project_id as None, and the values repeated down a
        column (actor, channel, charity_id, currency, project_id) interned.

        Returns:
            Whether they were replayed: False sends them to ``_line`` one by one, which
            finds what is wrong (or that nothing is: this only takes the common case).
        """
        (actors, ats, amounts, channels, charities, currencies, donation_ids, paid_ats, projects,
         seqs) = columns  # fmt: skip
        count = len(donation_ids)
        if not count:
            return True
        if not self._in_order(seqs, ats):
            return False
        if not ISO_4217.issuperset(currencies):
            return False
        if not real_instants(paid_ats):  # fast_values
            return False
        if not self.books.receive_donations(
            seqs, actors, donation_ids, charities, projects, amounts, currencies, channels, paid_ats
        ):
            return False
        self.size += count
        self.prev_seq, self.prev_at = seqs[-1], ats[-1]
        self.kinds["donation.received"] = self.kinds.get("donation.received", 0) + count
        return True

    def _in_order(self, seqs: Sequence[int], ats: Sequence[str]) -> bool:
        """Whether a run of lines of a shape, from line ``self.size`` on, passes the sequence
        and timestamps checks as a whole: what ``_line`` checks of each line, at once."""
        i = self.size
        if seqs != list(range(i, i + len(seqs))):  # so none is above MAX_SEQ either
            return False
        if ats[0] < self.prev_at or not all(map(le, ats, ats[1:])):
            return False
        return self._on_time(i, ats) and real_instants(ats, ordered=True)

    def _allocations(self, columns: Sequence[Sequence[Any]]) -> bool:
        """Replay a run of allocation lines, when their sequence and dates check out as a
        whole; else do nothing.

        ``columns``: as ``audit.scanner.scan`` gives them (``ALLOCATION_COLUMNS``). Each
        allocation goes through the books' rules as ``_line`` would take it, and a broken
        rule is a problem named by its ``seq`` as there; only the checks of the sequence
        and the timestamps, which every line of the run passes, are made once for the run.

        Returns:
            Whether they were replayed: False sends them to ``_line`` one by one.
        """
        actors, ats, allocation_ids, amounts, disbursement_ids, donation_ids, seqs = columns
        count = len(seqs)
        if not count:
            return True
        if not self._in_order(seqs, ats):
            return False
        make_allocation = self.books.make_allocation
        for seq, actor, allocation, amount, disbursement, donation in zip(
            seqs, actors, allocation_ids, amounts, disbursement_ids, donation_ids, strict=True
        ):
            try:
                make_allocation(seq, actor, allocation, donation, disbursement, amount)
            except AccountingError as error:
                self.checks["accounting"].add(
                    Problem(
                        "accounting", f"allocation.made: {error.field}: {error.message}", seq=seq
                    )
                )
        self.size += count
        self.prev_seq, self.prev_at = seqs[-1], ats[-1]
        self.kinds["allocation.made"] = self.kinds.get("allocation.made", 0) + count
        return True

    def _line(self, shape: int, row: tuple[str, ...] | None, line: bytes) -> None:
        """Decode, check and replay one line (``row``: its fields, for a line of a shape)."""
        i = self.size
        self.size += 1
        entry: Entry | None = None
        if row is not None and shape == DONATION:
            actor, at, amount, channel, charity, currency, donation, paid_at, project, seq_ = row
            seq = int(seq_)
            if not fast_values(seq, currency, paid_at):
                shape = OTHER  # not a valid entry: decode_line says why
            kind = "donation.received"
        elif row is not None and shape == ALLOCATION:
            actor, at, allocation, amount, disbursement, donation, seq_ = row
            seq = int(seq_)
            if not fast_values(seq):
                shape = OTHER
            kind = "allocation.made"
        if shape == OTHER:
            try:
                entry = decode_line(line)
            except LineError as error:
                self.checks["entries"].add(Problem("entries", error.detail, seq=i))
                self.prev_seq = i
                return
            seq, at, kind = entry.seq, entry.at, entry.kind

        prev_seq, prev_at = self.prev_seq, self.prev_at
        if seq != i and seq != prev_seq + 1:
            # Only where the sequence breaks: after one missing entry, every later line
            # is off by one, and that is the same finding.
            self.checks["sequence"].add(sequence_problem(i, seq, prev_seq))
        self.prev_seq = seq
        if at != prev_at:
            if at < prev_at:
                self.checks["timestamps"].add(
                    Problem(
                        "timestamps",
                        f"seq {i} is dated {at}, before seq {i - 1} at {prev_at}: "
                        "one of the two was changed",
                        first=i - 1,
                        last=i,
                    )
                )
            try:
                datetime.fromisoformat(at)
            except ValueError:
                self.checks["timestamps"].add(
                    Problem("timestamps", f"'at' {at} is not a real instant", seq=i)
                )
            self.prev_at = at
        if self._limit_of(i) < len(self.limits):
            self._check_late(i, at)

        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        books = self.books
        try:
            if shape == DONATION:
                books.receive_donation(
                    seq,
                    actor,
                    donation,
                    charity,
                    sys.intern(project) if project else None,
                    int(amount),
                    sys.intern(currency),
                    sys.intern(channel),
                    paid_at,
                )
            elif shape == ALLOCATION:
                books.make_allocation(seq, actor, allocation, donation, disbursement, int(amount))
            else:
                assert entry is not None
                books.apply(entry)
        except AccountingError as error:
            self.checks["accounting"].add(
                Problem("accounting", f"{kind}: {error.field}: {error.message}", seq=i)
            )
        else:
            if kind == "charity.registered":
                assert entry is not None
                self._registered(entry, line, i)

    def _limit_of(self, i: int) -> int:
        """The index in ``limits`` of the limit on entry ``i`` (``len(limits)``: none)."""
        limits, k = self.limits, self.limit
        while k < len(limits) and limits[k].size <= i:
            k += 1
        self.limit = k
        return k

    def _on_time(self, first: int, ats: Sequence[str]) -> bool:
        """Whether entries ``first``… dated ``ats`` (in order) are within their limits."""
        limits = self.limits
        k, end = self._limit_of(first), first + len(ats)
        while k < len(limits):
            last = min(end, limits[k].size) - 1
            if ats[last - first] > limits[k].latest:
                return False
            if limits[k].size >= end:
                break
            k += 1
        return True

    def _check_late(self, i: int, at: str) -> None:
        """Flag entry ``i`` if it is dated after the block that first anchored it.

        Dates never go back, so the late entries under one checkpoint run from the first
        one to the checkpoint's last: one problem names that range.
        """
        limit = self.limits[self.limit]
        if at <= limit.latest or self.late_flagged == self.limit:
            return
        self.late_flagged = self.limit
        self.checks["timestamps"].add(
            Problem(
                "timestamps",
                f"seq {i} is dated {at}, after checkpoint {limit.index} that covers it was "
                f"anchored ({limit.anchored_at}, its block's time): the journal's clock ran "
                "ahead, or the checkpoint's block is dated wrong",
                first=i,
                last=limit.size - 1,
            )
        )

    def _registered(self, entry: Entry, line: bytes, seq: int) -> None:
        body = entry.body
        self.charities.append(
            CharityEntry(
                charity_id=str(body["charity_id"]),
                name=str(body["name"]),
                seq=seq,
                leaf_hash=leaf_hash(line),
                signer=None if body["signer"] is None else str(body["signer"]),
            )
        )

    def _findings(
        self, root: bytes, roots: dict[int, bytes], kept: dict[NodeId, bytes]
    ) -> JournalFindings:
        size = self.size
        checks = self.checks
        if self.progress is not None and (not size or size % PROGRESS_EVERY):
            self.progress(size)
        results = [
            CheckpointResult(
                index=c.index,
                tree_size=c.tree_size,
                root_hash=c.root_hash,
                anchored_at=c.anchored_at,
                recomputed_root=roots.get(c.tree_size) if c.tree_size <= size else None,
            )
            for c in self.ordered
        ]
        notes: list[str] = []
        judge_checkpoints(results, size, checks["checkpoints"], notes)
        judge_consistency(results, kept, checks["consistency"])
        summarize(checks, size, results)
        if self.scanner_missing:  # loud: the CLI also says it on stderr before the pass
            notes.append(str(SCANNER_PROBLEM))
        check_list = list(checks.values())
        if self.earlier is not None:
            check_list.append(self.earlier.finish(size, results))
        return JournalFindings(
            size=size,
            root_hash=root if size else EMPTY_ROOT,
            checkpoints=results,
            checks=check_list,
            books=self.books,
            charities=self.charities,
            kinds=self.kinds,
            notes=notes,
            scanned=self.scanner,
        )
