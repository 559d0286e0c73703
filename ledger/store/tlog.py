"""The journal as C2SP tlog-tiles, read from the stored Merkle nodes (ADR 0031).

c2sp.org/tlog-tiles serves a log as static files: ``tile/<L>/<N>[.p/<W>]`` holds the
hashes of the complete subtrees at Merkle level ``8·L`` with indexes ``256·N …
256·N + W − 1`` (W = 256 for a full tile), and ``tile/entries/<N>[.p/<W>]`` the entries
``256·N …`` themselves, each prefixed by its length as a big-endian uint16.

Nothing is hashed to serve them: level 0 is ``entry.leaf_hash`` and every level ``8·L``
is even, so ``merkle_node`` holds it (ADR 0001 keeps the even levels from 2 up). A tile
is one range read on a primary key, at most 256 rows.

Also the log's signed checkpoints (``signed_checkpoint``): the notes served at
``/tlog/checkpoint`` and carried by proof bundles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy.exc
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ledger.entries import Entry
from ledger.errors import EntryError
from ledger.store.tables import ENTRY, NODE, SIGNED_CHECKPOINT
from ledger.tile_paths import TILE_HEIGHT, TILE_WIDTH, tile_path

MAX_TILE_LEVEL = 63
"""The spec's largest ``<L>``; a tile above level 7 covers more than 2**63 entries."""
MAX_ENTRY_BYTES = 0xFFFF
"""An entry bundle prefixes each entry with a uint16: no leaf may be longer."""
_MAX_SEQ_BOUND = 1 << 63
"""Indexes are BIGINT: a tile that starts beyond holds nothing."""

_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_LEVEL = re.compile(r"0|[1-9][0-9]?")


class TilePathError(ValueError):
    """A path that names no tile of the tlog-tiles layout."""


@dataclass(frozen=True)
class TileName:
    """One resource of the layout.

    Attributes:
        level: the tile level ``L``, or None for an entry bundle.
        index: ``N``.
        width: ``W``: 256 for a full tile, 1 … 255 for a partial one.
    """

    level: int | None
    index: int
    width: int

    @property
    def path(self) -> str:
        """The path under the log's prefix (``tile/0/x001/234`` …)."""
        return tile_path(self.level, self.index, self.width)

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def tree_size(self) -> int:
        """The journal's size from which it holds this tile (its last hash's entries)."""
        level = 0 if self.level is None else self.level
        return (self.index * TILE_WIDTH + self.width) << (level * TILE_HEIGHT)


def parse_tile_path(path: str) -> TileName:
    """Read ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]`` (the part after ``tile/``).

    Only the canonical spelling is accepted (no leading ``x000`` group, no leading zero
    in ``L`` or ``W``), so each resource has one URL and one cache entry.

    Raises:
        TilePathError: the path is not one of the layout's.
    """
    parts = path.split("/")
    if not 2 <= len(parts) <= 10:
        raise TilePathError("not a tile path")
    head, rest = parts[0], parts[1:]
    if head == "entries":
        level = None
    elif _LEVEL.fullmatch(head) and int(head) <= MAX_TILE_LEVEL:
        level = int(head)
    else:
        raise TilePathError(f"{head!r} is no tile level (0 to {MAX_TILE_LEVEL}, or entries)")
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        if not _WIDTH.fullmatch(rest[-1]) or int(rest[-1]) >= TILE_WIDTH:
            raise TilePathError("a partial tile's width is 1 to 255")
        width = int(rest[-1])
        rest = [*rest[:-2], rest[-2].removesuffix(".p")]
    if not rest or len(rest) > 7:
        raise TilePathError("not a tile index")
    if not all(_GROUP.fullmatch(g) for g in rest[:-1]) or not _LAST.fullmatch(rest[-1]):
        raise TilePathError("a tile index is groups of three digits, all but the last x-prefixed")
    if len(rest) > 1 and rest[0] == "x000":
        raise TilePathError("a tile index has no leading zero group")
    index = int("".join(g.removeprefix("x") for g in rest))
    return TileName(level, index, width)


def check_bundle_fits(entry: Entry, field: str) -> None:
    """Refuse an entry too long for an entry bundle's uint16 length prefix.

    No entry that validates is near the limit today (the longest, a disbursement with 50
    evidence items and the longest texts, is under a third of it); this keeps a future
    kind from writing an entry the tiles could not serve.

    Raises:
        EntryError: the entry's canonical bytes are longer than ``MAX_ENTRY_BYTES``.
    """
    size = len(entry.leaf_bytes)
    if size > MAX_ENTRY_BYTES:
        raise EntryError(
            field,
            f"the entry would be {size:,} bytes long; a journal entry is at most "
            f"{MAX_ENTRY_BYTES:,} bytes (the tlog-tiles entry bundles' limit): shorten it",
        )


class Tiles:
    """Tiles and entry bundles of the journal, read from its stored Merkle nodes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def read(self, name: TileName) -> bytes | None:
        """The bytes of a tile or entry bundle, or None while the journal has not got them.

        A partial tile is served for any width the journal has reached (its bytes are a
        prefix of the full tile, so they never change); a full one once complete.
        """
        level = 0 if name.level is None else name.level
        first = name.index * TILE_WIDTH
        # The tile's first hash stands for entries from first * 256**level on.
        if level * TILE_HEIGHT >= 63 or first << (level * TILE_HEIGHT) >= _MAX_SEQ_BOUND:
            return None
        last = first + name.width
        with self.engine.connect() as connection:
            if name.level is None:
                rows = connection.execute(
                    select(ENTRY.c.seq, ENTRY.c.leaf)
                    .where(ENTRY.c.seq >= first, ENTRY.c.seq < last)
                    .order_by(ENTRY.c.seq)
                ).all()
                values = [row.leaf.encode("utf-8") for row in rows]
                values = [len(v).to_bytes(2, "big") + v for v in values]
            elif level == 0:
                rows = connection.execute(
                    select(ENTRY.c.seq, ENTRY.c.leaf_hash)
                    .where(ENTRY.c.seq >= first, ENTRY.c.seq < last)
                    .order_by(ENTRY.c.seq)
                ).all()
                values = [bytes(row.leaf_hash) for row in rows]
            else:
                rows = connection.execute(
                    select(NODE.c.idx, NODE.c.hash)
                    .where(
                        NODE.c.level == level * TILE_HEIGHT,
                        NODE.c.idx >= first,
                        NODE.c.idx < last,
                    )
                    .order_by(NODE.c.idx)
                ).all()
                values = [bytes(row.hash) for row in rows]
        if len(values) != name.width:
            return None
        return b"".join(values)


@dataclass(frozen=True)
class SignedCheckpointRecord:
    """A checkpoint signed by the log key.

    Attributes:
        tree_size: entries covered.
        root_hash: the root at ``tree_size``.
        note: the C2SP signed note, exactly as served.
        signed_at: when it was signed.
    """

    tree_size: int
    root_hash: bytes
    note: str
    signed_at: datetime


def _record(row: object) -> SignedCheckpointRecord:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    values["root_hash"] = bytes(values["root_hash"])
    if values["signed_at"].tzinfo is None:  # SQLite keeps no offset; we store UTC
        values["signed_at"] = values["signed_at"].replace(tzinfo=UTC)
    return SignedCheckpointRecord(**values)


class SignedCheckpoints:
    """The ``signed_checkpoint`` table: each tree size signed once, never changed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def latest(self) -> SignedCheckpointRecord | None:
        """The signed checkpoint of the largest tree."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(SIGNED_CHECKPOINT).order_by(SIGNED_CHECKPOINT.c.tree_size.desc()).limit(1)
            ).first()
        return None if row is None else _record(row)

    def get(self, tree_size: int) -> SignedCheckpointRecord | None:
        """The signed checkpoint of that tree size, if one was signed."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(SIGNED_CHECKPOINT).where(SIGNED_CHECKPOINT.c.tree_size == tree_size)
            ).first()
        return None if row is None else _record(row)

    def add(self, tree_size: int, root_hash: bytes, note: str) -> SignedCheckpointRecord:
        """Keep a signed checkpoint; if that size was signed already, the one kept first."""
        values = {
            "tree_size": tree_size,
            "root_hash": root_hash,
            "note": note,
            "signed_at": datetime.now(UTC),
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(SIGNED_CHECKPOINT.insert().values(**values))
        except sqlalchemy.exc.IntegrityError:
            kept = self.get(tree_size)
            if kept is None:
                raise
            return kept
        return SignedCheckpointRecord(**values)  # type: ignore[arg-type]
