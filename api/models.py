"""Request and response bodies of the HTTP API (``XCreate`` in, ``XPublic`` out).

The field types they are made of (names, amounts, currencies, moments) are in
``api.fields``; the public views of the journal's records are ``explorer.models``'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.fields import (
    Amount,
    Closed,
    Currency,
    Hex32,
    HumanText,
    NoControl,
    OptionalHumanText,
    Rfc3339,
    human_text,
    with_example,
)
from explorer.models import (
    AllocationPublic,
    Balance,
    CharityPublic,
    CheckpointPublic,
    CheckpointsPublic,
    DisbursementPublic,
    DisbursementSummary,
    DonationPublic,
    DonationStatus,
    EntryRef,
    EvidencePublic,
    Funding,
    MatchPublic,
    PoolPage,
    PoolPublic,
    ProjectPublic,
    ProjectSummary,
    RefundPublic,
)
from ledger.entries import ADDRESS

# -- charity signatures (ADR 0037) ----------------------------------------------------------


class Signed(Closed):
    """A charity's signatures of a request's entries, as ``…/prepare`` asked for them."""

    nonce: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9_-]{16,64}$",
            description="from the prepare answer: the ids of the entries are derived from it",
        ),
    ]
    signatures: Annotated[
        list[Annotated[str, Field(max_length=140)]],
        Field(
            max_length=1001,
            description="one EIP-712 signature (0x, 65 bytes) per entry, in the order of "
            "the prepare answer's typed_data",
        ),
    ] = Field(default_factory=list)


class Prepared(BaseModel):
    """What a charity signs for a request (ADR 0037): then it submits ``request`` with
    ``signed.signatures`` filled, one signature per item of ``typed_data``."""

    charity_id: str
    signer: str | None = Field(description="the charity's registered signer: who must sign")
    nonce: str
    route: str = Field(description="where to submit the request, e.g. POST /disbursements")
    request: dict[str, Any] = Field(description="the body to submit (fifo resolved to a list)")
    typed_data: list[dict[str, Any]] = Field(
        description="EIP-712 typed data, one per entry: eth_signTypedData_v4 signs each"
    )


class SignerChange(Closed):
    signer: Annotated[str | None, Field(pattern=f"^{ADDRESS.pattern}$")]
    reason: Annotated[str, Field(min_length=1, max_length=500), HumanText]
    signed: Signed | None = None

    model_config = with_example(
        {"signer": "0x5b38da6a701c568545dcfcb03fcb875f56beddc4", "reason": "key rotation"}
    )


# -- charities and projects ----------------------------------------------------------------


class Organisation(Closed):
    """A body registering an organisation (a charity, a matcher): its name and number."""

    name: Annotated[str, Field(min_length=1, max_length=200), HumanText]
    registration_no: Annotated[str, Field(min_length=1, max_length=64), HumanText]


class CharityCreate(Organisation):
    signer: Annotated[str | None, Field(pattern=f"^{ADDRESS.pattern}$")] = None

    model_config = with_example(
        {"name": "云南乡村学校助学会", "registration_no": "53530000MJ0005678Y"}
    )


class Registered(BaseModel):
    """A registered organisation: its id, its entry's seq and its name."""

    id: str
    seq: int
    name: str


class CharityCreated(Registered):
    api_key: str = Field(description="shown once: keep it; only its hash is stored")


class CharityKeyIssued(BaseModel):
    charity_id: str
    key_id: str = Field(description="names the key from now on (`shanlian keys charity list`)")
    api_key: str = Field(description="shown once: keep it; only its hash is stored")
    revoked: list[str] = Field(description="key ids of the older keys, refused from now on")


class ProjectCreate(Closed):
    title: Annotated[str, Field(min_length=1, max_length=200), HumanText]
    goal_amount: Amount
    currency: Currency
    signed: Signed | None = None

    model_config = with_example(
        {
            "title": "Textbooks for Nujiang village schools",
            "goal_amount": 6_000_000,
            "currency": "CNY",
        }
    )


class DonorIn(Closed):
    name: Annotated[str | None, Field(max_length=200), OptionalHumanText] = None
    phone: Annotated[str | None, Field(max_length=40), NoControl] = None
    email: Annotated[str | None, Field(max_length=254), NoControl] = None
    anonymous: StrictBool = False


class DonationCreate(Closed):
    charity_id: str
    project_id: str | None = None
    amount: Amount
    currency: Currency
    channel: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    paid_at: Rfc3339
    payment_ref: Annotated[str, Field(min_length=1, max_length=200), NoControl]
    donor: DonorIn = Field(default_factory=DonorIn)
    payer_ref: Annotated[str, Field(min_length=1, max_length=200), NoControl] | None = Field(
        default=None,
        description="the payment channel's reference of the payer (an account, not a "
        "payment): kept only as a keyed hash per matching pool; a donation without one is "
        "not matched (ADR 0040)",
    )

    model_config = with_example(
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
    )


class Receipt(BaseModel):
    url: str = Field(description="the donation page; the secret travels in the fragment")
    secret: str = Field(description="32 lowercase hex: proves the donation is the donor's")
    qr_png: str
    qr_svg: str
    page: str = Field(description="a printable receipt")


class MatchMade(BaseModel):
    """A match the donation got, made with it (ADR 0040)."""

    id: str = Field(description="the match, also the id of the matched money")
    pool_id: str
    amount: int
    seq: int


class DonationCreated(BaseModel):
    id: str
    seq: int
    receipt: Receipt
    matches: list[MatchMade] = Field(default_factory=list)


class RefundCreate(Closed):
    amount: Amount
    reason: Annotated[str, Field(min_length=1, max_length=500), HumanText]

    model_config = with_example({"amount": 10000, "reason": "the donor asked, 捐赠人申请退款"})


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
    currency: Currency
    payee: Annotated[str, Field(min_length=1, max_length=200), HumanText]
    purpose: Annotated[str, Field(min_length=1, max_length=500), HumanText]
    evidence: Annotated[list[EvidenceIn], Field(max_length=50)] = Field(default_factory=list)
    allocate: Literal["fifo"] | Annotated[list[AllocationIn], Field(max_length=1000)] | None = None
    signed: Signed | None = None

    model_config = with_example(
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
    )


class AllocationCreate(Closed):
    donation_id: str
    disbursement_id: str
    amount: Amount
    signed: Signed | None = None

    model_config = with_example(
        {
            "donation_id": "dn_4k8m2p6r0t3v5x7z9b1d",
            "disbursement_id": "db_9c7e5g3j1l8n6q4s2u0w",
            "amount": 4000,
        }
    )


class Reason(Closed):
    reason: Annotated[str, Field(min_length=1, max_length=500), HumanText]
    signed: Signed | None = None

    model_config = with_example({"reason": "booked twice, 重复记账"})


class Recorded(BaseModel):
    """What a write appended: the entries, by seq."""

    id: str
    seqs: list[int]


# -- journal and chain ---------------------------------------------------------------------------


class ConsistencyPublic(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class WitnessPublic(BaseModel):
    """A witness of the log's checkpoints (c2sp.org/tlog-witness) and where it stands."""

    name: str
    vkey: str = Field(description="its cosignature/v1 verifier key (name+keyid+base64(0x04‖key))")
    cosigned_size: int = Field(description="the largest checkpoint it cosigned (0: none)")
    lag_entries: int = Field(description="entries not covered by a checkpoint it cosigned")
    lag_seconds: float = Field(description="age of the oldest of them (0: none)")
    state: str = Field(
        description="how the last attempt went: cosigned, conflict, refused (it holds a view "
        "this log is not consistent with), forbidden, unknown_log, bad_answer, unreachable, "
        "not_sent, new"
    )
    detail: str | None = Field(description="what went wrong, as the witness or network said")
    attempted_at: datetime | None
    next_attempt_at: datetime | None


class AnchoringPublic(BaseModel):
    """Whether anchoring may go on as far as fees and the budget go (ADR 0038)."""

    state: Literal["ready", "waiting_for_fees", "budget_exhausted"] = Field(
        description="ready; waiting_for_fees: the base fee is over the cap; "
        "budget_exhausted: the period's anchors spent the budget"
    )
    detail: str = Field(description="why, in one sentence, with the numbers")
    since: datetime = Field(description="when this state began")
    base_fee_wei: int | None = Field(description="the next block's base fee (unread: no cap)")
    max_fee_per_gas: int | None = Field(description="the fee cap, wei a unit of gas")
    spent_wei: int = Field(description="what the period's anchors cost")
    budget_wei: int | None = Field(description="the period's budget (none: no budget)")
    budget_period_s: float


class ChainPublic(BaseModel):
    chain_id: int
    embedded: bool
    ledger_anchor: str
    charity_registry: str
    rpc_url: str | None = Field(description="a JSON-RPC endpoint a browser may call")
    confirmations: int
    anchor_interval_s: float
    anchor_max_pending: int
    log_origin: str | None = Field(
        default=None, description="the origin line of the log's checkpoints (/tlog/checkpoint)"
    )
    log_vkey: str | None = Field(
        default=None, description="the C2SP verifier key that signs them (name+keyid+key)"
    )
    witness_quorum: str | None = Field(
        default=None,
        description="the witnesses whose cosignatures a checkpoint needs (C2SP tlog-policy), "
        "e.g. '2 of (w1, w2, w3)'; null: no witnesses are configured",
    )
    witnessed_size: int | None = Field(
        default=None, description="the largest checkpoint whose cosignatures meet the quorum"
    )
    witnesses: list[WitnessPublic] = Field(
        default_factory=list,
        description="each witness's cosignature key (C2SP vkey, type 0x04) and how far it lags",
    )
    finality: str | None = Field(
        default=None,
        description="which block makes a checkpoint `confirmed`: the chain's `finalized` or "
        "`safe` block, or a depth of `confirmations` blocks",
    )
    anchoring: AnchoringPublic | None = Field(
        default=None, description="whether fees and the budget let the worker anchor now"
    )


class ProofBundle(BaseModel):
    """The proof bundle of DESIGN §6, exactly as ``shanlian verify`` reads it."""

    model_config = ConfigDict(extra="allow")

    format: Literal["shanlian-proof/v1"]
    entry: dict[str, object]
    leaf_hash: str
    checkpoint: dict[str, object]
    inclusion_proof: list[str]
    anchor: dict[str, object]


# -- matching funds (配捐, ADR 0040) ---------------------------------------------------------


class MatcherCreate(Organisation):
    model_config = with_example(
        {"name": "某某科技有限公司", "registration_no": "91110000MA0000000X"}
    )


class MatcherCreated(Registered):
    pass  # no docstring: it would become the schema's description


class PoolCreate(Closed):
    title: Annotated[str, Field(min_length=1, max_length=200), HumanText]
    currency: Currency
    total: Amount
    ratio_percent: Annotated[StrictInt, Field(ge=1, le=1000)] = 100
    cap_per_donation: Amount
    cap_per_payer_per_day: Amount
    min_interval_s: Annotated[StrictInt, Field(ge=0, le=86400)] = 15
    starts_at: Rfc3339
    ends_at: Rfc3339
    day_offset_minutes: Annotated[StrictInt, Field(ge=-720, le=840)] = 480
    project_ids: Annotated[list[str], Field(min_length=1, max_length=50)]

    model_config = with_example(
        {
            "title": "九九公益日配捐",
            "currency": "CNY",
            "total": 10_000_000,
            "ratio_percent": 100,
            "cap_per_donation": 1_000,
            "cap_per_payer_per_day": 3_000,
            "min_interval_s": 15,
            "starts_at": "2026-09-07T00:00:00+08:00",
            "ends_at": "2026-09-10T00:00:00+08:00",
            "day_offset_minutes": 480,
            "project_ids": ["pr_2b4c6d8f0g1h3j5k7l9m"],
        }
    )


class PoolClose(Closed):
    reason: Annotated[str, Field(min_length=1, max_length=500), HumanText]

    model_config = with_example({"reason": "配捐活动结束"})


__all__ = [
    "AllocationCreate",
    "AllocationIn",
    "AllocationPublic",
    "Amount",
    "Balance",
    "ChainPublic",
    "CharityCreate",
    "CharityCreated",
    "CharityPublic",
    "CheckpointPublic",
    "CheckpointsPublic",
    "Closed",
    "ConsistencyPublic",
    "Currency",
    "DisbursementCreate",
    "DisbursementPublic",
    "DisbursementSummary",
    "DonationCreate",
    "DonationCreated",
    "DonationPublic",
    "DonationStatus",
    "DonorIn",
    "EntryRef",
    "EvidenceIn",
    "EvidencePublic",
    "EvidenceUploaded",
    "Funding",
    "Hex32",
    "HumanText",
    "MatchMade",
    "MatchPublic",
    "MatcherCreate",
    "MatcherCreated",
    "NoControl",
    "OptionalHumanText",
    "Organisation",
    "PoolClose",
    "PoolCreate",
    "PoolPage",
    "PoolPublic",
    "ProjectCreate",
    "ProjectPublic",
    "ProjectSummary",
    "ProofBundle",
    "Reason",
    "Receipt",
    "Recorded",
    "RefundCreate",
    "RefundPublic",
    "Registered",
    "Rfc3339",
    "human_text",
    "with_example",
]
