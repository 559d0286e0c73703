"""What an append is made of: drafts, requests and results, as values to batch.

``Store.append`` and the write sequencer (ADR 0017) take ``AppendRequest`` values; the
store answers each with an ``AppendResult`` (or the error that refused it), and a batch
with a ``BatchOutcome``.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from ledger.entries import Entry, JsonValue, canonical_bytes, format_at
from ledger.errors import EntryError

_ID_ALPHABET = string.ascii_lowercase + string.digits
_ID_SPACE = len(_ID_ALPHABET) ** 20
CLOCK_TOLERANCE = timedelta(minutes=2)
"""How far ahead of this host's clock an explicit append time may be (clock skew between
hosts). Journal time never goes back, so one entry stamped ahead would drag every later
entry into the future with it."""


def check_not_ahead(at: datetime | None, now: datetime | None = None) -> None:
    """Refuse an append time ahead of the clock.

    Args:
        at: the requested append time (None: now, always fine).
        now: the real clock (default: ``datetime.now(UTC)``).

    Raises:
        EntryError: ``at`` is more than ``CLOCK_TOLERANCE`` after ``now``, or naive.
    """
    if at is None:
        return
    if at.tzinfo is None:
        raise EntryError("at", "must be timezone-aware")
    now = now or datetime.now(UTC)
    if at > now + CLOCK_TOLERANCE:
        raise EntryError(
            "at",
            f"{format_at(at)} is ahead of the clock ({format_at(now)}); "
            "an entry cannot be recorded in the future",
        )


def new_id(prefix: str) -> str:
    """A fresh random id such as ``dn_k3v0…`` (20 characters of [a-z0-9], ~103 bits)."""
    # One draw from the OS for all 20 characters (not one a character): the same uniform
    # choice among 36**20 ids.
    return id_of_number(prefix, secrets.randbelow(_ID_SPACE))


def id_of_number(prefix: str, number: int) -> str:
    """The id of the form ``new_id`` makes for ``number`` (taken modulo 36**20): a signed
    request's ids are derived from its nonce this way (ADR 0037)."""
    characters = []
    for _ in range(20):
        number, digit = divmod(number, 36)
        characters.append(_ID_ALPHABET[digit])
    return prefix + "_" + "".join(characters)


@dataclass(frozen=True)
class Draft:
    """An entry to append: its kind, its body and who is accountable for it."""

    kind: str
    body: Mapping[str, Any]
    actor: str = "platform"
    sig: str | None = None
    """The charity's EIP-712 signature of the entry (ADR 0037), checked before the append."""


@dataclass(frozen=True)
class FifoAllocation:
    """Fund a disbursement from the oldest unallocated donations (DESIGN.md §3.2).

    Expanded inside the append lock into ``allocation.made`` entries, so the choice
    is made on the books exactly as they stand when the entries are written.
    """

    disbursement_id: str
    actor: str = "platform"


@dataclass(frozen=True)
class MatchDonation:
    """Match a donation of the same request from every open pool whose rules allow it.

    Expanded inside the append lock into ``match.made`` entries (ADR 0040), so each
    pool's remaining total and each payer's matches are read from the books exactly as
    they stand when the entries are written: no pool is ever over-spent, however many
    donations race for it.

    Attributes:
        donation_id: the donation (an earlier draft of the same request).
        payer_key: HMAC-SHA256 of the payer's reference under the deployment's key
            (``ledger.digests.payer_key``); secret, never stored: each pool's
            ``payer_hash`` is derived from it.
    """

    donation_id: str
    payer_key: bytes = field(repr=False)
    actor: str = "platform"


Request = Draft | FifoAllocation | MatchDonation


@dataclass(frozen=True)
class AppendRequest:
    """One caller's append, as ``Store.append`` takes it: a value, to batch with others."""

    requests: Sequence[Request]
    idempotency_key: str | None = None
    request_hash: bytes | None = None
    at: datetime | None = None
    alongside: Callable[[Connection, list[Entry]], None] | None = None
    rows: Sequence[tuple[Table, Mapping[str, Any]]] = ()


@dataclass(frozen=True)
class AppendResult:
    """What an append wrote; ``replayed`` when an idempotency key returned an earlier result."""

    entries: list[Entry]
    replayed: bool = False

    @property
    def first_seq(self) -> int:
        return self.entries[0].seq


@dataclass(frozen=True)
class CheckedRequest(AppendRequest):
    """A request ``Store.check`` validated: its drafts normalized, its request hash set."""


@dataclass
class BatchOutcome:
    """What ``Store.append_batch`` did: a result or an error per request, and its timings.

    Attributes:
        results: per request, in order: its ``AppendResult`` or the error refusing it.
        size_before: the journal's size when the batch took the lock.
        entries: entries the batch appended (0 after a fallback: see ``fell_back``).
        fell_back: the transaction failed before its commit and each request was
            appended on its own instead.
        lock_s: waiting for the append lock.
        build_s: reading the tail, keys and books, and applying the requests.
        write_s: writing entries, nodes, projections, side rows and keys.
        commit_s: the commit (the durable part).
    """

    results: list[AppendResult | Exception | None]
    size_before: int = 0
    entries: int = 0
    fell_back: bool = False
    lock_s: float = 0.0
    build_s: float = 0.0
    write_s: float = 0.0
    commit_s: float = 0.0


def request_hash(requests: Sequence[Request]) -> bytes:
    """What "the same request" means for an idempotency key: a hash of its drafts."""
    described: list[JsonValue] = [
        {"kind": r.kind, "body": dict(r.body), "actor": r.actor}
        if isinstance(r, Draft)
        else {"kind": "allocate.fifo", "disbursement_id": r.disbursement_id, "actor": r.actor}
        if isinstance(r, FifoAllocation)
        else {
            "kind": "match",
            "donation_id": r.donation_id,
            "payer_key": r.payer_key.hex(),
            "actor": r.actor,
        }
        for r in requests
    ]
    return hashlib.sha256(canonical_bytes({"requests": described})).digest()
