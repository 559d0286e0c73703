"""Types of audit._scan (audit/_scan.c)."""

from typing import Any

ENTRY_VERSION: int
AMOUNT_DIGITS: int
SEQ_DIGITS: int
ID_MAX: int
INTERFACE: int

def scan(
    block: bytes, /
) -> tuple[bytes, list[bytes], tuple[list[Any], ...], tuple[list[Any], ...]]: ...
