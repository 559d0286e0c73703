"""The body of each kind of journal entry, version 1 (DESIGN.md §3.1, ADR 0027).

Pure: no I/O. One strict pydantic model a kind, made of the field types of
``ledger.vocabulary``; ``BODIES`` maps each kind to its model (``ledger.entries`` validates
through it, ``ledger.accounting.RULES`` holds a rule for each).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from ledger.vocabulary import (
    MAX_SEQ,
    Address,
    AllocationId,
    Amount,
    CharityId,
    Currency,
    DisbursementId,
    DonationId,
    Hash,
    MatcherId,
    Name,
    PoolId,
    ProjectId,
    Reason,
    RegistrationNo,
    Timestamp,
)


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
    registration_no: RegistrationNo
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
    registration_no: RegistrationNo


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
