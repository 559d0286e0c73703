"""What the anchored checkpoints say of an export, once its tree is recomputed.

``audit.journal`` hashes the export into its tree, keeping the root at every
checkpoint's size and the nodes the consistency proofs between consecutive checkpoints
are made of (``wanted_nodes``); this module judges them: each anchored root against the
export's (``judge_checkpoints``), each checkpoint against the one before
(``judge_consistency``), and the latest time the entries under each checkpoint may
carry (``anchor_limits``). ``audit.earlier`` judges an auditor's earlier export.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from audit.report import Check, CheckpointResult, Problem
from chain.ledger_anchor import Checkpoint
from ledger.entries import format_at, to_hex
from ledger.errors import MerkleError
from ledger.merkle import NodeId, consistency_plan, plan_nodes, resolve, verify_consistency

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


def wanted_nodes(checkpoints: Sequence[Checkpoint]) -> set[NodeId]:
    """The nodes the consistency proofs between consecutive checkpoints are made of."""
    nodes: set[NodeId] = set()
    for before, after in itertools.pairwise(checkpoints):
        if 0 < before.tree_size < after.tree_size:
            nodes |= plan_nodes(consistency_plan(before.tree_size, after.tree_size))
    return nodes


def judge_checkpoints(
    results: list[CheckpointResult], size: int, check: Check, notes: list[str]
) -> None:
    """Add to ``check`` where the export's roots and the anchored ones part.

    A mismatch is bounded by the last checkpoint that matches and the first that does
    not; a checkpoint beyond the export names where the export ends. Entries beyond the
    last checkpoint get a note.

    Args:
        results: every checkpoint, by index, with the export's root at its size.
        size: the export's entries.
        check: the ``checkpoints`` check.
        notes: the findings' notes.
    """
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


def judge_consistency(
    results: list[CheckpointResult], kept: dict[NodeId, bytes], check: Check
) -> None:
    """Verify each checkpoint extends the one before, with a proof made from the export.

    Args:
        results: every checkpoint, by index, with the export's root at its size.
        kept: the nodes of ``wanted_nodes``, as the export's tree gave them.
        check: the ``consistency`` check, which this also summarizes.
    """
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
