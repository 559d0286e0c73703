"""Journal entries, version 1 (DESIGN.md §3.1): validation, canonical form, leaf bytes.

Pure: no I/O. The bodies by kind are in ``ledger.bodies``, the ids, patterns and field
types in ``ledger.vocabulary``; both are re-exported here, where callers take them.
An entry's leaf bytes are its RFC 8785 (JCS) canonical form in UTF-8; its leaf hash is
RFC 6962's SHA-256(0x00 ‖ leaf bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import rfc8785
from pydantic import ValidationError

# Re-exported (``X as X``): every package takes the journal's vocabulary, bodies, hashes
# and hex from here (ADR 0027).
from ledger.bodies import BODIES as BODIES
from ledger.bodies import CHARITY_SIGNED_KINDS as CHARITY_SIGNED_KINDS
from ledger.bodies import CREATED_AS as CREATED_AS
from ledger.bodies import CREATES as CREATES
from ledger.bodies import KINDS as KINDS
from ledger.bodies import MAX_POOL_PROJECTS as MAX_POOL_PROJECTS
from ledger.bodies import AllocationMade as AllocationMade
from ledger.bodies import AllocationReversed as AllocationReversed
from ledger.bodies import Body as Body
from ledger.bodies import CharityRegistered as CharityRegistered
from ledger.bodies import CharitySignerChanged as CharitySignerChanged
from ledger.bodies import DisbursementMade as DisbursementMade
from ledger.bodies import DisbursementVoided as DisbursementVoided
from ledger.bodies import DonationReceived as DonationReceived
from ledger.bodies import DonationRefunded as DonationRefunded
from ledger.bodies import Evidence as Evidence
from ledger.bodies import Kind as Kind
from ledger.bodies import MatcherRegistered as MatcherRegistered
from ledger.bodies import MatchMade as MatchMade
from ledger.bodies import MatchPoolClosed as MatchPoolClosed
from ledger.bodies import MatchPoolOpened as MatchPoolOpened
from ledger.bodies import MatchReversed as MatchReversed
from ledger.bodies import ProjectClosed as ProjectClosed
from ledger.bodies import ProjectOpened as ProjectOpened
from ledger.bodies import ReportPublished as ReportPublished
from ledger.digests import PAYMENT_REF_KEY_SIZE as PAYMENT_REF_KEY_SIZE
from ledger.digests import RECEIPT_SECRET_SIZE as RECEIPT_SECRET_SIZE
from ledger.digests import donor_commitment as donor_commitment
from ledger.digests import from_hex as from_hex
from ledger.digests import payer_key as payer_key
from ledger.digests import payment_ref_hash as payment_ref_hash
from ledger.digests import plain_payment_ref_hash as plain_payment_ref_hash
from ledger.digests import pool_payer_hash as pool_payer_hash
from ledger.digests import to_hex as to_hex
from ledger.errors import EntryError
from ledger.merkle import leaf_hash
from ledger.vocabulary import ACTOR as ACTOR
from ledger.vocabulary import ADDRESS as ADDRESS
from ledger.vocabulary import AT_FORMAT as AT_FORMAT
from ledger.vocabulary import HASH as HASH
from ledger.vocabulary import ID as ID
from ledger.vocabulary import ID_MAX_LENGTH as ID_MAX_LENGTH
from ledger.vocabulary import ID_PATTERNS as ID_PATTERNS
from ledger.vocabulary import ID_PREFIXES as ID_PREFIXES
from ledger.vocabulary import JSON_SAFE_INTEGER as JSON_SAFE_INTEGER
from ledger.vocabulary import MAX_AMOUNT as MAX_AMOUNT
from ledger.vocabulary import MAX_SEQ as MAX_SEQ
from ledger.vocabulary import REPORT_PERIOD as REPORT_PERIOD
from ledger.vocabulary import SIGNATURE as SIGNATURE
from ledger.vocabulary import Address as Address
from ledger.vocabulary import AllocationId as AllocationId
from ledger.vocabulary import Amount as Amount
from ledger.vocabulary import CharityId as CharityId
from ledger.vocabulary import Currency as Currency
from ledger.vocabulary import DisbursementId as DisbursementId
from ledger.vocabulary import DonationId as DonationId
from ledger.vocabulary import Hash as Hash
from ledger.vocabulary import MatcherId as MatcherId
from ledger.vocabulary import Name as Name
from ledger.vocabulary import PoolId as PoolId
from ledger.vocabulary import ProjectId as ProjectId
from ledger.vocabulary import Reason as Reason
from ledger.vocabulary import RegistrationNo as RegistrationNo
from ledger.vocabulary import Text as Text
from ledger.vocabulary import Timestamp as Timestamp
from ledger.vocabulary import format_at as format_at
from ledger.vocabulary import id_spellings as id_spellings
from ledger.vocabulary import parse_at as parse_at
from ledger.vocabulary import parse_rfc3339 as parse_rfc3339
from ledger.vocabulary import registration_key as registration_key
from ledger.vocabulary import thing_of as thing_of

ENTRY_VERSION = 1

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]


def _field_of(error: ValidationError, prefix: str) -> EntryError:
    first = error.errors()[0]
    where = prefix
    for part in first["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    message = first["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return EntryError(where, message)


def validate_body(kind: str, body: Mapping[str, Any]) -> dict[str, JsonValue]:
    """Validate and normalize a body of the given kind.

    Args:
        kind: one of ``KINDS``.
        body: the body as decoded JSON.

    Returns:
        The normalized body (NFC strings, UTC timestamps, lowercase hex) as JSON values.

    Raises:
        EntryError: naming the first offending field, e.g. ``body.amount``.
    """
    model = BODIES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise EntryError("kind", f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if type(body) is not dict:  # a dict needs no check against the Mapping ABC (slower)
        if not isinstance(body, Mapping):
            raise EntryError("body", "must be a JSON object")
        body = dict(body)
    # The model's own validator and serializer, called directly: ``model_validate`` and
    # ``model_dump`` only wrap them, and a giving day validates thousands a second.
    try:
        parsed = model.__pydantic_validator__.validate_python(body)
    except ValidationError as error:
        raise _field_of(error, "body") from None
    dumped: dict[str, JsonValue] = model.__pydantic_serializer__.to_python(parsed, mode="json")
    return dumped


@dataclass(frozen=True)
class Entry:
    """One journal entry. ``body`` is normalized JSON; treat the entry as immutable."""

    seq: int
    kind: str
    at: str
    actor: str
    body: Mapping[str, JsonValue]
    sig: str | None = None
    v: int = ENTRY_VERSION
    _leaf: bytes = field(default=b"", repr=False, compare=False)
    _hash: bytes = field(default=b"", repr=False, compare=False)

    def to_json(self) -> dict[str, JsonValue]:
        """The entry as the JSON object that is hashed."""
        obj: dict[str, JsonValue] = {
            "v": self.v,
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at,
            "actor": self.actor,
            "body": dict(self.body),
        }
        if self.sig is not None:
            obj["sig"] = self.sig
        return obj

    @property
    def leaf_bytes(self) -> bytes:
        """RFC 8785 canonical JSON, UTF-8: the Merkle leaf."""
        if not self._leaf:
            # A validated entry lies in the domain where the sorted, compact encoding is
            # RFC 8785 (see canonical_bytes), so it skips the domain check; the top
            # level is written in its sorted key order (actor, at, body, kind, seq, sig, v).
            # actor, at, kind and sig are validated to plain ASCII that JSON never
            # escapes (letters, digits, ':', '_', '.', '-'), so they are quoted as they are.
            sig = f',"sig":"{self.sig}"' if self.sig is not None else ""
            leaf = b"".join(
                (
                    f'{{"actor":"{self.actor}","at":"{self.at}","body":'.encode(),
                    _encode(self.body if type(self.body) is dict else dict(self.body)),
                    f',"kind":"{self.kind}","seq":{self.seq}{sig},"v":{self.v}}}'.encode(),
                )
            )
            object.__setattr__(self, "_leaf", leaf)
        return self._leaf

    @property
    def leaf_hash(self) -> bytes:
        """RFC 6962 leaf hash of ``leaf_bytes``."""
        if not self._hash:
            object.__setattr__(self, "_hash", leaf_hash(self.leaf_bytes))
        return self._hash


# Within this domain, RFC 8785, orjson's sorted encoding and the standard library's
# json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) agree byte for
# byte (orjson is about ten times faster): keys are ASCII (so code-point order is UTF-16
# order), integers are exact in IEEE 754 doubles (up to JSON_SAFE_INTEGER, so ECMAScript
# prints them as Python does), and all three escape exactly '"', '\\' and the C0 controls,
# with the same short forms and lowercase \u00xx (ADR 0002; property tests hold all three
# equal).


def _encode(value: Mapping[str, JsonValue]) -> bytes:
    """Sorted, compact JSON in UTF-8 (only for values in the domain above)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _in_fast_domain(value: object) -> bool:
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -JSON_SAFE_INTEGER <= value <= JSON_SAFE_INTEGER
    if isinstance(value, dict):
        return all(k.isascii() and _in_fast_domain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_in_fast_domain(v) for v in value)
    return False


def canonical_bytes(obj: Mapping[str, JsonValue]) -> bytes:
    """RFC 8785 canonical form of a JSON object, UTF-8 encoded.

    Entries take orjson's sorted encoding, which produces the same bytes for them (ADR
    0002, and property tests against ``rfc8785``); anything outside that domain goes
    through the ``rfc8785`` package, and so does what orjson refuses in it (nesting
    deeper than its 254 levels).
    """
    if isinstance(obj, dict) and _in_fast_domain(obj):
        try:
            return _encode(obj)
        except orjson.JSONEncodeError:
            pass
    return rfc8785.dumps(obj)


def make_entry(
    kind: str, body: Mapping[str, Any], *, seq: int, at: datetime | str, actor: str
) -> Entry:
    """Build a validated entry.

    Args:
        kind: one of ``KINDS``.
        body: the body as decoded JSON; it is validated and normalized.
        seq: the leaf index this entry will have.
        at: when it is appended (a timezone-aware datetime, or an ``at`` string).
        actor: ``platform`` or ``charity:<charity_id>``.

    Raises:
        EntryError: naming the offending field.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise EntryError("seq", f"must be an integer from 0 to {MAX_SEQ}")
    if not isinstance(actor, str) or not ACTOR.fullmatch(actor):
        raise EntryError("actor", "must be 'platform' or 'charity:<charity_id>'")
    if isinstance(at, datetime):
        try:
            at = format_at(at)
        except (ValueError, OverflowError):
            raise EntryError("at", "must be timezone-aware, years 0001 to 9999 UTC") from None
    elif not isinstance(at, str) or not AT_FORMAT.fullmatch(at):
        raise EntryError("at", "must be UTC RFC 3339 with milliseconds and Z")
    return Entry(seq=seq, kind=kind, at=at, actor=actor, body=validate_body(kind, body))


_ENTRY_KEYS = {"v", "seq", "kind", "at", "actor", "body"}


def parse_entry(obj: Any) -> Entry:
    """Validate a decoded JSON entry (from the journal, an export or a proof bundle).

    The result is normalized; an entry that needed normalizing was not canonical, so
    callers that compare hashes will see the difference.

    Raises:
        EntryError: naming the offending field.
    """
    if not isinstance(obj, Mapping):
        raise EntryError("entry", "must be a JSON object")
    missing = _ENTRY_KEYS - obj.keys()
    if missing:
        raise EntryError(sorted(missing)[0], "is missing")
    extra = obj.keys() - _ENTRY_KEYS - {"sig"}
    if extra:
        raise EntryError(sorted(extra)[0], "is not a field of an entry")
    if type(obj["v"]) is not int or obj["v"] != ENTRY_VERSION:
        raise EntryError("v", f"unsupported entry version {obj['v']!r}")
    sig = obj.get("sig")
    if sig is not None and (not isinstance(sig, str) or not SIGNATURE.fullmatch(sig)):
        raise EntryError("sig", "must be a 65-byte signature as 0x lowercase hex")
    entry = make_entry(obj["kind"], obj["body"], seq=obj["seq"], at=obj["at"], actor=obj["actor"])
    if sig is not None:
        entry = Entry(
            seq=entry.seq, kind=entry.kind, at=entry.at, actor=entry.actor, body=entry.body, sig=sig
        )
    return entry
