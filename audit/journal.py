"""The journal half of the audit: one streaming pass over an export, no chain calls.

Given the export's lines and the checkpoints read from the chain, ``verify_journal``
recomputes every leaf hash and the RFC 6962 tree as it goes (``audit.tree``: a block of
leaves at a time, then a compact range of O(log n) hashes), takes the root whenever the
prefix reaches a checkpoint's size, keeps the few subtree hashes the consistency
proofs between checkpoints need, decodes every line as an entry, checks the sequence
and the timestamps, and replays the accounting rules through ``ledger.accounting.Books``.
Lines are taken a block at a time and not held after it; the books are what grows
(about 300 bytes per donation). A run of donation lines that checks out as a whole is
replayed at once (``Books.receive_donations``); any other line, and any run that does
not, is replayed one at a time (``_Pass._line``), which is where problems are named.

Where ``audit._scan`` is built (ADR 0015), one call in C gives a block's shapes and the
fields of its donation and allocation lines (``audit.decoder.scan``); without it the
lines are read with ``audit.decoder``'s expressions, with the same findings.

With two processes (ADR 0014), a forked helper hashes each chunk into the tree while
this process reads the lines, checks the sequence and timestamps and replays the books.
Without the scanner, the helper also checks which lines have the strict shape of a
donation or an allocation (``audit.decoder.shapes``), and when it falls behind, this
process checks the shapes of the next chunk itself. Every problem is still found by
this process, in order, so the findings do not depend on the number of processes.

What each check can pin (DESIGN.md §8): a line that is not a canonical entry, a broken
sequence and an accounting violation name their ``seq``; a tree that recomputes cleanly
but differs from the chain is bounded by the checkpoints, to the range between the last
checkpoint that matches and the first that does not; an earlier export of the auditor's
own names the exact ``seq`` that changed.
"""

from __future__ import annotations

import gc
import itertools
import mmap
import multiprocessing
import os
import re
import sys
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from operator import itemgetter, le
from typing import Any, cast

from audit.decoder import (
    ALLOCATION,
    ALLOCATION_FIELDS,
    DONATION,
    DONATION_BOOKED,
    FAST_PATH_AVAILABLE,
    OTHER,
    SCANNER_AVAILABLE,
    decode_line,
    fast_values,
    real_instant,
    scan,
    shapes,
)
from audit.errors import AuditError, LineError
from audit.export import Blocks
from audit.report import Balance, Check, CheckpointResult, Problem
from audit.tree import BLOCK, Tree, leaf_hashes
from chain.client import Checkpoint
from ledger.accounting import Books
from ledger.currencies import ISO_4217
from ledger.entries import Entry, format_at, to_hex
from ledger.errors import AccountingError, MerkleError
from ledger.merkle import (
    EMPTY_ROOT,
    NodeId,
    consistency_plan,
    leaf_hash,
    plan_nodes,
    resolve,
    verify_consistency,
)

PROGRESS_EVERY = 1 << 16
"""Lines between progress reports (and between trims of the books' change log)."""
ANCHOR_TIME_TOLERANCE = timedelta(minutes=5)
"""How much later than the block that first anchored it an entry may be dated: the
journal accepts times up to 2 minutes ahead of its host's clock (``CLOCK_TOLERANCE``),
and the chain's clock is another host's."""


@dataclass(frozen=True)
class AnchorLimit:
    """The latest time entries up to a checkpoint may carry.

    Attributes:
        size: the checkpoint's tree size: the limit holds for the entries before it that
            no smaller checkpoint covers.
        index: the checkpoint's index.
        anchored_at: its block's timestamp, RFC 3339.
        latest: the latest ``at`` allowed (``anchored_at`` plus the tolerance), as in the
            journal (``YYYY-MM-DDTHH:MM:SS.mmmZ``, which compares as text).
    """

    size: int
    index: int
    anchored_at: str
    latest: str


def anchor_limits(checkpoints: Sequence[Checkpoint]) -> list[AnchorLimit]:
    """For each distinct tree size, the time by which its entries were on chain.

    An entry is first anchored by the smallest checkpoint that covers it; of several
    checkpoints that do, the one anchored earliest bounds it.
    """
    limits: list[AnchorLimit] = []
    earliest: Checkpoint | None = None
    for checkpoint in sorted(checkpoints, key=lambda c: (-c.tree_size, c.anchored_at)):
        if checkpoint.tree_size <= 0:
            continue
        if earliest is None or checkpoint.anchored_at < earliest.anchored_at:
            earliest = checkpoint
        if limits and limits[-1].size == checkpoint.tree_size:
            continue
        moment = datetime.fromtimestamp(earliest.anchored_at, UTC)
        limits.append(
            AnchorLimit(
                size=checkpoint.tree_size,
                index=earliest.index,
                anchored_at=format_at(moment),
                latest=format_at(moment + ANCHOR_TIME_TOLERANCE),
            )
        )
    limits.reverse()
    return limits


@dataclass(frozen=True)
class CharityEntry:
    """A ``charity.registered`` entry of the export, for the registry check.

    Attributes:
        charity_id: the charity.
        name: its name.
        seq: the entry's position.
        leaf_hash: the entry's leaf hash, which the registry holds as metadata hash.
        signer: the signer address in the entry (lowercase), or None.
    """

    charity_id: str
    name: str
    seq: int
    leaf_hash: bytes
    signer: str | None


@dataclass
class JournalFindings:
    """What the pass over the export found.

    Attributes:
        size: lines read.
        root_hash: the Merkle root of all of them.
        checkpoints: each checkpoint with the export's root at its size.
        checks: ``entries``, ``sequence``, ``timestamps``, ``accounting``,
            ``checkpoints``, ``consistency`` and, with an earlier export,
            ``earlier_export``.
        books: the replayed books.
        charities: every ``charity.registered`` entry, in order.
        kinds: entries per kind.
        notes: what an auditor should know that is not a failure.
        workers: processes the pass used (``verify_journal``'s ``workers``).
    """

    size: int
    root_hash: bytes
    checkpoints: list[CheckpointResult]
    checks: list[Check]
    books: Books
    charities: list[CharityEntry]
    kinds: dict[str, int]
    notes: list[str] = field(default_factory=list)
    workers: int = 1


def _wanted_nodes(checkpoints: Sequence[Checkpoint]) -> set[NodeId]:
    """The nodes the consistency proofs between consecutive checkpoints are made of."""
    nodes: set[NodeId] = set()
    for before, after in itertools.pairwise(checkpoints):
        if 0 < before.tree_size < after.tree_size:
            nodes |= plan_nodes(consistency_plan(before.tree_size, after.tree_size))
    return nodes


def _checks() -> dict[str, Check]:
    checks = [
        Check("entries", "every line is a valid v1 entry in RFC 8785 canonical form"),
        Check("sequence", "seq equals the line number: gapless and in order from 0"),
        Check(
            "timestamps",
            "every 'at' is a real UTC instant, never earlier than the one before, "
            "never later than the block that anchored it",
        ),
        Check("accounting", "every accounting rule of DESIGN §3.2 holds, replayed in order"),
        Check("checkpoints", "every anchored root equals the export's root at its tree size"),
        Check("consistency", "each checkpoint extends the one before (RFC 9162 consistency)"),
    ]
    return {check.name: check for check in checks}


def default_workers() -> int:
    """Processes an audit uses unless told: two where two CPUs are free to it, else one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return 2 if cpus >= 2 and _FORK is not None else 1


def verify_journal(
    lines: Iterable[bytes] | Blocks,
    checkpoints: Sequence[Checkpoint],
    *,
    earlier: Iterable[bytes] | None = None,
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    scanner: bool = True,
) -> JournalFindings:
    """Verify an export against the anchored checkpoints, in one pass.

    Args:
        lines: the export's lines without their newlines, in order (streamed), or
            its blocks of whole lines (``Export.blocks()``, cheaper).
        checkpoints: every checkpoint on chain, by index.
        earlier: the auditor's own earlier export (streamed), to name the exact ``seq``
            of a change.
        fast: allow the fast decoding path (``audit.decoder``).
        progress: called with the lines done so far, every ``PROGRESS_EVERY`` lines.
        workers: processes to use: 1, or 2 to hash the tree (and check the lines'
            shapes, as far as it keeps up) in a second one; more are not used.
            Default: ``default_workers()``. The findings are the same either way.
        scanner: read blocks with ``audit.decoder.scan`` (in C) where it is built; the
            findings are the same without it (the expressions read the lines then).

    Returns:
        The findings; nothing raises for a bad journal, every problem is a finding.
    """
    # The books grow by a few objects per entry and none of them form cycles; left on,
    # the cyclic collector rescans all of them again and again (a third of the time at
    # a million entries). It is switched back on when the pass ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        audit = _Pass(checkpoints, earlier=earlier, fast=fast, progress=progress, scanner=scanner)
        return audit.run(lines, default_workers() if workers is None else workers)
    finally:
        if collecting:
            gc.enable()


CHUNK_LINES = BLOCK
"""Lines taken at a time: a block of the tree (about 1 MiB of a journal export)."""
_SLOTS = 4
"""Chunks in flight to the helper process (each in its own slot of shared memory)."""
_SLOT_BYTES = 4 << 20
"""A chunk larger than this (lines of 2 KiB and more) goes through the pipe instead."""
_FORK = (
    multiprocessing.get_context("fork")
    if "fork" in multiprocessing.get_all_start_methods()
    else None
)


class HelperError(AuditError):
    """The helper process of a two-process audit failed (the traceback is in the message)."""


def _helper(
    tree: Tree,
    requests: Connection,
    replies: Connection,
    unused: Connection,
    ring: mmap.mmap,
) -> None:
    """The second process: hash every block into the tree; check the shapes when asked.

    Requests, in order: ``(slot, length, validate)`` for a block in the shared ring,
    ``(block, validate)`` for one sent whole, None at the end. One reply a block, in
    order: its ``shapes`` or None; then the tree's ``(size, root, roots, kept)``.
    """
    unused.close()  # the main process's end: when it is gone, recv() ends
    try:
        while (request := requests.recv()) is not None:
            if len(request) == 3:
                slot, length, validate = request
                block = ring[slot * _SLOT_BYTES : slot * _SLOT_BYTES + length]
            else:
                block, validate = request
            lines = block.split(b"\n")
            tree.add(leaf_hashes(lines))
            replies.send(shapes(lines) if validate else None)
        tree.finish()
        replies.send((tree.size, tree.root(), tree.roots, tree.kept))
    except EOFError:  # the main process went away
        return
    except BaseException:
        replies.send(("error", traceback.format_exc()))
        raise


class _HelperProcess:
    """The main process's side of ``_helper``: blocks out through shared memory, replies back."""

    def __init__(self, tree: Tree) -> None:
        assert _FORK is not None
        self._ring = mmap.mmap(-1, _SLOTS * _SLOT_BYTES)
        self._free = list(range(_SLOTS))
        requests_in, requests_out = _FORK.Pipe(duplex=False)
        replies_in, replies_out = _FORK.Pipe(duplex=False)
        # Forked, the helper starts with a copy of the tree as it is now.
        self._process = _FORK.Process(
            target=_helper,
            args=(tree, requests_in, replies_out, requests_out, self._ring),
            name="shanlian-audit-tree",
            daemon=True,
        )
        self._process.start()
        requests_in.close()
        replies_out.close()
        self._requests, self._replies = requests_out, replies_in
        self._slots: deque[int | None] = deque()

    @property
    def in_flight(self) -> int:
        """Blocks sent and not replied to yet."""
        return len(self._slots)

    def send(self, block: bytes, validate: bool) -> None:
        """Hand a block over. Requires fewer than ``_SLOTS`` in flight."""
        if len(block) <= _SLOT_BYTES:
            slot = self._free.pop()
            self._ring[slot * _SLOT_BYTES : slot * _SLOT_BYTES + len(block)] = block
            self._requests.send((slot, len(block), validate))
            self._slots.append(slot)
        else:  # lines of kilobytes: through the pipe
            self._requests.send((block, validate))
            self._slots.append(None)

    def ready(self) -> bool:
        """Whether the reply for the oldest block in flight is there already."""
        return self._replies.poll()

    def receive(self) -> bytes | None:
        """The reply for the oldest block in flight: its shapes, or None."""
        reply = self._receive()
        slot = self._slots.popleft()
        if slot is not None:
            self._free.append(slot)
        return cast("bytes | None", reply)

    def finish(self) -> tuple[int, bytes, dict[int, bytes], dict[NodeId, bytes]]:
        """End the helper; the tree's size, root, roots at the wanted sizes and kept nodes."""
        while self._slots:
            self.receive()
        self._requests.send(None)
        result = self._receive()
        self.close()
        return cast("tuple[int, bytes, dict[int, bytes], dict[NodeId, bytes]]", result)

    def close(self) -> None:
        """Stop the helper (at once, if it is still running) and free what it used."""
        self._requests.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._replies.close()
        self._ring.close()

    def _receive(self) -> object:
        try:
            reply = self._replies.recv()
        except EOFError:
            raise HelperError(
                f"the audit's helper process ended (exit code {self._process.exitcode}); "
                "run with --workers 1"
            ) from None
        if isinstance(reply, tuple) and reply[:1] == ("error",):
            raise HelperError(f"the audit's helper process failed:\n{reply[1]}")
        return reply


def _blocks_of(lines: Iterable[bytes], size: int) -> Iterator[bytes]:
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


_RUNS = re.compile(b"\x01+|\x02+|\x00+")
"""Runs of lines of one shape in ``shapes``."""
_DAY = itemgetter(slice(8, 10))
"""The day of a timestamp of the strict shape (above 28: maybe not a real day)."""


class _Pass:
    """One pass over an export: the main process's state between blocks."""

    def __init__(
        self,
        checkpoints: Sequence[Checkpoint],
        *,
        earlier: Iterable[bytes] | None,
        fast: bool,
        progress: Callable[[int], None] | None,
        scanner: bool = True,
    ) -> None:
        self.checks = _checks()
        self.fast = fast
        self.scanner = fast and scanner and SCANNER_AVAILABLE
        self.scanner_missing = fast and scanner and not SCANNER_AVAILABLE
        self.progress = progress
        self.books = Books()
        self.charities: list[CharityEntry] = []
        self.kinds: dict[str, int] = {}
        self.ordered = sorted(checkpoints, key=lambda c: c.index)
        self.sizes = sorted({c.tree_size for c in self.ordered if c.tree_size > 0})
        self.tree = Tree(self.sizes, _wanted_nodes(self.ordered))
        self.size = 0
        self.prev_seq = -1
        self.prev_at = ""
        self.limits = anchor_limits(self.ordered)
        self.limit = 0  # the limit of the entries from self.size on
        self.late_flagged = -1  # the last limit a late entry was reported under
        self.earlier = earlier
        self.old_lines: Iterator[bytes] | None = None if earlier is None else iter(earlier)
        self.old_tree = Tree(self.sizes)
        self.earlier_check = Check(
            "earlier_export", "every entry of the auditor's earlier export is unchanged"
        )

    def run(self, source: Iterable[bytes] | Blocks, workers: int) -> JournalFindings:
        """Go through the export; with ``workers`` >= 2, from the second block on with a helper."""
        blocks = (
            iter(source)
            if isinstance(source, Blocks)
            else _blocks_of(source, min(CHUNK_LINES, PROGRESS_EVERY))
        )
        helper: _HelperProcess | None = None
        used = 1
        try:
            for block in blocks:
                if helper is None and workers >= 2 and self.size and _FORK is not None:
                    helper = _HelperProcess(self.tree)
                    used = 2
                    self._pipeline(itertools.chain([block], blocks), helper)
                    break
                lines = block.split(b"\n")
                self.tree.add(leaf_hashes(lines))
                self._read(block, lines=lines)
            if helper is not None:
                size, root, roots, kept = helper.finish()
                helper = None
                assert size == self.size, "the helper hashed as many lines as were replayed"
            else:
                self.tree.finish()
                root, roots, kept = self.tree.root(), self.tree.roots, self.tree.kept
        finally:
            if helper is not None:
                helper.close()
        return self._findings(root, roots, kept, used)

    def _pipeline(self, blocks: Iterator[bytes], helper: _HelperProcess) -> None:
        """Replay blocks while the helper hashes the next ones.

        Without the scanner, the helper also checks a block's shapes unless it fell
        behind: when the reply for the block to replay was not there yet twice in a row
        (with up to ``_SLOTS`` blocks in flight), this process checks the next block's
        shapes itself. Which process checks them changes nothing in the findings. With
        the scanner, this process reads every block with it and the helper only hashes.
        """
        in_flight: deque[tuple[bytes, bool]] = deque()
        behind = 0  # times in a row the helper was not done with the block to replay
        for block in blocks:
            if helper.in_flight == _SLOTS:
                behind = behind + 1 if self._replay_oldest(in_flight, helper) else 0
            validate = self.fast and not self.scanner and behind < 2
            helper.send(block, validate)
            in_flight.append((block, validate))
        while in_flight:
            self._replay_oldest(in_flight, helper)

    def _replay_oldest(self, in_flight: deque[tuple[bytes, bool]], helper: _HelperProcess) -> bool:
        """Replay the oldest block in flight; whether the helper was behind with it."""
        block, validated = in_flight.popleft()
        behind = not helper.ready()
        shaped = helper.receive()
        self._read(block, shaped=shaped if validated else None)
        return behind

    def _read(
        self, block: bytes, *, lines: list[bytes] | None = None, shaped: bytes | None = None
    ) -> None:
        """Decode, check and replay a block (``lines``: split already; ``shaped``: its shapes)."""
        if self.scanner:
            self._replay_scanned(block, lines)
            return
        if shaped is None:
            if lines is None:
                lines = block.split(b"\n")
            shaped = shapes(lines) if self.fast else bytes(len(lines))
        self._replay(block, shaped, lines)

    def _replay_scanned(self, block: bytes, lines: list[bytes] | None) -> None:
        """``_replay`` with the scanner: shapes and fields of the whole block in one call."""
        shaped, starts, donations, allocations = scan(block)
        if self.old_lines is not None:
            self._compare_earlier(block, len(shaped), lines)
        offsets = memoryview(starts).cast("I")
        before = self.size
        d = a = 0  # donation and allocation lines so far
        for run in _RUNS.finditer(shaped):
            first, end = run.span()
            count = end - first
            shape = shaped[first]
            if shape == DONATION:
                columns = [column[d : d + count] for column in donations]
                d += count
                if self._donations(columns):
                    continue
                rows: Iterable[tuple[object, ...]] = zip(*columns, strict=True)
            elif shape == ALLOCATION:
                rows = zip(*[column[a : a + count] for column in allocations], strict=True)
                a += count
            else:
                rows = itertools.repeat((), count)
            for i, row in enumerate(rows, first):
                line = block[offsets[i] : offsets[i + 1] - 1]
                self._line(shape, cast("tuple[str, ...]", row) if row else None, line)
        self._end_block(before)

    def _replay(self, block: bytes, shaped: bytes, lines: list[bytes] | None = None) -> None:
        """Decode, check and replay the lines of a block, of the given ``shapes``."""
        if self.old_lines is not None:
            self._compare_earlier(block, len(shaped), lines)
        # A line of a shape is ASCII: its fields are read in the block decoded as Latin-1
        # (one character a byte), from where the line starts.
        text = block.decode("latin-1")
        # The strict shape is a case of the lenient expression: these never return None.
        donation = cast("Callable[[str, int], re.Match[str]]", DONATION_BOOKED.match)
        allocation = cast("Callable[[str, int], re.Match[str]]", ALLOCATION_FIELDS.match)
        before = self.size
        pos = 0
        for run in _RUNS.finditer(shaped):
            first, end = run.span()
            shape = shaped[first]
            if shape == DONATION:
                rows: list[tuple[str, ...]] = []
                starts: list[int] = []
                for _ in range(end - first):
                    m = donation(text, pos)
                    rows.append(m.groups(""))
                    starts.append(pos)
                    pos = m.end() + 1
                if not self._donations(_as_scanned(rows)):
                    for row, start in zip(rows, starts, strict=True):
                        self._line(
                            DONATION, row, block[start : text.find("\n", start) % (len(text) + 1)]
                        )
            elif shape == ALLOCATION:
                for _ in range(end - first):
                    m = allocation(text, pos)
                    self._line(ALLOCATION, m.groups(), block[pos : m.end()])
                    pos = m.end() + 1
            else:
                for _ in range(end - first):
                    line = _line_at(block, text, pos)
                    self._line(OTHER, None, line)
                    pos += len(line) + 1
        self._end_block(before)

    def _end_block(self, before: int) -> None:
        # The store reads these to write what a batch changed; an audit never does.
        self.books.created.clear()
        self.books.changed.clear()
        if self.progress is not None and self.size // PROGRESS_EVERY > before // PROGRESS_EVERY:
            self.progress(self.size)

    def _donations(self, columns: Sequence[Sequence[Any]]) -> bool:
        """Replay a run of donation lines at once, when they all check out; else do nothing.

        ``columns``: as ``audit.decoder.scan`` gives them: the groups of
        ``DONATION_BOOKED``, amount and seq as ints, a null project_id as None, and the
        values repeated down a column (actor, channel, charity_id, currency, project_id)
        interned.

        Returns:
            Whether they were replayed: False sends them to ``_line`` one by one, which
            finds what is wrong (or that nothing is: this only takes the common case).
        """
        (actors, ats, amounts, channels, charities, currencies, donation_ids, paid_ats, projects,
         numbers) = columns  # fmt: skip
        i, count = self.size, len(donation_ids)
        if not count:
            return True
        seqs = numbers
        if seqs != list(range(i, i + count)):  # so none is above MAX_SEQ either
            return False
        if ats[0] < self.prev_at or not all(map(le, ats, ats[1:])):
            return False
        if not self._on_time(i, ats):
            return False
        if not ISO_4217.issuperset(currencies):
            return False
        for column in (ats, paid_ats):  # fast_values, and the 'at' of the timestamps check
            if max(map(_DAY, column)) > "28" and not all(map(real_instant, set(column))):
                return False
        if not self.books.receive_donations(
            seqs, actors, donation_ids, charities, projects, amounts, currencies, channels, paid_ats
        ):
            return False
        self.size += count
        self.prev_seq, self.prev_at = seqs[-1], ats[-1]
        self.kinds["donation.received"] = self.kinds.get("donation.received", 0) + count
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
            self.checks["sequence"].add(_sequence_problem(i, seq, prev_seq))
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

    def _compare_earlier(self, block: bytes, count: int, lines: list[bytes] | None) -> None:
        assert self.old_lines is not None
        old_chunk = list(itertools.islice(self.old_lines, count))
        self.old_tree.add(leaf_hashes(old_chunk))
        if len(old_chunk) < count:
            self.old_lines = None
        elif b"\n".join(old_chunk) == block:
            return
        if lines is None:
            lines = block.split(b"\n")
        for offset, (old, line) in enumerate(zip(old_chunk, lines, strict=False)):
            if old != line:
                self.earlier_check.add(
                    Problem("earlier_export", _difference(old, line), seq=self.size + offset)
                )

    def _findings(
        self, root: bytes, roots: dict[int, bytes], kept: dict[NodeId, bytes], workers: int
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
        _judge_checkpoints(results, size, checks["checkpoints"], notes)
        _judge_consistency(results, kept, checks["consistency"])
        _summarize(checks, size, results)
        if self.scanner_missing and FAST_PATH_AVAILABLE:
            notes.append(
                "audit._scan (the scanner in C) is not built here: the lines were read with "
                "audit.decoder's expressions, two to three times slower; reinstall shanlian "
                "with a C compiler at hand for the faster pass"
            )
        if not FAST_PATH_AVAILABLE and self.fast:
            notes.append(
                "ledger.entries changed since audit/decoder.py was written: every line took "
                "the ledger's own (slower) path"
            )
        earlier_check = self.earlier_check
        if self.old_lines is not None:
            _finish_earlier(self.old_lines, self.old_tree, size, earlier_check)
        self.old_tree.finish()
        if self.earlier is not None:
            _judge_earlier(earlier_check, self.old_tree.size, self.old_tree.roots, results, size)
        check_list = list(checks.values()) + ([earlier_check] if self.earlier is not None else [])
        return JournalFindings(
            size=size,
            root_hash=root if size else EMPTY_ROOT,
            checkpoints=results,
            checks=check_list,
            books=self.books,
            charities=self.charities,
            kinds=self.kinds,
            notes=notes,
            workers=workers,
        )


def _as_scanned(rows: list[tuple[str, ...]]) -> list[list[Any]]:
    """Groups of ``DONATION_BOOKED``, a tuple a line, as columns the way ``scan`` gives them."""
    columns: list[list[Any]] = [list(column) for column in zip(*rows, strict=True)]
    # One shared copy of each repeated value, as the books keep it; "" (no group) is null.
    shared: dict[str, str | None] = {"": None}
    for number in (0, 3, 4, 5, 8):  # actor, channel, charity_id, currency, project_id
        column = columns[number]
        for value in set(column):
            shared.setdefault(value, sys.intern(value))
        columns[number] = list(map(shared.__getitem__, column))
    for number in (2, 9):  # amount, seq
        columns[number] = list(map(int, columns[number]))
    return columns


def _line_at(block: bytes, text: str, start: int) -> bytes:
    """The line of ``block`` (decoded: ``text``) that starts at ``start``."""
    stop = text.find("\n", start)
    return block[start : stop if stop >= 0 else len(text)]


def _sequence_problem(i: int, seq: int, prev_seq: int) -> Problem:
    """Line ``i`` holds ``seq`` after ``prev_seq``: what went wrong."""
    if seq == prev_seq:
        detail = (
            f"seq {seq} appears twice, on lines {i - 1} and {i}: an entry was "
            "inserted or duplicated"
        )
        return Problem("sequence", detail, seq=i - 1)
    if seq > prev_seq:
        missing = (
            f"entry {prev_seq + 1} is missing"
            if seq == prev_seq + 2
            else f"entries {prev_seq + 1}..{seq - 1} are missing"
        )
        return Problem("sequence", f"line {i} holds seq {seq}: {missing}", seq=i)
    detail = f"line {i} holds seq {seq}, after seq {prev_seq}: out of order"
    return Problem("sequence", detail, seq=i)


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


def _judge_checkpoints(
    results: list[CheckpointResult], size: int, check: Check, notes: list[str]
) -> None:
    previous_size = 0
    previous_index: int | None = None
    matched = True
    for result in results:
        if result.outcome == "beyond_export":
            missing = result.tree_size - size
            check.add(
                Problem(
                    "checkpoints",
                    f"checkpoint {result.index} anchors {result.tree_size:,} entries but the "
                    f"export ends after {size:,}: entries {size}..{result.tree_size - 1} "
                    f"({missing:,}) are missing — the journal was truncated (or the export is "
                    "older than the checkpoint: --block reads the chain as it was then)",
                    seq=size,
                )
            )
            break
        if result.outcome == "mismatch" and matched:
            assert result.recomputed_root is not None
            between = (
                f"between checkpoint {previous_index} at size {previous_size:,} and "
                if previous_index is not None
                else "up to "
            )
            check.add(
                Problem(
                    "checkpoints",
                    f"entries {previous_size}..{result.tree_size - 1} ({between}checkpoint "
                    f"{result.index} at size {result.tree_size:,}) do not match the anchored "
                    f"root: the chain holds {to_hex(result.root_hash)}, the export gives "
                    f"{to_hex(result.recomputed_root)}",
                    first=previous_size,
                    last=result.tree_size - 1,
                )
            )
            matched = False
        if result.outcome == "match":
            if not matched:  # only a hash collision could: say so loudly
                check.add(
                    Problem(
                        "checkpoints",
                        f"checkpoint {result.index} matches after an earlier one did not",
                        first=0,
                        last=result.tree_size - 1,
                    )
                )
            previous_size, previous_index = result.tree_size, result.index
    anchored = max((r.tree_size for r in results), default=0)
    if size > anchored:
        notes.append(
            f"entries {anchored}..{size - 1} ({size - anchored:,}) are not anchored yet: only "
            "the checks on the export itself (entries, sequence, timestamps, accounting) "
            "cover them"
        )


def _judge_consistency(
    results: list[CheckpointResult], kept: dict[NodeId, bytes], check: Check
) -> None:
    verified = unverifiable = 0
    for position, (before, after) in enumerate(itertools.pairwise(results)):
        if after.index != before.index + 1 or before.index != position:
            check.add(Problem("consistency", f"checkpoint indexes skip from {before.index}"))
        if after.tree_size <= before.tree_size:
            check.add(
                Problem(
                    "consistency",
                    f"checkpoint {after.index} has tree size {after.tree_size:,}, not more than "
                    f"checkpoint {before.index}'s {before.tree_size:,}",
                )
            )
            continue
        if before.outcome != "match" or after.outcome != "match":
            unverifiable += 1  # the checkpoints check names why
            continue
        try:
            proof = resolve(consistency_plan(before.tree_size, after.tree_size), kept)
            verify_consistency(
                before.tree_size, after.tree_size, before.root_hash, after.root_hash, proof
            )
        except (MerkleError, KeyError) as error:
            check.add(
                Problem(
                    "consistency",
                    f"checkpoint {after.index} does not extend checkpoint {before.index}: {error}",
                    first=before.tree_size,
                    last=after.tree_size - 1,
                )
            )
            continue
        verified += 1
    pairs = max(len(results) - 1, 0)
    check.summary = (
        f"{verified} of {pairs} consecutive pairs verified with a proof from the export"
        + (f"; {unverifiable} not verifiable (see checkpoints)" if unverifiable else "")
    )
    if check.status == "pass" and not verified:
        check.status = "skip"
        if not pairs:
            check.summary = "fewer than two checkpoints: nothing to compare"


def _finish_earlier(old_lines: Iterator[bytes], old_tree: Tree, size: int, check: Check) -> None:
    """The earlier export is longer than the current one: hash the rest of it."""
    extra = 0
    for chunk in iter(lambda: list(itertools.islice(old_lines, CHUNK_LINES)), []):
        old_tree.add(leaf_hashes(chunk))
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


def _judge_earlier(
    check: Check,
    old_size: int,
    old_roots: dict[int, bytes],
    results: list[CheckpointResult],
    size: int,
) -> None:
    vouched = 0
    for result in results:
        if result.tree_size > old_size:
            break
        root = old_roots.get(result.tree_size)
        if root != result.root_hash:
            check.add(
                Problem(
                    "earlier_export",
                    f"the earlier export itself does not match checkpoint {result.index}: it "
                    "is not evidence against the chain",
                    first=0,
                    last=result.tree_size - 1,
                )
            )
            break
        vouched = result.tree_size
    check.summary = (
        f"compared {min(old_size, size):,} entries line by line; the earlier export "
        f"matches the chain up to {vouched:,} entries"
    )


def _summarize(checks: dict[str, Check], size: int, results: list[CheckpointResult]) -> None:
    def problems(check: Check) -> str:
        first = min(check.problems, key=lambda p: p.key)
        count = check.problem_count
        return f"{count:,} problem{'s' if count > 1 else ''}, the first at {first.where}"

    for name in ("entries", "sequence", "timestamps", "accounting"):
        check = checks[name]
        check.summary = problems(check) if check.problem_count else f"{size:,} entries"
    if not size:
        checks["entries"].summary = "the export is empty"
    check = checks["checkpoints"]
    matched = sum(1 for r in results if r.outcome == "match")
    if not results:
        check.status = "skip"
        check.summary = "no checkpoint on chain yet: nothing is anchored"
    elif check.problem_count:
        check.summary = f"{matched} of {len(results)} match; " + problems(check)
    else:
        check.summary = f"all {len(results)} match"


def balances(books: Books) -> tuple[dict[str, list[Balance]], list[Balance]]:
    """Money per charity and in total, per currency, from replayed books.

    Returns:
        ``(by charity id, totals)``; held = received − refunded − allocated.
    """
    rows: dict[tuple[str, str], list[int]] = {}
    for donation in books.donations.values():
        row = rows.setdefault((donation.charity_id, donation.currency), [0, 0, 0, 0])
        row[0] += donation.amount
        row[1] += donation.refunded
        row[2] += donation.allocated
    for disbursement in books.disbursements.values():
        if disbursement.voided:
            continue
        row = rows.setdefault((disbursement.charity_id, disbursement.currency), [0, 0, 0, 0])
        row[3] += disbursement.amount
    by_charity: dict[str, list[Balance]] = {}
    totals: dict[str, list[int]] = {}
    for (charity_id, currency), row in sorted(rows.items()):
        by_charity.setdefault(charity_id, []).append(Balance(currency, *row))
        total = totals.setdefault(currency, [0, 0, 0, 0])
        for n, value in enumerate(row):
            total[n] += value
    return by_charity, [Balance(currency, *row) for currency, row in sorted(totals.items())]
