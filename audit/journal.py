"""The journal half of the audit: one streaming pass over an export, no chain calls.

Given the export's lines and the checkpoints read from the chain, ``verify_journal``
recomputes every leaf hash and the RFC 6962 tree as it goes (a compact range: the
complete subtrees covering the prefix, O(log n) hashes), takes the root whenever the
prefix reaches a checkpoint's size, keeps the few subtree hashes the consistency
proofs between checkpoints need, decodes every line as an entry, checks the sequence
and the timestamps, and replays the accounting rules through ``ledger.accounting.Books``.
Nothing but the current line is held; the books are what grows (about 300 bytes per
donation).

What each check can pin (DESIGN.md §8): a line that is not a canonical entry, a broken
sequence and an accounting violation name their ``seq``; a tree that recomputes cleanly
but differs from the chain is bounded by the checkpoints, to the range between the last
checkpoint that matches and the first that does not; an earlier export of the auditor's
own names the exact ``seq`` that changed.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from audit.decoder import FAST_PATH_AVAILABLE, decoder
from audit.errors import LineError
from audit.report import Balance, Check, CheckpointResult, Problem
from chain.client import Checkpoint
from ledger.accounting import Books
from ledger.entries import to_hex
from ledger.errors import AccountingError, MerkleError
from ledger.merkle import (
    EMPTY_ROOT,
    LEAF_PREFIX,
    NODE_PREFIX,
    NodeId,
    consistency_plan,
    fold,
    plan_nodes,
    resolve,
    verify_consistency,
)

PROGRESS_EVERY = 1 << 16
"""Lines between progress reports (and between trims of the books' change log)."""


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
    """

    size: int
    root_hash: bytes
    checkpoints: list[CheckpointResult]
    checks: list[Check]
    books: Books
    charities: list[CharityEntry]
    kinds: dict[str, int]
    notes: list[str] = field(default_factory=list)


class _Frontier:
    """The compact range of a growing tree: enough for its root at any point."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[bytes] = []

    def append_line(self, line: bytes) -> None:
        """Add the leaf of ``line``."""
        sha256 = hashlib.sha256
        h = sha256(LEAF_PREFIX + line).digest()
        stack = self.stack
        k = self.size
        while k & 1:
            h = sha256(NODE_PREFIX + stack.pop() + h).digest()
            k >>= 1
        stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        """The root of the leaves so far."""
        return fold(self.stack) if self.stack else EMPTY_ROOT


def _wanted_nodes(checkpoints: Sequence[Checkpoint]) -> dict[int, list[int]]:
    """For each leaf index, the levels of the nodes to keep when that leaf completes them.

    Node ``(level, idx)`` is complete once leaf ``((idx + 1) << level) - 1`` is in.
    """
    nodes: set[NodeId] = set()
    for before, after in itertools.pairwise(checkpoints):
        if 0 < before.tree_size < after.tree_size:
            nodes |= plan_nodes(consistency_plan(before.tree_size, after.tree_size))
    triggers: dict[int, list[int]] = {}
    for level, idx in nodes:
        triggers.setdefault(((idx + 1) << level) - 1, []).append(level)
    return triggers


def _checks() -> dict[str, Check]:
    checks = [
        Check("entries", "every line is a valid v1 entry in RFC 8785 canonical form"),
        Check("sequence", "seq equals the line number: gapless and in order from 0"),
        Check("timestamps", "every 'at' is a real UTC instant, never earlier than the one before"),
        Check("accounting", "every accounting rule of DESIGN §3.2 holds, replayed in order"),
        Check("checkpoints", "every anchored root equals the export's root at its tree size"),
        Check("consistency", "each checkpoint extends the one before (RFC 9162 consistency)"),
    ]
    return {check.name: check for check in checks}


def verify_journal(
    lines: Iterable[bytes],
    checkpoints: Sequence[Checkpoint],
    *,
    earlier: Iterable[bytes] | None = None,
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
) -> JournalFindings:
    """Verify an export against the anchored checkpoints, in one pass.

    Args:
        lines: the export's lines without their newlines, in order (streamed).
        checkpoints: every checkpoint on chain, by index.
        earlier: the auditor's own earlier export (streamed), to name the exact ``seq``
            of a change.
        fast: allow the fast decoding path (``audit.decoder``).
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
        return _verify(lines, checkpoints, earlier=earlier, fast=fast, progress=progress)
    finally:
        if collecting:
            gc.enable()


def _verify(
    lines: Iterable[bytes],
    checkpoints: Sequence[Checkpoint],
    *,
    earlier: Iterable[bytes] | None,
    fast: bool,
    progress: Callable[[int], None] | None,
) -> JournalFindings:
    checks = _checks()
    entries_check, sequence_check = checks["entries"], checks["sequence"]
    timestamps_check, accounting_check = checks["timestamps"], checks["accounting"]
    decode = decoder(fast=fast)
    books = Books()
    apply = books.apply
    charities: list[CharityEntry] = []
    kinds: dict[str, int] = {}
    fromisoformat = datetime.fromisoformat
    sha256 = hashlib.sha256

    ordered = sorted(checkpoints, key=lambda c: c.index)
    sizes = sorted({c.tree_size for c in ordered if c.tree_size > 0})
    size_set = set(sizes)
    roots: dict[int, bytes] = {}
    size_iter = iter(sizes)
    next_size = next(size_iter, -1)
    triggers = _wanted_nodes(ordered)
    trigger_iter = iter(sorted(triggers))
    next_trigger = next(trigger_iter, -1)
    kept: dict[NodeId, bytes] = {}
    stack: list[bytes] = []
    push, pop = stack.append, stack.pop

    old_lines: Iterator[bytes] | None = None if earlier is None else iter(earlier)
    old_tree = _Frontier()
    old_roots: dict[int, bytes] = {}
    earlier_check = Check(
        "earlier_export", "every entry of the auditor's earlier export is unchanged"
    )

    i = -1
    prev_seq = -1
    prev_at = ""
    for i, line in enumerate(lines):
        if i and not i % PROGRESS_EVERY:
            # The store reads these to write what a batch changed; an audit never does.
            books.created.clear()
            books.changed.clear()
            if progress is not None:
                progress(i)

        # The tree: leaf hash, then the complete subtrees it closes.
        leaf = sha256(LEAF_PREFIX + line).digest()
        h = leaf
        if i == next_trigger:
            levels = triggers[i]
            if 0 in levels:
                kept[(0, i)] = h
            k, level = i, 0
            while k & 1:
                h = sha256(NODE_PREFIX + pop() + h).digest()
                k >>= 1
                level += 1
                if level in levels:
                    kept[(level, i >> level)] = h
            next_trigger = next(trigger_iter, -1)
        else:
            k = i
            while k & 1:
                h = sha256(NODE_PREFIX + pop() + h).digest()
                k >>= 1
        push(h)
        if i + 1 == next_size:
            roots[next_size] = fold(stack)
            next_size = next(size_iter, -1)

        if old_lines is not None:
            old = next(old_lines, None)
            if old is None:
                old_lines = None
            else:
                old_tree.append_line(old)
                if old_tree.size in size_set:
                    old_roots[old_tree.size] = old_tree.root()
                if old != line:
                    earlier_check.add(Problem("earlier_export", _difference(old, line), seq=i))

        try:
            entry = decode(line)
        except LineError as error:
            entries_check.add(Problem("entries", error.detail, seq=i))
            prev_seq = i
            continue

        seq = entry.seq
        if seq != i and seq != prev_seq + 1:
            # Only where the sequence breaks: after one missing entry, every later line
            # is off by one, and that is the same finding.
            if seq == prev_seq:
                detail = (
                    f"seq {seq} appears twice, on lines {i - 1} and {i}: an entry was "
                    "inserted or duplicated"
                )
                sequence_check.add(Problem("sequence", detail, seq=i - 1))
            elif seq > prev_seq:
                missing = (
                    f"entry {prev_seq + 1} is missing"
                    if seq == prev_seq + 2
                    else f"entries {prev_seq + 1}..{seq - 1} are missing"
                )
                detail = f"line {i} holds seq {seq}: {missing}"
                sequence_check.add(Problem("sequence", detail, seq=i))
            else:
                detail = f"line {i} holds seq {seq}, after seq {prev_seq}: out of order"
                sequence_check.add(Problem("sequence", detail, seq=i))
        prev_seq = seq

        at = entry.at
        if at != prev_at:
            if at < prev_at:
                timestamps_check.add(
                    Problem(
                        "timestamps",
                        f"seq {i} is dated {at}, before seq {i - 1} at {prev_at}: "
                        "one of the two was changed",
                        first=i - 1,
                        last=i,
                    )
                )
            try:
                fromisoformat(at)
            except ValueError:
                timestamps_check.add(
                    Problem("timestamps", f"'at' {at} is not a real instant", seq=i)
                )
            prev_at = at

        kind = entry.kind
        kinds[kind] = kinds.get(kind, 0) + 1
        try:
            apply(entry)
        except AccountingError as error:
            accounting_check.add(
                Problem("accounting", f"{kind}: {error.field}: {error.message}", seq=i)
            )
        else:
            if kind == "charity.registered":
                body = entry.body
                charities.append(
                    CharityEntry(
                        charity_id=str(body["charity_id"]),
                        name=str(body["name"]),
                        seq=i,
                        leaf_hash=leaf,
                        signer=None if body["signer"] is None else str(body["signer"]),
                    )
                )

    size = i + 1
    if progress is not None:
        progress(size)
    books.created.clear()
    books.changed.clear()
    root = fold(stack) if stack else EMPTY_ROOT

    results = [
        CheckpointResult(
            index=c.index,
            tree_size=c.tree_size,
            root_hash=c.root_hash,
            anchored_at=c.anchored_at,
            recomputed_root=roots.get(c.tree_size) if c.tree_size <= size else None,
        )
        for c in ordered
    ]
    notes: list[str] = []
    _judge_checkpoints(results, size, checks["checkpoints"], notes)
    _judge_consistency(results, kept, checks["consistency"])
    _summarize(checks, size, results)
    if not FAST_PATH_AVAILABLE and fast:
        notes.append(
            "ledger.entries changed since audit/decoder.py was written: every line took the "
            "ledger's own (slower) path"
        )
    if old_lines is not None:
        _finish_earlier(old_lines, old_tree, old_roots, sizes, size, earlier_check)
    if earlier is not None:
        _judge_earlier(earlier_check, old_tree.size, old_roots, results, size)
    check_list = list(checks.values()) + ([earlier_check] if earlier is not None else [])
    return JournalFindings(
        size=size,
        root_hash=root,
        checkpoints=results,
        checks=check_list,
        books=books,
        charities=charities,
        kinds=kinds,
        notes=notes,
    )


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


def _finish_earlier(
    old_lines: Iterator[bytes],
    old_tree: _Frontier,
    old_roots: dict[int, bytes],
    sizes: list[int],
    size: int,
    check: Check,
) -> None:
    """The earlier export is longer than the current one: hash the rest of it."""
    wanted = set(sizes)
    extra = 0
    for old in old_lines:
        old_tree.append_line(old)
        extra += 1
        if old_tree.size in wanted:
            old_roots[old_tree.size] = old_tree.root()
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
