"""What anyone may see: the public views of charities, projects, donations and fund use.

The API's GET routes and the explorer's pages (and their ``.json`` twins) answer with
these same models, built by ``explorer.views``. No personal data is in any of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Balance(BaseModel):
    currency: str
    received: int
    refunded: int
    allocated: int
    disbursed: int
    held: int = Field(description="received, not refunded, not yet allocated")


class ProjectSummary(BaseModel):
    id: str
    title: str
    goal_amount: int
    currency: str


class CharityPublic(BaseModel):
    id: str
    seq: int
    name: str
    registration_no: str
    signer: str | None
    projects: list[ProjectSummary]
    balances: list[Balance]


class ProjectPublic(BaseModel):
    id: str
    seq: int
    charity_id: str
    charity_name: str
    title: str
    goal_amount: int
    currency: str
    balances: list[Balance]


# -- donations -----------------------------------------------------------------------------


class EntryRef(BaseModel):
    seq: int
    kind: str
    at: str


class EvidencePublic(BaseModel):
    sha256: str
    media_type: str
    public: bool
    url: str | None = Field(description="download link; null for evidence shown to auditors only")


class DisbursementSummary(BaseModel):
    id: str
    seq: int
    at: str
    payee: str
    purpose: str
    amount: int
    currency: str
    voided: bool
    evidence: list[EvidencePublic]


class Funding(BaseModel):
    allocation_id: str
    seq: int
    amount: int
    disbursement: DisbursementSummary


class RefundPublic(BaseModel):
    seq: int
    at: str
    amount: int
    reason: str


class CheckpointPublic(BaseModel):
    index: int
    tree_size: int
    root_hash: str
    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str
    anchored_at: datetime
    confirmed: bool


class DonationStatus(BaseModel):
    state: Literal["recorded", "anchored", "confirmed"]
    checkpoint: CheckpointPublic | None
    next_anchor_due: datetime | None


class DonationPublic(BaseModel):
    id: str
    seq: int
    recorded_at: str
    charity_id: str
    charity_name: str
    project_id: str | None
    project_title: str | None
    amount: int
    currency: str
    channel: str
    paid_at: str
    donor_commitment: str
    refunded: int
    allocated: int
    unspent: int = Field(description="not refunded and not yet allocated to a disbursement")
    status: DonationStatus
    funded: list[Funding]
    refunds: list[RefundPublic]
    timeline: list[EntryRef]


# -- evidence, disbursements, allocations ------------------------------------------------------


class AllocationPublic(BaseModel):
    id: str
    seq: int
    donation_id: str
    disbursement_id: str
    amount: int
    reversed: bool


class DisbursementPublic(BaseModel):
    id: str
    seq: int
    at: str
    charity_id: str
    charity_name: str
    project_id: str | None
    payee: str
    purpose: str
    amount: int
    currency: str
    allocated: int
    unfunded: int
    voided: bool
    evidence: list[EvidencePublic]
    allocations: list[AllocationPublic]
    timeline: list[EntryRef]


class CheckpointsPublic(BaseModel):
    data: list[CheckpointPublic]
    count: int
