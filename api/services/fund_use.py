"""Fund use: disbursements with their evidence, the allocations of donations to them,
reversals and voids (ADR 0003), and what a charity signs for each (ADR 0037)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Connection

from api import models
from api.errors import ApiError
from api.keys import Principal
from api.services.signatures import SignableRequest, SignedWrites, preparing
from explorer.listings import allocation_public
from ledger.accounting import AllocationState, Books, DisbursementState, plan_fifo
from ledger.entries import Entry, from_hex
from ledger.errors import EntryError
from ledger.store.derived import load_fifo_candidates
from ledger.store.requests import Draft, FifoAllocation, Request
from ledger.store.tables import EVIDENCE_FILE

_ENTRY_FIELD = re.compile(r"^entries\[(\d+)\]\.(?:body\.)?(.*)$")


def _disbursement_field(error: EntryError, *, fifo: bool) -> EntryError:
    """Name the request's field: the entries after the disbursement are its ``allocate``."""
    match = _ENTRY_FIELD.match(error.field)
    if match is None or match.group(1) == "0":
        return error
    field = "allocate" if fifo else f"allocate[{int(match.group(1)) - 1}].{match.group(2)}"
    return type(error)(field, error.message)


DISBURSEMENT_FIELDS = {"charity_id", "project_id", "amount", "currency", "payee", "purpose"}
"""What a disbursement's entry takes as is from its request (as a planned one does)."""

FIFO_PLAN_LIMIT = 1000
"""Donations a prepare considers for ``allocate: "fifo"`` (a request lists at most 1000)."""


class FundUseWrites(SignedWrites):
    """Recording disbursements and allocations, and correcting them."""

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
        made = {"disbursement_id": disbursement_id, "evidence": evidence}
        made |= body.model_dump(include=DISBURSEMENT_FIELDS)
        requests: list[Request] = [Draft("disbursement.made", made, actor=principal.actor)]
        if body.allocate == "fifo":
            requests.append(FifoAllocation(disbursement_id, actor=principal.actor))
        elif body.allocate:
            requests += [
                self._allocation_made(
                    self._new_id("al", body.charity_id, body.signed, i),
                    disbursement_id,
                    item,
                    principal,
                )
                for i, item in enumerate(body.allocate)
            ]
        return requests, evidence

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
            disbursement_id="db_planned", seq=0, **body.model_dump(include=DISBURSEMENT_FIELDS)
        )
        with self.store.engine.connect() as connection:
            candidates = load_fifo_candidates(
                connection, Books(), disbursement, limit=FIFO_PLAN_LIMIT
            ).candidates
        return [
            models.AllocationIn(donation_id=donation.donation_id, amount=amount)
            for donation, amount in plan_fifo(disbursement, candidates)
        ]

    @staticmethod
    def _allocation_made(
        allocation_id: str,
        disbursement_id: str,
        allocation: models.AllocationIn | models.AllocationCreate,
        principal: Principal,
    ) -> Draft:
        """The entry that funds a disbursement with (part of) a donation."""
        made = {"allocation_id": allocation_id, "disbursement_id": disbursement_id}
        made |= allocation.model_dump(include={"donation_id", "amount"})
        return Draft("allocation.made", made, actor=principal.actor)

    @staticmethod
    def _reversal(allocation_id: str, reason: str, principal: Principal) -> Draft:
        """The entry that gives an allocation's money back to its donation."""
        reversal = {"allocation_id": allocation_id, "reason": reason}
        return Draft("allocation.reversed", reversal, actor=principal.actor)

    def allocate(
        self, body: models.AllocationCreate, principal: Principal, key: str
    ) -> models.AllocationPublic:
        request = self._allocation_request(body, principal)
        result = self._append_signed(request, body, principal, key)
        return allocation_public(self.allocation(str(result.entries[0].body["allocation_id"])))

    def _allocation_request(
        self, body: models.AllocationCreate, principal: Principal
    ) -> SignableRequest:
        disbursement = self.disbursement(body.disbursement_id)
        self.require_charity(principal, disbursement.charity_id)
        charity_id = disbursement.charity_id
        allocation_id = self._new_id("al", charity_id, body.signed, 0)
        made = self._allocation_made(allocation_id, body.disbursement_id, body, principal)
        return SignableRequest("POST /allocations", charity_id, [made])

    def reverse_allocation(
        self, allocation_id: str, body: models.Reason, principal: Principal, key: str
    ) -> models.AllocationPublic:
        self._append_signed(
            self._reversal_request(allocation_id, body, principal), body, principal, key
        )
        return allocation_public(self.allocation(allocation_id))

    def _reversal_request(
        self, allocation_id: str, body: models.Reason, principal: Principal
    ) -> SignableRequest:
        allocation = self.allocation(allocation_id)
        disbursement = self.disbursement(allocation.disbursement_id)
        self.require_charity(principal, disbursement.charity_id)
        return SignableRequest(
            f"POST /allocations/{allocation_id}/reversal",
            disbursement.charity_id,
            [self._reversal(allocation_id, body.reason, principal)],
        )

    def void_disbursement(
        self, disbursement_id: str, body: models.Reason, principal: Principal, key: str
    ) -> models.DisbursementPublic:
        """Void a disbursement, reversing its live allocations first (ADR 0003)."""
        self._append_signed(
            self._void_request(disbursement_id, body, principal), body, principal, key
        )
        return self.views.disbursement_view(disbursement_id)

    def _void_request(
        self, disbursement_id: str, body: models.Reason, principal: Principal
    ) -> SignableRequest:
        disbursement = self.disbursement(disbursement_id)
        self.require_charity(principal, disbursement.charity_id)
        live = self.read.find(AllocationState, disbursement_id=disbursement_id, reversed=False)
        drafts = [self._reversal(a.allocation_id, body.reason, principal) for a in live]
        voided = {"disbursement_id": disbursement_id, "reason": body.reason}
        drafts.append(Draft("disbursement.voided", voided, actor=principal.actor))
        return SignableRequest(
            f"POST /disbursements/{disbursement_id}/void", disbursement.charity_id, drafts
        )

    prepare_allocation = preparing(_allocation_request)
    """``prepare_allocation(body, principal)``: what the charity signs to allocate."""

    prepare_reversal = preparing(_reversal_request)
    """``prepare_reversal(allocation_id, body, principal)``: what reversing it signs."""

    prepare_void = preparing(_void_request)
    """``prepare_void(disbursement_id, body, principal)``: what voiding it signs."""
