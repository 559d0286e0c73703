"""``Store.verify``: the stored journal checked against itself, every bad ``seq`` named."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ledger.accounting import Books
from ledger.entries import parse_entry
from ledger.errors import AccountingError, EntryError
from ledger.merkle import leaf_hash, node_hash, parent_level
from ledger.store import projections
from ledger.store.tables import ENTRY, NODE


@dataclass
class Verification:
    """The outcome of ``Store.verify``: every problem found, by ``seq``."""

    size: int
    problems: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        return min(p[0] for p in self.problems) if self.problems else None

    def add(self, seq: int, check: str, detail: str) -> None:
        self.problems.append((seq, check, detail))


def verify_journal(connection: Connection) -> Verification:
    """The checks of ``Store.verify``, on ``connection``."""
    stored_leaves = {
        row.seq: bytes(row.leaf_hash)
        for row in connection.execute(select(ENTRY.c.seq, ENTRY.c.leaf_hash))
    }
    report = Verification(size=0)
    books = Books()
    missing: list[int] = []  # named by the gap; the nodes above them are not blamed too
    expected = 0
    for row in connection.execute(select(ENTRY).order_by(ENTRY.c.seq)):
        while expected < row.seq:
            report.add(expected, "gapless", f"entry {expected} is missing")
            missing.append(expected)
            expected += 1
        expected = row.seq + 1
        leaf = row.leaf.encode("utf-8")
        if stored_leaves.get(row.seq) != leaf_hash(leaf):
            report.add(row.seq, "leaf_hash", "entry does not match its stored leaf hash")
        try:
            entry = parse_entry(json.loads(leaf))
        except (ValueError, EntryError) as error:
            report.add(row.seq, "entry", f"not a valid entry: {error}")
            continue
        if entry.leaf_bytes != leaf:
            report.add(row.seq, "canonical", "entry is not in RFC 8785 canonical form")
        if (entry.seq, entry.kind, entry.actor) != (row.seq, row.kind, row.actor):
            report.add(row.seq, "columns", "seq, kind or actor columns differ from the entry")
        try:
            books.apply(entry)
        except AccountingError as error:
            report.add(row.seq, "accounting", str(error))
    report.size = expected
    for idx in sorted(stored_leaves):
        if idx >= expected:
            report.add(idx, "leaf_hash", "a leaf hash is stored for an entry that does not exist")
    # Each stored node must hash up from the stored nodes one tile (two levels) below
    # it: a node that does not pins the change to its range, without blaming every
    # node above it. (A leaf that no longer matches its entry was named above.)
    below = [stored_leaves.get(i, b"") for i in range(expected)]
    height = 0
    while len(below) > 3:
        height += 2
        middle = parent_level(below)
        count = len(middle) // 2
        level: list[bytes] = [b""] * count
        for row in connection.execute(
            select(NODE.c.idx, NODE.c.hash).where(NODE.c.level == height).order_by(NODE.c.idx)
        ):
            if row.idx >= count:
                report.add(row.idx << height, "merkle_node", f"node ({height}, {row.idx}) is extra")
                continue
            level[row.idx] = bytes(row.hash)
        for idx, stored in enumerate(level):
            first, last = idx << height, ((idx + 1) << height) - 1
            if stored != node_hash(middle[2 * idx], middle[2 * idx + 1]) and not any(
                first <= seq <= last for seq in missing
            ):
                report.add(
                    first,
                    "merkle_node",
                    f"stored node ({height}, {idx}) over entries {first}..{last} "
                    "is not the hash of the stored nodes below it",
                )
        below = level
    for row in connection.execute(
        select(NODE.c.level, NODE.c.idx).where((NODE.c.level > height) | (NODE.c.level % 2 == 1))
    ):
        report.add(row.idx << row.level, "merkle_node", f"node ({row.level}, {row.idx}) is extra")
    live = projections.read_books(connection)
    for difference in projections.diff_books(live, books):
        report.add(report.size, "projection", difference)
    report.problems.sort(key=lambda problem: problem[0])
    return report
