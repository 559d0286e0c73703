"""Public views: what anyone may see of the journal, built from the projections.

One place builds them: the API's GET routes return them as JSON, and the explorer's
pages render them (each page's ``.json`` twin is the same object). Read-only: a store
opened on a read-only connection serves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from explorer import models
from ledger.accounting import (
    AllocationState,
    CharityState,
    DisbursementState,
    DonationState,
    ProjectState,
)
from ledger.entries import Entry, to_hex
from ledger.store import projections
from ledger.store.checkpoints import AnchoredCheckpoint, CheckpointLog
from ledger.store.journal import Store


class NotFoundError(LookupError):
    """No such charity, project, donation, disbursement or allocation."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"no {what} {key!r}")
        self.what = what
        self.key = key


@dataclass
class PublicViews:
    """Builds the public views of one journal.

    Attributes:
        store: the journal (a read-only connection is enough).
        public_url: base of the links in the views (evidence downloads).
        anchor_interval_s: the anchor worker's interval, to say when an entry that is not
            anchored yet will be; None when nothing anchors.
    """

    store: Store
    public_url: str
    anchor_interval_s: float | None = None

    @property
    def checkpoints(self) -> CheckpointLog:
        return CheckpointLog(self.store.engine)

    def connect(self) -> Connection:
        return self.store.engine.connect()

    def _get(self, kind: type[projections.S], key: str, what: str) -> projections.S:
        with self.connect() as connection:
            found = projections.get(connection, kind, key)
        if found is None:
            raise NotFoundError(what, key)
        return found

    def charity(self, charity_id: str) -> CharityState:
        return self._get(CharityState, charity_id, "charity")

    def project(self, project_id: str) -> ProjectState:
        return self._get(ProjectState, project_id, "project")

    def donation(self, donation_id: str) -> DonationState:
        return self._get(DonationState, donation_id, "donation")

    def disbursement(self, disbursement_id: str) -> DisbursementState:
        return self._get(DisbursementState, disbursement_id, "disbursement")

    def allocation(self, allocation_id: str) -> AllocationState:
        return self._get(AllocationState, allocation_id, "allocation")

    def _balances(self, **where: str) -> list[models.Balance]:
        with self.connect() as connection:
            rows = projections.balances(connection, **where)
        return [
            models.Balance(
                currency=b.currency,
                received=b.received,
                refunded=b.refunded,
                allocated=b.allocated,
                disbursed=b.disbursed,
                held=b.held,
            )
            for b in rows
        ]

    def charity_view(self, charity_id: str) -> models.CharityPublic:
        charity = self.charity(charity_id)
        with self.connect() as connection:
            projects = projections.find(connection, ProjectState, charity_id=charity_id)
        return models.CharityPublic(
            id=charity.charity_id,
            seq=charity.seq,
            name=charity.name,
            registration_no=charity.registration_no,
            signer=charity.signer,
            projects=[
                models.ProjectSummary(
                    id=p.project_id, title=p.title, goal_amount=p.goal_amount, currency=p.currency
                )
                for p in projects
            ],
            balances=self._balances(charity_id=charity_id),
        )

    def project_view(self, project_id: str) -> models.ProjectPublic:
        project = self.project(project_id)
        charity = self.charity(project.charity_id)
        return models.ProjectPublic(
            id=project.project_id,
            seq=project.seq,
            charity_id=charity.charity_id,
            charity_name=charity.name,
            title=project.title,
            goal_amount=project.goal_amount,
            currency=project.currency,
            balances=self._balances(project_id=project_id),
        )

    def _evidence_public(self, items: Sequence[Any]) -> list[models.EvidencePublic]:
        base = f"{self.public_url}/api/v1/evidence"
        return [
            models.EvidencePublic(
                sha256=item["sha256"],
                media_type=item["media_type"],
                public=item["public"],
                url=f"{base}/{item['sha256']}" if item["public"] else None,
            )
            for item in items
        ]

    def _disbursement_summary(
        self, disbursement: DisbursementState, entry: Entry
    ) -> models.DisbursementSummary:
        return models.DisbursementSummary(
            id=disbursement.disbursement_id,
            seq=disbursement.seq,
            at=entry.at,
            payee=disbursement.payee,
            purpose=disbursement.purpose,
            amount=disbursement.amount,
            currency=disbursement.currency,
            voided=disbursement.voided,
            evidence=self._evidence_public(entry.body["evidence"]),  # type: ignore[arg-type]
        )

    def donation_view(self, donation_id: str) -> models.DonationPublic:
        donation = self.donation(donation_id)
        charity = self.charity(donation.charity_id)
        project = self.project(donation.project_id) if donation.project_id else None
        timeline = self.store.entries_about(donation_id)
        received = timeline[0]
        with self.connect() as connection:
            allocations = projections.find(
                connection, AllocationState, donation_id=donation_id, reversed=False
            )
            disbursements = {
                a.disbursement_id: projections.get(connection, DisbursementState, a.disbursement_id)
                for a in allocations
            }
        funded = []
        for allocation in allocations:
            disbursement = disbursements[allocation.disbursement_id]
            assert disbursement is not None
            funded.append(
                models.Funding(
                    allocation_id=allocation.allocation_id,
                    seq=allocation.seq,
                    amount=allocation.amount,
                    disbursement=self._disbursement_summary(
                        disbursement, self.store.entry(disbursement.seq)
                    ),
                )
            )
        refunds = [
            models.RefundPublic(
                seq=e.seq,
                at=e.at,
                amount=_int(e.body["amount"]),
                reason=str(e.body["reason"]),
            )
            for e in timeline
            if e.kind == "donation.refunded"
        ]
        return models.DonationPublic(
            id=donation.donation_id,
            seq=donation.seq,
            recorded_at=received.at,
            charity_id=charity.charity_id,
            charity_name=charity.name,
            project_id=project.project_id if project else None,
            project_title=project.title if project else None,
            amount=donation.amount,
            currency=donation.currency,
            channel=donation.channel,
            paid_at=donation.paid_at,
            donor_commitment=str(received.body["donor_commitment"]),
            refunded=donation.refunded,
            allocated=donation.allocated,
            unspent=donation.available,
            status=self.status(donation.seq),
            funded=funded,
            refunds=refunds,
            timeline=[models.EntryRef(seq=e.seq, kind=e.kind, at=e.at) for e in timeline],
        )

    def disbursement_view(self, disbursement_id: str) -> models.DisbursementPublic:
        disbursement = self.disbursement(disbursement_id)
        charity = self.charity(disbursement.charity_id)
        entry = self.store.entry(disbursement.seq)
        with self.connect() as connection:
            allocations = projections.find(
                connection, AllocationState, disbursement_id=disbursement_id
            )
        return models.DisbursementPublic(
            id=disbursement.disbursement_id,
            seq=disbursement.seq,
            at=entry.at,
            charity_id=charity.charity_id,
            charity_name=charity.name,
            project_id=disbursement.project_id,
            payee=disbursement.payee,
            purpose=disbursement.purpose,
            amount=disbursement.amount,
            currency=disbursement.currency,
            allocated=disbursement.allocated,
            unfunded=disbursement.unfunded,
            voided=disbursement.voided,
            evidence=self._evidence_public(entry.body["evidence"]),  # type: ignore[arg-type]
            allocations=[allocation_public(a) for a in allocations],
            timeline=[
                models.EntryRef(seq=e.seq, kind=e.kind, at=e.at)
                for e in self.store.entries_about(disbursement_id)
            ],
        )

    def next_anchor_due(self) -> datetime | None:
        """When the worker will anchor next, at the latest (None without a chain)."""
        if self.anchor_interval_s is None:
            return None
        latest = self.checkpoints.latest()
        base = latest.anchored_at if latest else datetime.now(UTC)
        return max(base + timedelta(seconds=self.anchor_interval_s), datetime.now(UTC))

    def status(self, seq: int) -> models.DonationStatus:
        checkpoint = self.checkpoints.covering(seq)
        if checkpoint is None:
            return models.DonationStatus(
                state="recorded", checkpoint=None, next_anchor_due=self.next_anchor_due()
            )
        return models.DonationStatus(
            state="confirmed" if checkpoint.confirmed else "anchored",
            checkpoint=checkpoint_public(checkpoint),
            next_anchor_due=None,
        )


def checkpoint_public(checkpoint: AnchoredCheckpoint) -> models.CheckpointPublic:
    return models.CheckpointPublic(
        index=checkpoint.checkpoint_index,
        tree_size=checkpoint.tree_size,
        root_hash=to_hex(checkpoint.root_hash),
        chain_id=checkpoint.chain_id,
        contract=checkpoint.contract,
        tx_hash=to_hex(checkpoint.tx_hash),
        block_number=checkpoint.block_number,
        block_hash=to_hex(checkpoint.block_hash),
        anchored_at=checkpoint.anchored_at,
        confirmed=checkpoint.confirmed,
    )


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def allocation_public(allocation: AllocationState) -> models.AllocationPublic:
    return models.AllocationPublic(
        id=allocation.allocation_id,
        seq=allocation.seq,
        donation_id=allocation.donation_id,
        disbursement_id=allocation.disbursement_id,
        amount=allocation.amount,
        reversed=allocation.reversed,
    )
