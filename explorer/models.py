"""What anyone may see: the public views of charities, projects, donations and fund use.

The API's GET routes and the explorer's pages (and their ``.json`` twins) answer with
these same models, built by ``explorer.views``. No personal data is in any of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ledger.accounting import Balance as Balance  # the one Balance, shown as it is


class ProjectSummary(BaseModel):
    id: str
    title: str
    goal_amount: int
    currency: str


class CharityFacts(BaseModel):
    """What every view of a charity shows first."""

    id: str
    seq: int
    name: str
    registration_no: str


class CharityPublic(CharityFacts):
    signer: str | None
    projects: list[ProjectSummary]
    balances: list[Balance]


class ProjectFacts(BaseModel):
    """What every view of a project shows first."""

    id: str
    seq: int
    charity_id: str
    charity_name: str
    title: str
    goal_amount: int
    currency: str


class ProjectPublic(ProjectFacts):
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


class SignaturePublic(BaseModel):
    """Whether the charity signed an entry of its fund use (ADR 0037), as the explorer checked.

    ``signed``: by the charity's signer of the time; ``unsigned``: the charity had no
    signer then (an older entry, or one the platform made); ``missing``: it had one but
    the entry carries no signature; ``invalid``: the signature is not by that key over
    this entry; ``unchecked``: signed, but no chain is configured to check it against.
    """

    status: Literal["signed", "unsigned", "missing", "invalid", "unchecked"]
    signer: str | None = Field(description="the charity's signer at the entry's seq")
    signer_seq: int | None = Field(description="the entry that registered that signer")


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
    signature: SignaturePublic | None = None  # ADR 0037


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
    checkpoint: CheckpointPublic | None = Field(
        description="the first checkpoint that anchored it (null before one does)"
    )
    next_anchor_due: datetime | None


class DonationSummary(BaseModel):
    """A donation in a list; what its own page (``DonationPublic``) shows first."""

    id: str
    seq: int
    charity_id: str
    charity_name: str
    project_id: str | None
    project_title: str | None
    amount: int
    currency: str
    paid_at: str
    refunded: int
    allocated: int


class DonationPublic(DonationSummary):
    recorded_at: str
    channel: str
    donor_commitment: str | None = Field(description="none for matched money (ADR 0040)")
    unspent: int = Field(description="not refunded and not yet allocated to a disbursement")
    status: DonationStatus
    funded: list[Funding]
    refunds: list[RefundPublic]
    timeline: list[EntryRef]
    matches: list[MatchPublic] = Field(
        default_factory=list, description="matching pools' matches of this donation (ADR 0040)"
    )
    matched_by: MatchPublic | None = Field(
        default=None, description="this is matched money: the match it is (ADR 0040)"
    )


# -- matching funds (配捐, ADR 0040) -----------------------------------------------------------


class MatchPublic(BaseModel):
    id: str = Field(description="the match, also the id of the matched money (a donation id)")
    seq: int
    donation_id: str = Field(description="the donor's donation it matches")
    pool_id: str
    pool_title: str
    matcher_id: str
    matcher_name: str
    amount: int
    currency: str
    paid_at: str
    reversed: bool


class PoolProject(BaseModel):
    id: str
    title: str


class PoolPublic(BaseModel):
    id: str
    seq: int
    opened_at: str
    matcher_id: str
    matcher_name: str
    title: str
    currency: str
    total: int
    spent: int
    left: int
    matches: int = Field(description="matches made and not reversed")
    ratio_percent: int
    cap_per_donation: int
    cap_per_payer_per_day: int
    min_interval_s: int
    starts_at: str
    ends_at: str
    day_offset_minutes: int
    projects: list[PoolProject]
    closed: bool


class PoolPage(BaseModel):
    pool: PoolPublic
    recent_matches: list[MatchPublic]


# -- evidence, disbursements, allocations ------------------------------------------------------


class AllocationPublic(BaseModel):
    id: str
    seq: int
    donation_id: str
    disbursement_id: str
    amount: int
    reversed: bool


class DisbursementBrief(BaseModel):
    """A disbursement in a list; what its own page (``DisbursementPublic``) shows first."""

    id: str
    seq: int
    charity_id: str
    project_id: str | None
    payee: str
    purpose: str
    amount: int
    currency: str
    allocated: int
    voided: bool
    at: str = Field(description="when it was recorded (its entry's time)")


class DisbursementPublic(DisbursementBrief):
    charity_name: str
    unfunded: int
    evidence: list[EvidencePublic]
    allocations: list[AllocationPublic]
    timeline: list[EntryRef]
    signature: SignaturePublic | None = None  # ADR 0037


class CheckpointsPublic(BaseModel):
    data: list[CheckpointPublic]
    count: int


# -- the explorer's pages: each is its page's context and its .json twin ---------------------


class Totals(BaseModel):
    """What the whole journal holds, across every charity."""

    charities: int
    projects: int
    donations: int
    disbursements: int
    entries: int
    balances: list[Balance] = Field(description="per currency, every charity together")


FlowNodeKind = Literal[
    "donations", "project", "general_fund", "use", "unspent", "refunded", "others"
]


class FlowNode(BaseModel):
    """A box of a fund-flow diagram.

    ``kind`` says what it is: ``donations`` (donations earmarked to project ``ref``, or
    to the general fund when ``ref`` is null), ``project`` / ``general_fund`` (what the
    money was spent on, by the disbursements' project), ``use`` (a payee and purpose),
    ``unspent``, ``refunded``, or ``others`` (the smaller boxes of a column, together;
    ``name`` is how many).
    """

    id: str
    column: int = Field(ge=0, le=2)
    kind: FlowNodeKind
    ref: str | None = Field(description="the project id of donations and project boxes")
    name: str | None = Field(description="project title, or payee")
    detail: str | None = Field(description="purpose of a use")
    amount: int


class FlowLink(BaseModel):
    source: str
    target: str
    amount: int


class FundFlow(BaseModel):
    """Where the money went, in one currency: donations → projects → payees and purposes."""

    currency: str
    nodes: list[FlowNode]
    links: list[FlowLink]


class HomePage(BaseModel):
    totals: Totals
    recent_donations: list[DonationSummary]
    latest_checkpoint: CheckpointPublic | None
    next_anchor_due: datetime | None


class CharityPage(BaseModel):
    charity: CharityPublic
    flows: list[FundFlow]
    recent_donations: list[DonationSummary]
    disbursements: list[DisbursementBrief]
    correction_notes: list[CorrectionNote] = []
    """ADR 0039: the voids of its disbursements, newest first, with their reasons."""


class ProjectPage(BaseModel):
    project: ProjectPublic
    flows: list[FundFlow]
    recent_donations: list[DonationSummary]
    disbursements: list[DisbursementBrief]
    correction_notes: list[CorrectionNote] = []
    """ADR 0039: the voids of its disbursements, newest first, with their reasons."""


class DonationPage(BaseModel):
    donation: DonationPublic
    proof_url: str = Field(description="the proof bundle the page verifies")
    chain_url: str = Field(description="where the page learns the chain and a JSON-RPC URL")
    correction_notes: list[CorrectionNote] = []
    """ADR 0039: the reversals of its allocations and the voids of what they funded."""


class DisbursementPage(BaseModel):
    disbursement: DisbursementPublic
    project_title: str | None
    correction_notes: list[CorrectionNote] = []
    """ADR 0039: its void and the reversals of its allocations, with their reasons."""


class ConsistencyCheck(BaseModel):
    """Whether a checkpoint's tree extends the previous checkpoint's (RFC 9162 §2.1.4.2)."""

    first_index: int
    first_size: int
    second_size: int
    proof: list[str]
    verified: bool
    problem: str | None = Field(description="why it does not verify (null when it does)")


class CheckpointRow(BaseModel):
    checkpoint: CheckpointPublic
    consistency: ConsistencyCheck | None = Field(
        description="from the previous checkpoint (null for the first)"
    )


class CharityListed(CharityFacts):
    projects: int
    donations: int
    balances: list[Balance]


class ProjectListed(ProjectFacts):
    donations: int
    received: int = Field(description="donated to it, not refunded (minor units)")


class CharitiesPage(BaseModel):
    data: list[CharityListed] = Field(description="in the order they registered")
    count: int = Field(description="charities in all")
    page: int = Field(description="this page's number, from 1")
    pages: int = Field(description="how many pages there are")


class ProjectsPage(BaseModel):
    data: list[ProjectListed] = Field(description="in the order they opened")
    count: int = Field(description="projects in all")
    page: int = Field(description="this page's number, from 1")
    pages: int = Field(description="how many pages there are")


class CheckpointsPage(BaseModel):
    data: list[CheckpointRow] = Field(description="newest first")
    count: int = Field(description="checkpoints in all")
    older: int | None = Field(description="the 'before' of the next (older) page, if any")


RefKind = Literal["charity", "project", "donation", "disbursement", "allocation", "pool"]


class Ref(BaseModel):
    kind: RefKind
    id: str


class EntryPage(BaseModel):
    seq: int
    kind: str
    at: str
    actor: str
    canonical: str = Field(description="the entry's RFC 8785 JSON, exactly as hashed")
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ canonical), computed from the text shown")
    stored_leaf_hash: str = Field(description="the leaf hash stored when it was appended")
    checkpoint: CheckpointPublic | None = Field(description="the latest checkpoint covering it")
    next_anchor_due: datetime | None
    refs: list[Ref] = Field(description="what the entry names")
    previous: int | None
    next: int | None
    signature: SignaturePublic | None = Field(
        default=None, description="fund use: whether the charity signed it (ADR 0037)"
    )


SearchKind = Literal[
    "charity", "project", "donation", "disbursement", "allocation", "entry", "checkpoint", "pool"
]


class SearchResult(BaseModel):
    kind: SearchKind
    id: str
    label: str
    url: str


class SearchPage(BaseModel):
    q: str
    results: list[SearchResult]


# -- disclosure (ADR 0039) ----------------------------------------------------------------------


class CorrectionNote(BaseModel):
    """A correction shown on a page it affects: a void or a reversal, and its reason."""

    seq: int
    at: str
    kind: str
    corrects: str
    reason: str
