"""The ledger's exceptions: one root, leaf errors that keep their evidence."""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error the ledger raises."""


class NotFoundError(LedgerError, LookupError):
    """No such charity, project, donation, disbursement, allocation, entry or page.

    The one not-found error of the code base: the store's read model raises it, the
    explorer answers it with its not-found page and the API with a 404 problem.

    Attributes:
        what: the kind of thing asked for, e.g. ``donation``.
        key: the key it was asked for by.
    """

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"no {what} {key!r}")
        self.what = what
        self.key = key


class EntryError(LedgerError, ValueError):
    """An entry (or a request to make one) is invalid.

    Attributes:
        field: dotted path of the offending field, e.g. ``body.amount``.
        message: what is wrong with it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AccountingError(EntryError):
    """An entry is well formed but breaks an accounting rule (DESIGN.md §3.2)."""


class MerkleError(LedgerError):
    """Root of the Merkle log's errors."""


class ProofSizeError(MerkleError, ValueError):
    """A proof was asked for, or checked against, sizes that make no sense."""


class ProofShapeError(MerkleError):
    """A proof has the wrong number of hashes for the index and sizes it claims."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"proof has {got} hashes, expected {expected}")
        self.expected = expected
        self.got = got


class RootMismatchError(MerkleError):
    """A proof computes a root other than the one it was checked against."""

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        super().__init__(
            f"root mismatch: expected 0x{expected.hex()}, calculated 0x{calculated.hex()}"
        )
        self.expected = expected
        self.calculated = calculated


class StoreError(LedgerError):
    """Root of the store's errors."""


class IdempotencyConflictError(StoreError):
    """An idempotency key was used before with a different request."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different request")
        self.key = key


class IntegrityError(StoreError):
    """The stored journal does not match itself: the first bad ``seq`` is named."""

    def __init__(self, seq: int, check: str, detail: str) -> None:
        super().__init__(f"seq {seq}: {check}: {detail}")
        self.seq = seq
        self.check = check
        self.detail = detail
