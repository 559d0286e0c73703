"""Journal entries, version 1 (DESIGN.md §3.1): bodies by kind, validation, leaf bytes.

Pure: no I/O. An entry's leaf bytes are its RFC 8785 (JCS) canonical form in UTF-8;
its leaf hash is RFC 6962's SHA-256(0x00 ‖ leaf bytes).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

import rfc8785
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
)

from ledger.currencies import ISO_4217

# Re-exported: callers take the journal's hashes and hex from here too.
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

ENTRY_VERSION = 1
JSON_SAFE_INTEGER = 2**53 - 1
"""Largest integer every JSON parser keeps exact: browsers read numbers as doubles."""
MAX_AMOUNT = 10**12
"""Largest amount in minor units (10^12 fen = ¥10 billion)."""
MAX_SEQ = JSON_SAFE_INTEGER
"""Largest ``seq`` (a tree holds at most ``MAX_SEQ + 1`` entries): a ``seq`` travels in JSON
to the explorer's in-browser verifier, which must read it exactly."""

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]

# The vocabulary of the journal: every package takes these names from here (ADR 0027).
# Patterns are used with fullmatch: in Python, $ also matches before a final newline, and
# \d any Unicode digit.
ID_PREFIXES: Mapping[str, str] = {
    "charity": "ch",
    "project": "pr",
    "donation": "dn",
    "disbursement": "db",
    "allocation": "al",
    # Matching funds (ADR 0040).
    "matcher": "mt",
    "pool": "mp",
}
"""What an id names, and its prefix: ``dn_…`` is a donation. Bodies hold it as ``<thing>_id``."""
ID_MAX_LENGTH = 40
"""Characters after the prefix and ``_``, at most."""
_ID_TAIL = rf"[A-Za-z0-9]{{1,{ID_MAX_LENGTH}}}"
ID_PATTERNS: Mapping[str, re.Pattern[str]] = {
    thing: re.compile(rf"{prefix}_{_ID_TAIL}") for thing, prefix in ID_PREFIXES.items()
}
"""The ids of each thing (``fullmatch``). Ids are case-sensitive: ``dn_ab`` and ``dn_AB`` are
two donations; the platform makes lowercase ones (``ledger.store.journal.new_id``)."""
ID = re.compile(rf"(?:{'|'.join(ID_PREFIXES.values())})_{_ID_TAIL}")
"""Any id of the journal (``fullmatch``)."""
HASH = re.compile(r"0x[0-9a-f]{64}")
"""A SHA-256 digest or a transaction hash as the journal and its JSON write it (``fullmatch``)."""
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
"""An EVM address as accepted (``fullmatch``): either letter case, as EIP-55 checksums mix
them; the journal keeps it lowercase."""
SIGNATURE = re.compile(r"0x[0-9a-f]{130}")
"""A 65-byte signature (``sig``), 0x lowercase hex (``fullmatch``)."""
ACTOR = re.compile(rf"platform|charity:{ID_PATTERNS['charity'].pattern}")
"""Who may be accountable for an entry (``fullmatch``)."""
_AT_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def thing_of(value: str) -> str | None:
    """What an id names (``charity``, ``project``, …) by its form, or None for no id."""
    if not ID.fullmatch(value):
        return None
    prefix = value.partition("_")[0]
    return next(thing for thing, p in ID_PREFIXES.items() if p == prefix)


def id_spellings(text: str) -> list[str]:
    """The ids a typed ``text`` may mean, the exact spelling first.

    Ids are case-sensitive, but people retype the lowercase ids the platform makes from
    a printed receipt in capitals: ``DN_K3V0`` may mean ``dn_K3V0`` or ``dn_k3v0``. Only
    spellings that are ids (``ID``) are given; none when ``text`` is no id in any case.
    """
    candidates = (text, text[:2].lower() + text[2:], text.lower())
    return [spelling for spelling in dict.fromkeys(candidates) if ID.fullmatch(spelling)]


def _anchored(pattern: re.Pattern[str]) -> str:
    """A fullmatch pattern (without alternation) for pydantic's ``Field(pattern=…)``, which
    searches. Written as before ADR 0027: the audit's fast path fingerprints the schemas."""
    if "|" in pattern.pattern:
        raise ValueError(f"{pattern.pattern!r} has an alternation: group it before anchoring")
    return f"^{pattern.pattern}$"


def _text(value: str) -> str:
    """NFC-normalize a string and refuse what cannot be shown or encoded."""
    if value.isascii() and value.isprintable():  # the common case: already NFC, no controls
        if value != value.strip():
            raise ValueError("has leading or trailing white space")
        return value
    normalized = unicodedata.normalize("NFC", value)
    for ch in normalized:
        category = unicodedata.category(ch)
        if category == "Cs":
            raise ValueError("contains a lone surrogate, which is not valid Unicode")
        if category == "Cc" and ch not in "\n\t":
            raise ValueError(f"contains the control character U+{ord(ch):04X}")
    if normalized != normalized.strip():
        raise ValueError("has leading or trailing white space")
    return normalized


def _max_length(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"is {len(value)} characters long, at most {limit} are allowed")
        if not value:
            raise ValueError("must not be empty")
        return value

    return AfterValidator(check)


_RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>[0-9]{2}:[0-9]{2}:(?P<second>[0-9]{2}))"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?P<offset>[Zz]|[+-](?P<hours>[0-9]{2}):(?P<minutes>[0-9]{2}))"
)


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 ``date-time`` (§5.6): full date, full time, an offset required.

    Narrower than ``datetime.fromisoformat``, which also takes ISO 8601's basic and week
    forms, a date alone, a space for ``T`` and offsets with seconds. Fractions beyond
    microseconds are cut, as the journal keeps milliseconds anyway.

    Raises:
        ValueError: naming what is wrong, in words a caller can act on.
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        if _RFC3339.fullmatch(value + "Z"):
            raise ValueError("needs a time zone offset, e.g. 2026-11-26T10:00:00Z")
        raise ValueError(
            "is not an RFC 3339 date-time with an offset, e.g. 2026-11-26T10:00:00Z or "
            "2026-11-26T18:00:00+08:00"
        )
    if match["second"] == "60":
        raise ValueError("is a leap second (:60), which cannot be stored: use :59")
    if match["hours"] is not None and (int(match["hours"]) > 23 or int(match["minutes"]) > 59):
        raise ValueError("has an offset beyond ±23:59")
    fraction = f".{match['fraction'][:6]:0<6}" if match["fraction"] else ""
    offset = "+00:00" if match["offset"] in "Zz" else match["offset"]
    try:
        return datetime.fromisoformat(f"{match['date']}T{match['time']}{fraction}{offset}")
    except ValueError:
        raise ValueError("is not a date and time that exists (year, month, day, hour)") from None


def _timestamp(value: str) -> str:
    """Accept RFC 3339 with an offset; store it as UTC with milliseconds and ``Z``."""
    parsed = parse_rfc3339(value)
    try:
        return format_at(parsed)
    except OverflowError:
        raise ValueError("is outside the years 0001 to 9999 once in UTC") from None


def _lower_hex(value: str) -> str:
    return value.lower()


Text = Annotated[str, Field(strict=True), AfterValidator(_text)]
Name = Annotated[Text, _max_length(200)]
Reason = Annotated[Text, _max_length(500)]
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]
Hash = Annotated[str, Field(strict=True, pattern=_anchored(HASH))]
Timestamp = Annotated[str, Field(strict=True), AfterValidator(_timestamp)]
Address = Annotated[
    str,
    Field(strict=True, pattern=_anchored(ADDRESS)),
    AfterValidator(_lower_hex),
]


def _currency(value: str) -> str:
    if value not in ISO_4217:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


Currency = Annotated[str, Field(strict=True), AfterValidator(_currency)]
CharityId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["charity"]))]
ProjectId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["project"]))]
DonationId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["donation"]))]
DisbursementId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["disbursement"]))]
AllocationId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["allocation"]))]
MatcherId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["matcher"]))]
PoolId = Annotated[str, Field(strict=True, pattern=_anchored(ID_PATTERNS["pool"]))]


class Body(BaseModel):
    """Base of every body: strict, closed, immutable.

    Attributes:
        label: the kind as people read it (English; the explorer's catalog translates it).
        creates: the id field of a thing this kind creates (``donation_id``); None when
            every id of the body refers to something that exists already.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    label: ClassVar[str]
    creates: ClassVar[str | None] = None


class CharityRegistered(Body):
    label = "Charity registered"
    creates = "charity_id"

    charity_id: CharityId
    name: Name
    registration_no: Annotated[Text, _max_length(64)]
    signer: Address | None


class ProjectOpened(Body):
    label = "Project opened"
    creates = "project_id"

    project_id: ProjectId
    charity_id: CharityId
    title: Name
    goal_amount: Amount
    currency: Currency


class DonationReceived(Body):
    label = "Donation received"
    creates = "donation_id"

    donation_id: DonationId
    charity_id: CharityId
    project_id: ProjectId | None
    amount: Amount
    currency: Currency
    channel: Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    paid_at: Timestamp
    donor_commitment: Hash
    payment_ref_hash: Hash


class DonationRefunded(Body):
    label = "Donation refunded"

    donation_id: DonationId
    amount: Amount
    reason: Reason


class Evidence(Body):
    sha256: Hash
    media_type: Annotated[
        str,
        Field(
            strict=True,
            pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$",
        ),
    ]
    public: StrictBool


class DisbursementMade(Body):
    label = "Money disbursed"
    creates = "disbursement_id"

    disbursement_id: DisbursementId
    charity_id: CharityId
    project_id: ProjectId | None
    amount: Amount
    currency: Currency
    payee: Name
    purpose: Reason
    evidence: Annotated[list[Evidence], Field(max_length=50)]


class DisbursementVoided(Body):
    label = "Disbursement voided"

    disbursement_id: DisbursementId
    reason: Reason


class AllocationMade(Body):
    label = "Donation allocated"
    creates = "allocation_id"

    allocation_id: AllocationId
    donation_id: DonationId
    disbursement_id: DisbursementId
    amount: Amount


class AllocationReversed(Body):
    label = "Allocation reversed"

    allocation_id: AllocationId
    reason: Reason


# -- Disclosure (ADR 0039) ------------------------------------------------------------------
REPORT_PERIOD = re.compile(r"[0-9]{4}-Q[1-4]|final")
"""A disclosure report's period (``fullmatch``): a calendar quarter in Asia/Shanghai
(``2026-Q3``) for a progress report, ``final`` for a project's final report."""


class ProjectClosed(Body):
    label = "Project closed"

    project_id: ProjectId
    reason: Reason


class ReportPublished(Body):
    label = "Report published"

    charity_id: CharityId
    project_id: ProjectId | None
    period: Annotated[str, Field(strict=True, pattern=r"^(?:[0-9]{4}-Q[1-4]|final)$")]
    tree_size: Annotated[StrictInt, Field(ge=1, le=MAX_SEQ)]
    digest: Hash
    reason: Reason | None


# -- End of disclosure ---------------------------------------------------------------------
# -- charity signatures (ADR 0037) ------------------------------------------------------------


class CharitySignerChanged(Body):
    """A charity's signing key replaced (or revoked, ``signer`` null) from this entry on.

    ``previous_seq`` is the seq of the entry that set the signer being replaced (its
    ``charity.registered`` or its last ``charity.signer_changed``): the rule holds it to
    the books, so a signed change cannot be replayed once the signer has changed again.
    """

    label = "Charity signer changed"

    charity_id: CharityId
    signer: Address | None
    previous_seq: Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]
    reason: Reason


CHARITY_SIGNED_KINDS = (
    "project.opened",
    "disbursement.made",
    "disbursement.voided",
    "allocation.made",
    "allocation.reversed",
)
"""Fund use a charity signs (ADR 0037): once it has a signer, each entry of these kinds
about it carries ``sig``, the signer's EIP-712 signature (``chain.typed_data``)."""
# -- matching funds (配捐, ADR 0040) ---------------------------------------------------------


class MatcherRegistered(Body):
    label = "Matcher registered"
    creates = "matcher_id"

    matcher_id: MatcherId
    name: Name
    registration_no: Annotated[Text, _max_length(64)]


MAX_POOL_PROJECTS = 50
"""Most projects one matching pool covers."""


class MatchPoolOpened(Body):
    """A matcher's pledge: matches of donations to ``project_ids``, by these rules (ADR 0040).

    A donation paid in ``[starts_at, ends_at)`` to a covered project, in ``currency``, is
    matched ``amount * ratio_percent // 100``, at most ``cap_per_donation``; a payer is
    matched at most ``cap_per_payer_per_day`` a day (days begin at midnight at UTC
    ``day_offset_minutes``) and at most once in ``min_interval_s`` seconds (by ``paid_at``);
    all matches together at most ``total``. A match is whole or not made.
    """

    label = "Matching pool opened"
    creates = "pool_id"

    pool_id: PoolId
    matcher_id: MatcherId
    title: Name
    currency: Currency
    total: Amount
    ratio_percent: Annotated[StrictInt, Field(ge=1, le=1000)]
    cap_per_donation: Amount
    cap_per_payer_per_day: Amount
    min_interval_s: Annotated[StrictInt, Field(ge=0, le=86400)]
    starts_at: Timestamp
    ends_at: Timestamp
    day_offset_minutes: Annotated[StrictInt, Field(ge=-720, le=840)]
    project_ids: Annotated[list[ProjectId], Field(min_length=1, max_length=MAX_POOL_PROJECTS)]


class MatchPoolClosed(Body):
    label = "Matching pool closed"

    pool_id: PoolId
    reason: Reason


class MatchMade(Body):
    """Matched money: a donation of the matcher's, ``match_id``, beside the donor's ``donation_id``.

    ``payer_hash`` is HMAC-SHA256 under a key derived from the deployment's payment
    reference key and the pool (ADR 0040): the same payer has one hash within a pool and
    unrelated hashes in two pools.
    """

    label = "Donation matched"
    creates = "match_id"

    match_id: DonationId
    donation_id: DonationId
    pool_id: PoolId
    amount: Amount
    payer_hash: Hash


class MatchReversed(Body):
    label = "Match reversed"

    match_id: DonationId
    reason: Reason


Kind = Literal[
    "charity.registered",
    "project.opened",
    "donation.received",
    "donation.refunded",
    "disbursement.made",
    "disbursement.voided",
    "allocation.made",
    "allocation.reversed",
    "project.closed",
    "report.published",
    "charity.signer_changed",
    "matcher.registered",
    "match_pool.opened",
    "match_pool.closed",
    "match.made",
    "match.reversed",
]

"""The kinds of entry (v1); ``KINDS`` lists them in the same order."""

BODIES: Mapping[str, type[Body]] = {
    "charity.registered": CharityRegistered,
    "project.opened": ProjectOpened,
    "donation.received": DonationReceived,
    "donation.refunded": DonationRefunded,
    "disbursement.made": DisbursementMade,
    "disbursement.voided": DisbursementVoided,
    "allocation.made": AllocationMade,
    "allocation.reversed": AllocationReversed,
    "project.closed": ProjectClosed,
    "report.published": ReportPublished,
    "charity.signer_changed": CharitySignerChanged,
    "matcher.registered": MatcherRegistered,
    "match_pool.opened": MatchPoolOpened,
    "match_pool.closed": MatchPoolClosed,
    "match.made": MatchMade,
    "match.reversed": MatchReversed,
}
"""Each kind's body model. Adding a kind: its body here, its rule in ``ledger.accounting.RULES``
and, if it keeps state of its own, a projection table and a migration (ADR 0027)."""
KINDS = tuple(BODIES)
CREATED_AS: Mapping[str, str] = {"match_id": "donation"}
"""Created ids that take another thing's form: a match's id is a donation id, as matched
money is a donation of the matcher's that allocations fund disbursements from (ADR 0040)."""
CREATES: Mapping[str, str] = {
    kind: model.creates for kind, model in BODIES.items() if model.creates is not None
}
"""The id field each kind creates; every other id in a body refers to something that exists."""


def format_at(moment: datetime) -> str:
    """Format a timezone-aware moment as UTC RFC 3339 with milliseconds and ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined UTC instant")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


def parse_at(value: str) -> datetime:
    """Parse an ``at`` string of the journal (``YYYY-MM-DDTHH:MM:SS.mmmZ``)."""
    if not _AT_FORMAT.fullmatch(value):
        raise ValueError(f"{value!r} is not UTC RFC 3339 with milliseconds and Z")
    return datetime.fromisoformat(value)


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
    if not isinstance(body, Mapping):
        raise EntryError("body", "must be a JSON object")
    try:
        parsed = model.model_validate(dict(body))
    except ValidationError as error:
        raise _field_of(error, "body") from None
    dumped: dict[str, JsonValue] = parsed.model_dump(mode="json")
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
            # A validated entry lies in the domain where the standard library's encoder
            # is RFC 8785 (see canonical_bytes), so it skips the domain check; the top
            # level is written in its sorted key order (actor, at, body, kind, seq, sig, v).
            # actor, at, kind and sig are validated to plain ASCII that JSON never
            # escapes (letters, digits, ':', '_', '.', '-'), so they are quoted as they are.
            sig = f',"sig":"{self.sig}"' if self.sig is not None else ""
            leaf = (
                f'{{"actor":"{self.actor}","at":"{self.at}",'
                f'"body":{_encode(dict(self.body))},"kind":"{self.kind}",'
                f'"seq":{self.seq}{sig},"v":{self.v}}}'
            ).encode()
            object.__setattr__(self, "_leaf", leaf)
        return self._leaf

    @property
    def leaf_hash(self) -> bytes:
        """RFC 6962 leaf hash of ``leaf_bytes``."""
        if not self._hash:
            object.__setattr__(self, "_hash", leaf_hash(self.leaf_bytes))
        return self._hash


# Within this domain, RFC 8785 and the standard library's JSON encoder agree byte for
# byte: keys are ASCII (so code-point order is UTF-16 order), integers are exact in
# IEEE 754 doubles (up to JSON_SAFE_INTEGER, so ECMAScript prints them as Python does),
# and both escape exactly '"', '\\' and the C0 controls,
# with the same short forms and lowercase \u00xx.
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
"""The standard library's C encoder, configured once (``json.dumps`` builds one per call)."""


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

    Entries take the standard library's C encoder, which produces the same bytes for
    them (ADR 0003, and a property test against ``rfc8785``); anything outside that
    domain goes through the ``rfc8785`` package.
    """
    if isinstance(obj, dict) and _in_fast_domain(obj):
        return _encode(obj).encode()
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
    elif not isinstance(at, str) or not _AT_FORMAT.fullmatch(at):
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


def registration_key(registration_no: str) -> str:
    """What makes two registration numbers the same one: NFKC, capitals, no separators.

    ``53530000MJ0005678Y``, ``５３５３…`` (full width), ``53530000mj0005678y`` and
    ``5353 0000-MJ00 05678Y`` all give ``53530000MJ0005678Y``: white space, hyphens, dots
    and slashes are how people group the digits, not part of the number.
    """
    folded = unicodedata.normalize("NFKC", registration_no).upper()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-./\u2010\u2011")
