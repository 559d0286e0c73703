"""The service layer: every write of the API, on the store and the chain.

Routes parse and authorize; these functions own the logic (STYLE.md habit 6), and the
CLI and the demo call the same ones. The reads (lookups, proofs, exports) are in
``api.reads``, the base of ``Services``; they ask the store's read model (ADR 0026).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from api import models, signing
from api.anchoring import AnchorSettings, AnchorWorker
from api.errors import ApiError, ForbiddenError
from api.evidence import EvidenceStore
from api.keys import KeyStore, Principal
from api.reads import JournalReads
from api.replica import Reader
from api.settings import ApiSettings
from api.tlog import TransparencyLog
from chain.client import ChainClient
from chain.errors import ChainError
from explorer import urls
from explorer.views import PublicViews, allocation_public
from ledger.accounting import (
    AllocationState,
    Books,
    DisbursementState,
    MatcherState,
    MatchState,
    PoolState,
    plan_fifo,
)
from ledger.currencies import special_currency_problem
from ledger.entries import (
    Entry,
    canonical_bytes,
    donor_commitment,
    format_at,
    from_hex,
    parse_at,
    payer_key,
    payment_ref_hash,
    registration_key,
    to_hex,
    validate_body,
)
from ledger.errors import AccountingError, EntryError, NotFoundError, StoreError
from ledger.store.journal import (
    AppendRequest,
    AppendResult,
    Draft,
    FifoAllocation,
    MatchDonation,
    Request,
    Store,
    new_id,
)
from ledger.store.projections import load_fifo_candidates
from ledger.store.sequencer import Sequencer

if TYPE_CHECKING:  # api.witnesses imports the webhooks' URL check, which imports this
    from api.witnesses import WitnessSetup
from ledger.store.tables import CHARITY_REGISTRATION, DONOR, EVIDENCE_FILE


def request_hash(route: str, principal: Principal, body: BaseModel | dict[str, Any]) -> bytes:
    """What makes two requests "the same" for an idempotency key: route, caller, body."""
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return hashlib.sha256(
        canonical_bytes({"route": route, "actor": principal.actor, "body": payload})
    ).digest()


_ENTRY_FIELD = re.compile(r"^entries\[(\d+)\]\.(?:body\.)?(.*)$")


def _disbursement_field(error: EntryError, *, fifo: bool) -> EntryError:
    """Name the request's field: the entries after the disbursement are its ``allocate``."""
    match = _ENTRY_FIELD.match(error.field)
    if match is None or match.group(1) == "0":
        return error
    field = "allocate" if fifo else f"allocate[{int(match.group(1)) - 1}].{match.group(2)}"
    return type(error)(field, error.message)


def idempotency_key(route: str, principal: Principal, key: str) -> str:
    """Keys are per route and caller: one client's key never collides with another's."""
    return f"{route}|{principal.actor}|{key}"


FIFO_PLAN_LIMIT = 1000
"""Donations a prepare considers for ``allocate: "fifo"`` (a request lists at most 1000)."""

REGISTRATIONS_KEPT = 100_000
"""Charities whose registration time a process keeps in memory (a few MiB at most)."""


@dataclass
class Services(JournalReads):
    """Everything the API, the CLI and the worker share, built once per process."""

    settings: ApiSettings
    store: Store
    keys: KeyStore
    evidence: EvidenceStore
    views: PublicViews
    chain: ChainClient | None = None
    worker: AnchorWorker | None = None
    anchor_settings: AnchorSettings | None = None
    clock: Callable[[], datetime] | None = None
    """When entries are recorded (default: now); the demo replays months of history."""

    log: TransparencyLog | None = None
    """The log key's signed checkpoints (ADR 0031); none: no log key, no checkpoint served."""

    sequencer: Sequencer | None = None
    """Batches the appends of this process's writers (ADR 0017); none: each appends alone."""

    reader: Reader | None = None
    """Where proofs and the journal's lines are read: a replica that has them, or the store."""

    witnesses: WitnessSetup | None = None
    """The witnesses and quorum the log's checkpoints are sent to (ADR 0035); none: none."""

    _registered_at: dict[str, datetime] = field(default_factory=dict, init=False, repr=False)
    """When each charity registered, as its entry says: an entry never changes, so every
    donation need not read it again (bounded by ``REGISTRATIONS_KEPT``)."""

    def _append(self, requests: Sequence[Request], **options: Any) -> AppendResult:
        at = self.clock() if self.clock is not None else None
        try:
            return self._append_request(AppendRequest(requests, at=at, **options))
        except AccountingError as error:
            # ADR 0037: a signed request appended again is a replayed signature.
            signed = any(isinstance(r, Draft) and r.sig is not None for r in requests)
            refusal = signing.replayed(error) if signed else None
            if refusal is not None:
                raise refusal from None
            raise

    def _append_request(self, request: AppendRequest) -> AppendResult:
        if self.sequencer is None:
            return self.store.append_request(request)
        return self.sequencer.append(request)

    def anchoring_status(self) -> models.AnchoringPublic | None:
        """Whether fees and the budget let the worker anchor now (None: no worker, or the
        node does not answer)."""
        if self.worker is None:
            return None
        try:
            status = self.worker.recent_status()
        except ChainError:
            return None
        return models.AnchoringPublic(**dataclasses.asdict(status))

    @staticmethod
    def require_platform(principal: Principal) -> None:
        if principal.role != "platform":
            raise ForbiddenError("only the platform may do this")

    @staticmethod
    def require_charity(principal: Principal, charity_id: str) -> None:
        if not principal.may_act_for(charity_id):
            raise ForbiddenError(f"this key may not write for charity {charity_id!r}")

    def accept_currency(self, code: str) -> None:
        """Refuse ISO 4217 codes that are not money (XTS, XXX, XAU, …) unless configured."""
        problem = special_currency_problem(code, set(self.settings.special_currencies))
        if problem is not None:
            raise ApiError(422, "currency_not_accepted", f"currency: {problem}", field="currency")

    # -- charities and projects ----------------------------------------------------------

    def register_charity(
        self, body: models.CharityCreate, principal: Principal
    ) -> models.CharityCreated:
        """Register a charity and issue its API key (shown once)."""
        self.require_platform(principal)
        charity_id = new_id("ch")
        issued: list[str] = []
        number = registration_key(body.registration_no)
        if not number:
            raise ApiError(
                422,
                "invalid_field",
                "registration_no: has no letters or digits",
                field="registration_no",
            )
        self._refuse_taken_registration(number, body.registration_no)

        def issue_key(connection: Connection, _entries: list[Entry]) -> None:
            # The primary key refuses the number if a registration racing this one took it.
            connection.execute(
                CHARITY_REGISTRATION.insert().values(registration_key=number, charity_id=charity_id)
            )
            issued.append(
                self.keys.issue("charity", body.name, charity_id=charity_id, connection=connection)
            )

        try:
            result = self._append(
                [
                    Draft(
                        "charity.registered",
                        {
                            "charity_id": charity_id,
                            "name": body.name,
                            "registration_no": body.registration_no,
                            "signer": body.signer,
                        },
                    )
                ],
                alongside=issue_key,
            )
        except StoreError:
            self._refuse_taken_registration(number, body.registration_no)
            raise
        entry = result.entries[0]
        return models.CharityCreated(
            id=charity_id, seq=entry.seq, name=str(entry.body["name"]), api_key=issued[0]
        )

    def _refuse_taken_registration(self, number: str, registration_no: str) -> None:
        holder = self.read.registration_holder(number)
        if holder is not None:
            raise ApiError(
                409,
                "registration_taken",
                f"registration_no: charity {holder} is registered with {registration_no!r} "
                f"(compared as {number!r}: full-width forms, case, spaces and hyphens do not "
                "make another number); a registration number belongs to one charity",
                field="registration_no",
                charity_id=holder,
            )

    def open_project(
        self,
        charity_id: str,
        body: models.ProjectCreate,
        principal: Principal,
        key: str | None = None,
    ) -> models.ProjectPublic:
        """Open a project of ``charity_id``."""
        drafts = self._project_drafts(charity_id, body, principal)
        drafts = self._signed(charity_id, drafts, body.signed)
        route = f"POST /charities/{charity_id}/projects"
        self._append(drafts, **self._idempotency(route, principal, key, body))
        return self.views.project_view(str(drafts[0].body["project_id"]))

    def _project_drafts(
        self, charity_id: str, body: models.ProjectCreate, principal: Principal
    ) -> list[Draft]:
        self.require_charity(principal, charity_id)
        self.accept_currency(body.currency)
        self.charity(charity_id)
        return [
            Draft(
                "project.opened",
                {
                    "project_id": self._new_id("pr", charity_id, body.signed, 0),
                    "charity_id": charity_id,
                    "title": body.title,
                    "goal_amount": body.goal_amount,
                    "currency": body.currency,
                },
                actor=principal.actor,
            )
        ]

    def _idempotency(
        self, route: str, principal: Principal, key: str | None, body: BaseModel | dict[str, Any]
    ) -> dict[str, Any]:
        if key is None:
            return {}
        if not 0 < len(key) <= 100:
            raise ApiError(
                422,
                "invalid_field",
                "Idempotency-Key: 1 to 100 characters",
                field="Idempotency-Key",
            )
        return {
            "idempotency_key": idempotency_key(route, principal, key),
            "request_hash": request_hash(route, principal, body),
        }

    # -- donations -------------------------------------------------------------------------

    def record_donation(
        self, body: models.DonationCreate, principal: Principal, key: str
    ) -> models.DonationCreated:
        """Record a paid donation; keep the donor's personal data out of the journal."""
        self.require_platform(principal)
        self._check_paid_at(body.charity_id, body.paid_at)
        request, secret = self._donation_request(body, principal, key)
        return self._donation_created(self._append_request(request), secret)

    async def record_donation_async(
        self, body: models.DonationCreate, principal: Principal, key: str
    ) -> models.DonationCreated:
        """``record_donation`` for an event loop: nothing here blocks it.

        What needs no I/O runs on the loop; the append waits on the sequencer's future
        without holding a thread (ADR 0017), so many donations in flight cost no threads.
        """
        self.require_platform(principal)
        if body.charity_id not in self._registered_at or self.sequencer is None:
            return await run_in_threadpool(self.record_donation, body, principal, key)
        self._check_paid_at(body.charity_id, body.paid_at)  # from memory: no I/O
        request, secret = self._donation_request(body, principal, key)
        result = await asyncio.wrap_future(self.sequencer.submit(request))
        if result.replayed:  # reads the kept secret: off the loop
            return await run_in_threadpool(self._donation_created, result, secret)
        return self._donation_created(result, secret)

    def _donation_request(
        self, body: models.DonationCreate, principal: Principal, key: str
    ) -> tuple[AppendRequest, bytes]:
        """The append of a donation and the receipt secret it commits to (no I/O)."""
        self.require_platform(principal)
        self.accept_currency(body.currency)
        donation_id = new_id("dn")
        secret = os.urandom(16)
        # Written with the entry, in bulk with the other donations of its batch.
        donor = {
            "donation_id": donation_id,
            "receipt_secret": secret,
            "name": body.donor.name,
            "phone": body.donor.phone,
            "email": body.donor.email,
            "anonymous": body.donor.anonymous,
            "created_at": datetime.now(UTC),
        }
        draft = Draft(
            "donation.received",
            {
                "donation_id": donation_id,
                "charity_id": body.charity_id,
                "project_id": body.project_id,
                "amount": body.amount,
                "currency": body.currency,
                "channel": body.channel,
                "paid_at": body.paid_at.isoformat(),
                "donor_commitment": to_hex(donor_commitment(secret, donation_id)),
                "payment_ref_hash": to_hex(
                    payment_ref_hash(body.payment_ref, self.settings.payment_ref_key_bytes)
                ),
            },
        )
        requests: list[Request] = [draft]
        if body.payer_ref is not None:  # matched by the open pools that allow it (ADR 0040)
            payer = payer_key(body.payer_ref, self.settings.payment_ref_key_bytes)
            requests.append(MatchDonation(donation_id, payer))
        request = AppendRequest(
            requests,
            at=self.clock() if self.clock is not None else None,
            rows=[(DONOR, donor)],
            **self._idempotency("POST /donations", principal, key, body),
        )
        return request, secret

    def _donation_created(self, result: AppendResult, secret: bytes) -> models.DonationCreated:
        entry = result.entries[0]
        donation_id = str(entry.body["donation_id"])
        if result.replayed:
            secret = self.receipt_secret(donation_id)
        matches = [
            models.MatchMade(
                id=str(e.body["match_id"]),
                pool_id=str(e.body["pool_id"]),
                amount=int(e.body["amount"]),  # type: ignore[arg-type]
                seq=e.seq,
            )
            for e in result.entries[1:]
            if e.kind == "match.made"
        ]
        return models.DonationCreated(
            id=donation_id,
            seq=entry.seq,
            receipt=self.receipt(donation_id, secret),
            matches=matches,
        )

    def _check_paid_at(self, charity_id: str, paid_at: datetime) -> None:
        """A donation is paid after its charity registered and not in the future.

        The window runs from the ``at`` of the charity's ``charity.registered`` entry to
        ``paid_at_leeway_minutes`` after the server's clock (``clock``, the demo's, or
        now). Outside it a time is a mistake or an attack, and the journal would keep it
        forever (issue 12: year 9999 broke the donation's page).
        """
        registered = self._registered_at.get(charity_id)
        if registered is None:
            try:
                charity = self.charity(charity_id)
            except NotFoundError:
                return  # the ledger refuses the donation, naming charity_id
            registered = parse_at(self.store.entry(charity.seq).at)
            if len(self._registered_at) >= REGISTRATIONS_KEPT:
                self._registered_at.clear()
            self._registered_at[charity_id] = registered
        now = self.clock() if self.clock is not None else datetime.now(UTC)
        latest = now + timedelta(minutes=self.settings.paid_at_leeway_minutes)
        if not registered <= paid_at <= latest:
            earliest_text, latest_text = format_at(registered), format_at(latest)
            raise ApiError(
                422,
                "outside_window",
                f"paid_at: must be from {earliest_text} (when charity {charity_id} "
                f"registered) to {latest_text} (the server's clock plus "
                f"{self.settings.paid_at_leeway_minutes} minutes)",
                field="paid_at",
                earliest=earliest_text,
                latest=latest_text,
            )

    def receipt_secret(self, donation_id: str) -> bytes:
        """The receipt secret kept for the operator (to reissue a receipt)."""
        secret = self.read.receipt_secret(donation_id)
        if secret is None:
            raise NotFoundError("receipt for donation", donation_id)
        return secret

    def receipt(self, donation_id: str, secret: bytes) -> models.Receipt:
        base = self.settings.public_url
        api = f"{base}/api/v1/donations/{donation_id}"
        return models.Receipt(
            url=self.receipt_url(donation_id, secret),
            secret=secret.hex(),
            qr_png=f"{api}/receipt.png",
            qr_svg=f"{api}/receipt.svg",
            page=f"{api}/receipt",
        )

    def receipt_url(self, donation_id: str, secret: bytes) -> str:
        """The donation page with the receipt secret in the fragment (never sent to a server)."""
        return urls.receipt(self.settings.public_url, donation_id, secret)

    def refund(
        self, donation_id: str, body: models.RefundCreate, principal: Principal, key: str
    ) -> models.Recorded:
        self.require_platform(principal)
        self.donation(donation_id)
        route = f"POST /donations/{donation_id}/refunds"
        # A refunded donation's matches go back to their pools first (ADR 0040).
        reversals = [
            Draft(
                "match.reversed",
                {"match_id": match.match_id, "reason": f"donation refunded: {body.reason}"[:500]},
            )
            for match in self.read.find(MatchState, donation_id=donation_id)
            if not match.reversed
        ]
        result = self._append(
            [
                *reversals,
                Draft(
                    "donation.refunded",
                    {"donation_id": donation_id, "amount": body.amount, "reason": body.reason},
                ),
            ],
            **self._idempotency(route, principal, key, body),
        )
        return models.Recorded(id=donation_id, seqs=[e.seq for e in result.entries])

    # -- matching funds (配捐, ADR 0040) ---------------------------------------------------

    def register_matcher(
        self, body: models.MatcherCreate, principal: Principal, key: str | None = None
    ) -> models.MatcherCreated:
        """Register a matcher (a company or foundation that matches donations): platform."""
        self.require_platform(principal)
        matcher_id = new_id("mt")
        result = self._append(
            [
                Draft(
                    "matcher.registered",
                    {
                        "matcher_id": matcher_id,
                        "name": body.name,
                        "registration_no": body.registration_no,
                    },
                )
            ],
            **self._idempotency("POST /matchers", principal, key, body),
        )
        entry = result.entries[0]
        return models.MatcherCreated(
            id=str(entry.body["matcher_id"]), seq=entry.seq, name=str(entry.body["name"])
        )

    def open_pool(
        self,
        matcher_id: str,
        body: models.PoolCreate,
        principal: Principal,
        key: str | None = None,
    ) -> models.PoolPublic:
        """Open a matching pool of ``matcher_id`` (platform): its rules are the entry's."""
        self.require_platform(principal)
        self.accept_currency(body.currency)
        self.read.require(MatcherState, matcher_id)
        if body.ends_at <= body.starts_at:
            raise ApiError(
                422, "invalid_field", "ends_at: must be after starts_at", field="ends_at"
            )
        pool_id = new_id("mp")
        route = f"POST /matchers/{matcher_id}/pools"
        result = self._append(
            [
                Draft(
                    "match_pool.opened",
                    {
                        "pool_id": pool_id,
                        "matcher_id": matcher_id,
                        "title": body.title,
                        "currency": body.currency,
                        "total": body.total,
                        "ratio_percent": body.ratio_percent,
                        "cap_per_donation": body.cap_per_donation,
                        "cap_per_payer_per_day": body.cap_per_payer_per_day,
                        "min_interval_s": body.min_interval_s,
                        "starts_at": body.starts_at.isoformat(),
                        "ends_at": body.ends_at.isoformat(),
                        "day_offset_minutes": body.day_offset_minutes,
                        "project_ids": body.project_ids,
                    },
                )
            ],
            **self._idempotency(route, principal, key, body),
        )
        return self.views.pool_view(str(result.entries[0].body["pool_id"]))

    def close_pool(
        self, pool_id: str, body: models.PoolClose, principal: Principal, key: str | None = None
    ) -> models.PoolPublic:
        """Close a matching pool (platform): it matches no more donations."""
        self.require_platform(principal)
        self.read.require(PoolState, pool_id)
        route = f"POST /pools/{pool_id}/close"
        self._append(
            [Draft("match_pool.closed", {"pool_id": pool_id, "reason": body.reason})],
            **self._idempotency(route, principal, key, body),
        )
        return self.views.pool_view(pool_id)

    # -- fund use ------------------------------------------------------------------------------

    def record_disbursement(
        self, body: models.DisbursementCreate, principal: Principal, key: str
    ) -> models.DisbursementPublic:
        """Record fund use with its evidence, allocating donations to it as asked."""
        requests, evidence = self._disbursement_requests(body, principal)
        drafts = [r for r in requests if isinstance(r, Draft)]
        if len(drafts) == len(requests):
            requests = list(self._signed(body.charity_id, drafts, body.signed))
        elif self.signer_of(body.charity_id) is not None:
            # A signed request never says "fifo": its prepare answer lists the allocations.
            raise ApiError(
                422,
                "signature_required",
                "allocate: a charity with a registered signer lists its allocations; POST the "
                "request to /disbursements/prepare, which resolves fifo into the list it signs",
                field="allocate",
            )
        public = [from_hex(str(e["sha256"])) for e in evidence if e["public"]]

        def publish_evidence(connection: Connection, _entries: list[Entry]) -> None:
            if public:
                connection.execute(
                    EVIDENCE_FILE.update()
                    .where(
                        EVIDENCE_FILE.c.sha256.in_(public),
                        EVIDENCE_FILE.c.charity_id == body.charity_id,
                    )
                    .values(public=True)
                )

        try:
            result = self._append(
                requests,
                alongside=publish_evidence,
                **self._idempotency("POST /disbursements", principal, key, body),
            )
        except EntryError as error:
            raise _disbursement_field(error, fifo=body.allocate == "fifo") from None
        return self.views.disbursement_view(str(result.entries[0].body["disbursement_id"]))

    def _disbursement_requests(
        self, body: models.DisbursementCreate, principal: Principal
    ) -> tuple[list[Request], list[dict[str, Any]]]:
        self.require_charity(principal, body.charity_id)
        self.accept_currency(body.currency)
        evidence = []
        for i, item in enumerate(body.evidence):
            record = self.evidence.get(from_hex(item.sha256), body.charity_id)
            # Another charity's file is not this one's evidence (its hash is in the public
            # journal, and citing it as public would publish it).
            if record is None:
                raise ApiError(
                    422,
                    "unknown_evidence",
                    f"evidence[{i}].sha256: the charity uploaded no file with this hash; "
                    "POST /evidence first",
                    field=f"evidence[{i}].sha256",
                )
            evidence.append(
                {"sha256": item.sha256, "media_type": record.media_type, "public": item.public}
            )
        disbursement_id = self._new_id("db", body.charity_id, body.signed, 0)
        requests: list[Request] = [
            Draft(
                "disbursement.made",
                {
                    "disbursement_id": disbursement_id,
                    "charity_id": body.charity_id,
                    "project_id": body.project_id,
                    "amount": body.amount,
                    "currency": body.currency,
                    "payee": body.payee,
                    "purpose": body.purpose,
                    "evidence": evidence,
                },
                actor=principal.actor,
            )
        ]
        if body.allocate == "fifo":
            requests.append(FifoAllocation(disbursement_id, actor=principal.actor))
        elif body.allocate:
            requests += [
                Draft(
                    "allocation.made",
                    {
                        "allocation_id": self._new_id("al", body.charity_id, body.signed, i),
                        "donation_id": item.donation_id,
                        "disbursement_id": disbursement_id,
                        "amount": item.amount,
                    },
                    actor=principal.actor,
                )
                for i, item in enumerate(body.allocate)
            ]
        return requests, evidence

    def allocate(
        self, body: models.AllocationCreate, principal: Principal, key: str
    ) -> models.AllocationPublic:
        charity_id, drafts = self._allocation_drafts(body, principal)
        drafts = self._signed(charity_id, drafts, body.signed)
        result = self._append(
            drafts, **self._idempotency("POST /allocations", principal, key, body)
        )
        allocation = self.allocation(str(result.entries[0].body["allocation_id"]))
        return allocation_public(allocation)

    def _allocation_drafts(
        self, body: models.AllocationCreate, principal: Principal
    ) -> tuple[str, list[Draft]]:
        disbursement = self.disbursement(body.disbursement_id)
        self.require_charity(principal, disbursement.charity_id)
        charity_id = disbursement.charity_id
        return charity_id, [
            Draft(
                "allocation.made",
                {
                    "allocation_id": self._new_id("al", charity_id, body.signed, 0),
                    "donation_id": body.donation_id,
                    "disbursement_id": body.disbursement_id,
                    "amount": body.amount,
                },
                actor=principal.actor,
            )
        ]

    def reverse_allocation(
        self, allocation_id: str, body: models.Reason, principal: Principal, key: str
    ) -> models.AllocationPublic:
        charity_id, drafts = self._reversal_drafts(allocation_id, body, principal)
        drafts = self._signed(charity_id, drafts, body.signed)
        self._append(
            drafts,
            **self._idempotency(
                f"POST /allocations/{allocation_id}/reversal", principal, key, body
            ),
        )
        return allocation_public(self.allocation(allocation_id))

    def _reversal_drafts(
        self, allocation_id: str, body: models.Reason, principal: Principal
    ) -> tuple[str, list[Draft]]:
        allocation = self.allocation(allocation_id)
        disbursement = self.disbursement(allocation.disbursement_id)
        self.require_charity(principal, disbursement.charity_id)
        return disbursement.charity_id, [
            Draft(
                "allocation.reversed",
                {"allocation_id": allocation_id, "reason": body.reason},
                actor=principal.actor,
            )
        ]

    def void_disbursement(
        self, disbursement_id: str, body: models.Reason, principal: Principal, key: str
    ) -> models.DisbursementPublic:
        """Void a disbursement, reversing its live allocations first (ADR 0003)."""
        charity_id, drafts = self._void_drafts(disbursement_id, body, principal)
        drafts = self._signed(charity_id, drafts, body.signed)
        route = f"POST /disbursements/{disbursement_id}/void"
        self._append(drafts, **self._idempotency(route, principal, key, body))
        return self.views.disbursement_view(disbursement_id)

    def _void_drafts(
        self, disbursement_id: str, body: models.Reason, principal: Principal
    ) -> tuple[str, list[Draft]]:
        disbursement = self.disbursement(disbursement_id)
        self.require_charity(principal, disbursement.charity_id)
        live = self.read.find(AllocationState, disbursement_id=disbursement_id, reversed=False)
        drafts = [
            Draft(
                "allocation.reversed",
                {"allocation_id": a.allocation_id, "reason": body.reason},
                actor=principal.actor,
            )
            for a in live
        ]
        drafts.append(
            Draft(
                "disbursement.voided",
                {"disbursement_id": disbursement_id, "reason": body.reason},
                actor=principal.actor,
            )
        )
        return disbursement.charity_id, drafts

    # -- charity signatures (ADR 0037) ----------------------------------------------------

    def signer_of(self, charity_id: str) -> str | None:
        """The charity's signer now (its last charity.registered or signer_changed)."""
        return self.charity(charity_id).signer

    def signing_domain(self) -> tuple[int, str] | None:
        """The EIP-712 domain's chain id and CharityRegistry, or None without a chain."""
        if self.chain is None:
            return None
        return self.chain.chain_id, self.chain.charity_registry.address.lower()

    @staticmethod
    def _new_id(prefix: str, charity_id: str, signed: models.Signed | None, index: int) -> str:
        """A random id, or, for a signed request, the one its nonce derives (ADR 0037)."""
        if signed is None:
            return new_id(prefix)
        return signing.derived_id(prefix, charity_id, signed.nonce, index)

    def _signed(
        self, charity_id: str, drafts: list[Draft], signed: models.Signed | None
    ) -> list[Draft]:
        """The drafts with the charity's signatures checked and attached, or a refusal."""
        domain = self.signing_domain()
        return signing.check_signatures(
            drafts,
            charity_id,
            self.signer_of(charity_id),
            None if signed is None else signed.signatures,
            chain_id=None if domain is None else domain[0],
            registry=None if domain is None else domain[1],
        )

    def prepare(
        self,
        route: str,
        charity_id: str,
        drafts: list[Draft],
        request: BaseModel,
        nonce: str,
        *,
        replace: dict[str, Any] | None = None,
    ) -> models.Prepared:
        """What the charity signs for a request, and the request to submit with it."""
        domain = self.signing_domain()
        if domain is None:
            raise ApiError(503, "chain_unavailable", "no chain: nothing can be signed for it")
        # What the ledger would refuse is refused here too: nothing malformed is signed.
        drafts = [
            Draft(d.kind, validate_body(d.kind, d.body), actor=d.actor, sig=d.sig) for d in drafts
        ]
        body = request.model_dump(mode="json", exclude={"signed"})
        body.update(replace or {})
        body["signed"] = {"nonce": nonce, "signatures": []}
        return models.Prepared(
            charity_id=charity_id,
            signer=self.signer_of(charity_id),
            nonce=nonce,
            route=route,
            request=body,
            typed_data=signing.typed_data_of(
                drafts, charity_id, chain_id=domain[0], registry=domain[1]
            ),
        )

    @staticmethod
    def _with_nonce(body: Any) -> tuple[Any, str]:
        nonce = body.signed.nonce if body.signed is not None else signing.new_nonce()
        return body.model_copy(update={"signed": models.Signed(nonce=nonce)}), nonce

    def prepare_project(
        self, charity_id: str, body: models.ProjectCreate, principal: Principal
    ) -> models.Prepared:
        body, nonce = self._with_nonce(body)
        drafts = self._project_drafts(charity_id, body, principal)
        route = f"POST /charities/{charity_id}/projects"
        return self.prepare(route, charity_id, drafts, body, nonce)

    def prepare_disbursement(
        self, body: models.DisbursementCreate, principal: Principal
    ) -> models.Prepared:
        body, nonce = self._with_nonce(body)
        if body.allocate == "fifo":
            planned = self._plan_fifo(body)
            body = body.model_copy(update={"allocate": planned})
        requests, _ = self._disbursement_requests(body, principal)
        drafts = [r for r in requests if isinstance(r, Draft)]
        allocate = (
            None if body.allocate is None else [a.model_dump(mode="json") for a in body.allocate]  # type: ignore[union-attr]
        )
        return self.prepare(
            "POST /disbursements",
            body.charity_id,
            drafts,
            body,
            nonce,
            replace={"allocate": allocate},
        )

    def _plan_fifo(self, body: models.DisbursementCreate) -> list[models.AllocationIn]:
        """What ``allocate: "fifo"`` would allocate now, as a list (the books as they are)."""
        disbursement = DisbursementState(
            disbursement_id="db_planned",
            charity_id=body.charity_id,
            project_id=body.project_id,
            amount=body.amount,
            currency=body.currency,
            payee=body.payee,
            purpose=body.purpose,
            seq=0,
        )
        with self.store.engine.connect() as connection:
            candidates = load_fifo_candidates(
                connection, Books(), disbursement, limit=FIFO_PLAN_LIMIT
            )
        return [
            models.AllocationIn(donation_id=donation.donation_id, amount=amount)
            for donation, amount in plan_fifo(disbursement, candidates)
        ]

    def prepare_allocation(
        self, body: models.AllocationCreate, principal: Principal
    ) -> models.Prepared:
        body, nonce = self._with_nonce(body)
        charity_id, drafts = self._allocation_drafts(body, principal)
        return self.prepare("POST /allocations", charity_id, drafts, body, nonce)

    def prepare_reversal(
        self, allocation_id: str, body: models.Reason, principal: Principal
    ) -> models.Prepared:
        body, nonce = self._with_nonce(body)
        charity_id, drafts = self._reversal_drafts(allocation_id, body, principal)
        route = f"POST /allocations/{allocation_id}/reversal"
        return self.prepare(route, charity_id, drafts, body, nonce)

    def prepare_void(
        self, disbursement_id: str, body: models.Reason, principal: Principal
    ) -> models.Prepared:
        body, nonce = self._with_nonce(body)
        charity_id, drafts = self._void_drafts(disbursement_id, body, principal)
        route = f"POST /disbursements/{disbursement_id}/void"
        return self.prepare(route, charity_id, drafts, body, nonce)

    def _signer_drafts(
        self, charity_id: str, body: models.SignerChange, principal: Principal
    ) -> list[Draft]:
        self.require_charity(principal, charity_id)
        charity = self.charity(charity_id)
        previous = charity.seq if charity.signer_seq is None else charity.signer_seq
        return [
            Draft(
                "charity.signer_changed",
                {
                    "charity_id": charity_id,
                    "signer": body.signer,
                    "previous_seq": previous,
                    "reason": body.reason,
                },
                actor=principal.actor,
            )
        ]

    def change_signer(
        self, charity_id: str, body: models.SignerChange, principal: Principal, key: str | None
    ) -> models.Recorded:
        """Replace (or revoke) a charity's signer: signed by the signer it replaces when the
        charity asks; the platform may do it unsigned (a lost key), and the journal says so."""
        drafts = self._signer_drafts(charity_id, body, principal)
        current = self.signer_of(charity_id)
        if current is not None and (principal.role != "platform" or body.signed is not None):
            domain = self.signing_domain()
            drafts = signing.check_signatures(
                drafts,
                charity_id,
                current,
                None if body.signed is None else body.signed.signatures,
                chain_id=None if domain is None else domain[0],
                registry=None if domain is None else domain[1],
            )
        route = f"POST /charities/{charity_id}/signer"
        result = self._append(drafts, **self._idempotency(route, principal, key, body))
        return models.Recorded(id=charity_id, seqs=[e.seq for e in result.entries])

    def prepare_signer_change(
        self, charity_id: str, body: models.SignerChange, principal: Principal
    ) -> models.Prepared:
        body, nonce = self._with_nonce(body)
        drafts = self._signer_drafts(charity_id, body, principal)
        route = f"POST /charities/{charity_id}/signer"
        return self.prepare(route, charity_id, drafts, body, nonce)
