"""The hashes a journal entry carries, and hex, their form at the edges (DESIGN.md §3.1).

Pure: no I/O. ``ledger.entries`` re-exports every name here.
"""

from __future__ import annotations

import hashlib
import hmac

RECEIPT_SECRET_SIZE = 16
"""Bytes of a donor's receipt secret."""


def donor_commitment(receipt_secret: bytes, donation_id: str) -> bytes:
    """SHA-256(receipt_secret ‖ donation_id as UTF-8): lets the donor alone claim a donation."""
    if len(receipt_secret) != RECEIPT_SECRET_SIZE:
        raise ValueError(f"a receipt secret has {RECEIPT_SECRET_SIZE} bytes")
    return hashlib.sha256(receipt_secret + donation_id.encode("utf-8")).digest()


PAYMENT_REF_KEY_SIZE = 32
"""Bytes of the deployment's payment reference key (ADR 0016)."""


def payment_ref_hash(payment_ref: str, key: bytes) -> bytes:
    """HMAC-SHA256 of the payment channel's reference (UTF-8) under the deployment's key.

    References follow guessable formats (``PAY-20261126-00001234``): a plain hash of one
    falls to a brute force of the format. Keyed, the hash tells nothing without the key,
    which stays out of the journal; whoever holds it (the platform, an auditor it gives
    the key to) checks a reference against the entry (ADR 0016).

    Args:
        payment_ref: the channel's reference, exactly as the channel gave it.
        key: the deployment's secret, ``PAYMENT_REF_KEY_SIZE`` bytes.

    Raises:
        ValueError: for a key of another size.
    """
    if len(key) != PAYMENT_REF_KEY_SIZE:
        raise ValueError(f"a payment reference key has {PAYMENT_REF_KEY_SIZE} bytes")
    return hmac.new(key, payment_ref.encode("utf-8"), hashlib.sha256).digest()


def payer_key(payer_ref: str, key: bytes) -> bytes:
    """The secret a payer's matches are keyed by: HMAC-SHA256 of ``payer:`` and the payment
    channel's payer reference under the deployment's key (ADR 0040). Never stored."""
    if len(key) != PAYMENT_REF_KEY_SIZE:
        raise ValueError(f"a payment reference key has {PAYMENT_REF_KEY_SIZE} bytes")
    return hmac.new(key, b"payer:" + payer_ref.encode("utf-8"), hashlib.sha256).digest()


def pool_payer_hash(payer_key: bytes, pool_id: str) -> bytes:
    """The payer's hash in one matching pool: HMAC-SHA256 of the pool id under ``payer_key``.

    The same payer has the same hash within a pool (its rate and per-day rules are
    checkable from the journal) and unrelated hashes in two pools (ADR 0040).
    """
    return hmac.new(payer_key, pool_id.encode("utf-8"), hashlib.sha256).digest()


def plain_payment_ref_hash(payment_ref: str) -> bytes:
    """SHA-256 of a reference: the ``payment_ref_hash`` of entries written before ADR 0016."""
    return hashlib.sha256(payment_ref.encode("utf-8")).digest()


def to_hex(value: bytes) -> str:
    """``0x``-prefixed lowercase hex, the form of every hash at the edges."""
    return "0x" + value.hex()


def from_hex(value: str, size: int = 32) -> bytes:
    """Parse ``0x``-prefixed hex of exactly ``size`` bytes.

    Raises:
        ValueError: when it is not that.
    """
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError("must be 0x-prefixed hex")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise ValueError("is not hex") from None
    if len(raw) != size:
        raise ValueError(f"has {len(raw)} bytes, expected {size}")
    return raw
