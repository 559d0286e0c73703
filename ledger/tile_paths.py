"""The C2SP tlog-tiles path layout (ADR 0031). Pure: ints in, strings out.

``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``: ``N`` in zero-padded groups of
three digits, all but the last prefixed ``x`` (1234067 is ``x001/x234/067``); ``.p/<W>``
only for a partial tile of ``W`` < 256 hashes or entries.
"""

from __future__ import annotations

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT


def encode_index(index: int) -> str:
    """``N`` as zero-padded groups of three digits, all but the last prefixed ``x``."""
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def tile_path(level: int | None, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``, or ``tile/entries/<N>[.p/<W>]`` for ``level=None``."""
    where = "entries" if level is None else str(level)
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{where}/{encode_index(index)}{suffix}"


def bundle_widths(tree_size: int) -> list[int]:
    """The widths of the entry bundles of a tree of ``tree_size`` entries, in order."""
    return [min(TILE_WIDTH, tree_size - start) for start in range(0, tree_size, TILE_WIDTH)]
