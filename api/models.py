"""Request and response bodies of the HTTP API (``XCreate`` in, ``XPublic`` out)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

Amount = Annotated[StrictInt, Field(gt=0, le=10**12, description="minor units (fen for CNY)")]
Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$", description="0x lowercase hex")]


class Closed(BaseModel):
    """Request bodies refuse unknown fields: a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


# -- charities and projects ----------------------------------------------------------------


class CharityCreate(Closed):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    registration_no: Annotated[str, Field(min_length=1, max_length=64)]
    signer: Annotated[str | None, Field(pattern=r"^0x[0-9a-fA-F]{40}$")] = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "云南乡村学校助学会", "registration_no": "53530000MJ0005678Y"}]
        },
    )


class Balance(BaseModel):
    currency: str
    received: int
    refunded: int
    allocated: int
    disbursed: int
    held: int = Field(description="received, not refunded, not yet allocated")


class CharityCreated(BaseModel):
    id: str
    seq: int
    name: str
    api_key: str = Field(description="shown once: keep it; only its hash is stored")


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


class ProjectCreate(Closed):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    goal_amount: Amount
    currency: Annotated[str, Field(min_length=3, max_length=3)]

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Textbooks for Nujiang village schools",
                    "goal_amount": 6_000_000,
                    "currency": "CNY",
                }
            ]
        },
    )


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


class DonorIn(Closed):
    name: Annotated[str | None, Field(max_length=200)] = None
    phone: Annotated[str | None, Field(max_length=40)] = None
    email: Annotated[str | None, Field(max_length=254)] = None
    anonymous: StrictBool = False


class DonationCreate(Closed):
    charity_id: str
    project_id: str | None = None
    amount: Amount
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    channel: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    paid_at: datetime
    payment_ref: Annotated[str, Field(min_length=1, max_length=200)]
    donor: DonorIn = Field(default_factory=DonorIn)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "charity_id": "ch_7h3kq9d2x0w1m4n5p6r8",
                    "project_id": "pr_2b4c6d8f0g1h3j5k7l9m",
                    "amount": 10000,
                    "currency": "CNY",
                    "channel": "card",
                    "paid_at": "2026-11-26T10:00:00Z",
                    "payment_ref": "PAY-2026-000123",
                    "donor": {"name": "王小明", "anonymous": False},
                }
            ]
        },
    )


class Receipt(BaseModel):
    url: str = Field(description="the donation page; the secret travels in the fragment")
    secret: str = Field(description="32 lowercase hex: proves the donation is the donor's")
    qr_png: str
    qr_svg: str
    page: str = Field(description="a printable receipt")


class DonationCreated(BaseModel):
    id: str
    seq: int
    receipt: Receipt


class RefundCreate(Closed):
    amount: Amount
    reason: Annotated[str, Field(min_length=1, max_length=500)]


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


class EvidenceUploaded(BaseModel):
    sha256: str
    media_type: str
    size: int


class EvidenceIn(Closed):
    sha256: Hex32
    public: StrictBool


class AllocationIn(Closed):
    donation_id: str
    amount: Amount


class DisbursementCreate(Closed):
    charity_id: str
    project_id: str | None = None
    amount: Amount
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    payee: Annotated[str, Field(min_length=1, max_length=200)]
    purpose: Annotated[str, Field(min_length=1, max_length=500)]
    evidence: Annotated[list[EvidenceIn], Field(max_length=50)] = Field(default_factory=list)
    allocate: Literal["fifo"] | Annotated[list[AllocationIn], Field(max_length=1000)] | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "charity_id": "ch_7h3kq9d2x0w1m4n5p6r8",
                    "project_id": "pr_2b4c6d8f0g1h3j5k7l9m",
                    "amount": 6000,
                    "currency": "CNY",
                    "payee": "昆明新华书店",
                    "purpose": "textbooks, grade 3",
                    "evidence": [{"sha256": "0x" + "ab" * 32, "public": True}],
                    "allocate": "fifo",
                }
            ]
        },
    )


class AllocationCreate(Closed):
    donation_id: str
    disbursement_id: str
    amount: Amount


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


class Reason(Closed):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class Recorded(BaseModel):
    """What a write appended: the entries, by seq."""

    id: str
    seqs: list[int]


# -- journal and chain ---------------------------------------------------------------------------


class CheckpointsPublic(BaseModel):
    data: list[CheckpointPublic]
    count: int


class ConsistencyPublic(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class ChainPublic(BaseModel):
    chain_id: int
    embedded: bool
    ledger_anchor: str
    charity_registry: str
    rpc_url: str | None = Field(description="a JSON-RPC endpoint a browser may call")
    confirmations: int
    anchor_interval_s: float
    anchor_max_pending: int


class ProofBundle(BaseModel):
    """The proof bundle of DESIGN §6, exactly as ``shanlian verify`` reads it."""

    model_config = ConfigDict(extra="allow")

    format: Literal["shanlian-proof/v1"]
    entry: dict[str, object]
    leaf_hash: str
    checkpoint: dict[str, object]
    inclusion_proof: list[str]
    anchor: dict[str, object]
