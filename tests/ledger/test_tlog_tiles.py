"""The journal as tlog-tiles, read from the stored nodes: byte for byte what the tree is."""

from __future__ import annotations

import pytest

from ledger.entries import Entry
from ledger.errors import EntryError
from ledger.merkle import MemoryTree
from ledger.store import tlog as tiles_module
from ledger.store.journal import Store
from ledger.store.tlog import (
    MAX_ENTRY_BYTES,
    TileName,
    TilePathError,
    Tiles,
    check_bundle_fits,
    parse_tile_path,
)
from ledger.tile_paths import bundle_widths, encode_index, tile_path
from tests import factories as f


@pytest.mark.parametrize(
    ("index", "encoded"),
    [(0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_index_is_encoded_in_x_groups_of_three_digits(index: int, encoded: str) -> None:
    assert encode_index(index) == encoded
    assert parse_tile_path(f"0/{encoded}") == TileName(0, index, 256)


def test_bundle_widths_cover_the_tree() -> None:
    assert bundle_widths(0) == []
    assert bundle_widths(256) == [256]
    assert bundle_widths(600) == [256, 256, 88]


def test_paths_round_trip() -> None:
    for name in (TileName(0, 1234067, 256), TileName(3, 7, 1), TileName(None, 1000, 255)):
        assert tile_path(name.level, name.index, name.width) == name.path
        assert parse_tile_path(name.path.removeprefix("tile/")) == name
    assert TileName(None, 2, 88).path == "tile/entries/002.p/88"


@pytest.mark.parametrize(
    "path",
    [
        "0",
        "0/",
        "0/00",
        "0/0000",
        "00/000",
        "64/000",
        "-1/000",
        "data/000",
        "0/x000/001",  # not canonical: one resource, one URL
        "0/001/000",  # the x is missing
        "0/x001",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/007",
        "0/000.p/",
        "0/000.p",
        "entries/000.p/1000",
        "0/000/",
        "0/../000",
        "0/x001/x002/x003/x004/x005/x006/x007/008",  # beyond any 64-bit index
        "0/0x1",
        "0/ 001",
    ],
)
def test_malformed_paths_name_no_tile(path: str) -> None:
    with pytest.raises(TilePathError):
        parse_tile_path(path)


@pytest.fixture
def journal_of_600(database_url: str) -> tuple[Store, MemoryTree, list[bytes]]:
    store = Store.open(database_url)
    charity = f.charity()
    charity_id = charity.body["charity_id"]
    store.append([charity, f.project(charity_id, project_id="pr_000000000000project")])
    for _ in range(2):
        store.append([f.donation(charity_id, "pr_000000000000project") for _ in range(299)])
    leaves = list(store.leaves())
    tree = MemoryTree.from_leaf_hashes(store.entry(s).leaf_hash for s in range(len(leaves)))
    return store, tree, leaves


def test_tiles_are_the_trees_hashes_and_bundles_its_leaves(
    journal_of_600: tuple[Store, MemoryTree, list[bytes]],
) -> None:
    store, tree, leaves = journal_of_600
    assert tree.size == 600
    read = Tiles(store.engine).read
    assert read(TileName(0, 0, 256)) == b"".join(tree.levels[0][:256])
    assert read(TileName(0, 1, 256)) == b"".join(tree.levels[0][256:512])
    assert read(TileName(0, 2, 88)) == b"".join(tree.levels[0][512:600])
    assert read(TileName(0, 2, 10)) == b"".join(tree.levels[0][512:522])
    assert read(TileName(1, 0, 2)) == b"".join(tree.levels[8][:2])
    assert read(TileName(1, 0, 1)) == tree.levels[8][0]
    bundle = b"".join(len(leaf).to_bytes(2, "big") + leaf for leaf in leaves[256:512])
    assert read(TileName(None, 1, 256)) == bundle
    assert read(TileName(None, 2, 88)) == b"".join(
        len(leaf).to_bytes(2, "big") + leaf for leaf in leaves[512:]
    )


NOT_YET = [
    TileName(0, 2, 256),  # not complete yet
    TileName(0, 2, 89),  # wider than the journal
    TileName(None, 2, 89),
    TileName(0, 3, 1),
    TileName(1, 0, 3),
    TileName(1, 0, 256),
    TileName(2, 0, 1),
    TileName(7, 0, 1),
    TileName(8, 0, 1),
    TileName(63, 0, 1),
    TileName(0, 10**17, 256),  # beyond BIGINT: nothing, not an error
    TileName(6, 10**17, 255),
]


def test_tiles_the_journal_has_not_got_are_none(
    journal_of_600: tuple[Store, MemoryTree, list[bytes]],
) -> None:
    read = Tiles(journal_of_600[0].engine).read
    assert [name for name in NOT_YET if read(name) is not None] == []


def test_the_longest_entry_today_fits_a_bundle_with_room_to_spare(sqlite_url: str) -> None:
    """A disbursement with 50 evidence items and the longest texts, in 4-byte characters."""
    store = Store.open(sqlite_url)
    charity = f.charity()
    charity_id = charity.body["charity_id"]
    project = f.project(charity_id)
    longest = f.disbursement(
        charity_id,
        project.body["project_id"],
        amount=10**12,
        payee="\U00020000" * 200,
        purpose="\U00020000" * 500,
        evidence=[
            {"sha256": f"0x{i:064x}", "media_type": "a" * 63 + "/" + "b" * 63, "public": False}
            for i in range(50)
        ],
    )
    entries = store.append([charity, project, longest]).entries
    assert len(entries[2].leaf_bytes) < MAX_ENTRY_BYTES // 3


def test_an_entry_too_long_for_a_bundle_is_refused() -> None:
    entry = Entry(seq=0, kind="x", at="2026-12-05T00:00:00.000Z", actor="platform", body={})
    check_bundle_fits(entry, "entries[0]")
    long = Entry(
        seq=0, kind="x", at="2026-12-05T00:00:00.000Z", actor="platform", body={"p": "a" * 65_535}
    )
    with pytest.raises(EntryError, match=r"entries\[0\]: the entry would be 65,6\d\d bytes"):
        check_bundle_fits(long, "entries[0]")


def test_the_store_refuses_at_append_what_no_bundle_could_hold(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No kind can reach the limit today: with a lower one, the append path refuses."""
    store = Store.open(sqlite_url)
    charity = f.charity()
    store.append([charity])
    monkeypatch.setattr(tiles_module, "MAX_ENTRY_BYTES", 300)
    with pytest.raises(EntryError, match=r"entries\[1\]: the entry would be"):
        store.append(
            [f.project(charity.body["charity_id"], title="short"), f.charity(name="n" * 200)]
        )
    assert store.size() == 1
