"""The API's reads: lookups, proof bundles, consistency proofs, exports, the journal.

``JournalReads`` is the base of ``api.services.Services``: the routes, the CLI and the
demo call these on the one ``Services`` object, beside its writes. Every query goes
through the store (``ledger.store.queries``, ``CheckpointLog``, ``Store``); a lookup of
something that does not exist raises ``ledger.errors.NotFoundError`` (ADR 0026).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from api import models
from api.errors import ApiError
from api.replica import Reader
from chain.client import ChainClient
from chain.errors import ChainError
from explorer.views import PublicViews, checkpoint_public
from ledger.accounting import (
    AllocationState,
    CharityState,
    DisbursementState,
    DonationState,
    ProjectState,
)
from ledger.entries import to_hex
from ledger.errors import NotFoundError
from ledger.store import projections
from ledger.store.checkpoints import AnchoredCheckpoint, CheckpointLog
from ledger.store.journal import Store
from ledger.store.queries import ReadModel
from ledger.store.tlog import SignedCheckpoints
from ledger.store.witnesses import Witnessing

BUNDLE_CHECKPOINT = (
    "checkpoint_index",
    "tree_size",
    "root_hash",
    "chain_id",
    "contract",
    "tx_hash",
    "block_number",
)
"""What a proof bundle says of its checkpoint: ``build_bundle``'s arguments that are
``AnchoredCheckpoint``'s fields of the same names."""


class JournalReads:
    """What the API reads from the journal, its projections and its checkpoints."""

    store: Store
    views: PublicViews
    reader: Reader | None
    chain: ChainClient | None

    @property
    def committed_store(self) -> Store:
        """Where reads of what is committed go: a SQLite file's read-only twin, whose
        reads do not queue on the write lock, else the primary (``api.replica``)."""
        return self.store if self.reader is None else self.reader.any_store

    @property
    def checkpoints(self) -> CheckpointLog:
        """The anchored checkpoints, to read (the anchor worker keeps its own to write)."""
        return CheckpointLog(self.committed_store.engine)

    def connect(self) -> Connection:
        return self.store.engine.connect()

    @property
    def read(self) -> ReadModel:
        """The store's read model where it sees every committed write: the read-write
        engine, or a SQLite file's read-only twin (``api.replica.Reader.any_store``)."""
        return ReadModel(self.committed_store.engine)

    # -- lookups: NotFoundError when there is no such thing ------------------------------

    def charity(self, charity_id: str) -> CharityState:
        return self.read.charity(charity_id)

    def project(self, project_id: str) -> ProjectState:
        return self.read.project(project_id)

    def donation(self, donation_id: str) -> DonationState:
        return self.read.donation(donation_id)

    def disbursement(self, disbursement_id: str) -> DisbursementState:
        return self.read.disbursement(disbursement_id)

    def allocation(self, allocation_id: str) -> AllocationState:
        return self.read.allocation(allocation_id)

    # -- anchoring and proofs ------------------------------------------------------------------

    def reading(self, size: int) -> Store:
        """The store to read the journal's first ``size`` entries from (api.replica)."""
        return self.store if self.reader is None else self.reader.store_for(size)

    def proof_bundle(self, donation_id: str) -> dict[str, Any]:
        """The proof bundle (DESIGN §6) of a donation's entry, against its latest checkpoint.

        Raises:
            ApiError: 409 ``not_anchored_yet`` until a checkpoint covers the entry.
        """
        return self.proof_bundle_of(donation_id)[0]

    def proof_bundle_of(
        self, donation_id: str, checkpoint_index: int | None = None
    ) -> tuple[dict[str, Any], bool]:
        """The proof bundle of a donation against checkpoint ``checkpoint_index`` (by
        default the latest that covers it), and whether it is settled (ADR 0036): named,
        and confirmed on a lasting chain, it is the same bundle forever.

        Raises:
            ApiError: 409 ``not_anchored_yet`` until a checkpoint covers the entry; 422
                ``checkpoint_not_covering`` for a checkpoint older than the donation.
            NotFoundError: no such donation, or no such checkpoint.
        """
        from audit.bundle import build_bundle

        donation = self.donation(donation_id)
        if checkpoint_index is not None:
            named = self.checkpoints.get(checkpoint_index)
            if named is None:
                raise NotFoundError("checkpoint", str(checkpoint_index))
            if named.tree_size <= donation.seq:
                raise ApiError(
                    422,
                    "checkpoint_not_covering",
                    f"checkpoint {checkpoint_index} holds the journal's first "
                    f"{named.tree_size} entries; donation {donation_id} is entry {donation.seq}",
                    field="checkpoint",
                )
            checkpoint: AnchoredCheckpoint | None = named
        else:
            checkpoint = self.checkpoints.covering(donation.seq)
        if checkpoint is None:
            due = self.views.next_anchor_due()
            raise ApiError(
                409,
                "not_anchored_yet",
                "this donation is recorded but not anchored yet; its proof exists once the "
                "next checkpoint is anchored" + (f", due by {due.isoformat()}" if due else ""),
                next_anchor_due=due.isoformat() if due else None,
            )
        store = self.reading(checkpoint.tree_size)
        entry = store.entry(donation.seq)
        proof = store.inclusion_proof(donation.seq, checkpoint.tree_size)
        bundle: dict[str, Any] = build_bundle(
            entry=entry,
            inclusion_proof=proof,
            checkpoint_note=self.signed_checkpoint_note(checkpoint.tree_size),
            fund_use=self._fund_use(donation_id, store, checkpoint.tree_size),
            **{name: getattr(checkpoint, name) for name in BUNDLE_CHECKPOINT},
        )
        settled = checkpoint_index is not None and self.views.settled(checkpoint_public(checkpoint))
        return bundle, settled

    def _fund_use(self, donation_id: str, store: Store, tree_size: int) -> dict[str, Any] | None:
        """The donation's disbursements in the checkpoint, and their signers (ADR 0037)."""
        from audit.fund_use import build_fund_use

        if self.chain is None:
            return None
        try:
            registry = self.chain.charity_registry.address
        except ChainError:
            return None
        items = []
        seen: set[str] = set()
        for _allocation, disbursement in self.read.funding(donation_id):
            if disbursement.seq >= tree_size or disbursement.disbursement_id in seen:
                continue
            seen.add(disbursement.disbursement_id)
            entry = store.entry(disbursement.seq)
            signer, signer_seq = self.views.signer_at(disbursement.charity_id, entry.seq)
            signer_entry = None if signer is None or signer_seq is None else store.entry(signer_seq)
            items.append(
                (
                    entry,
                    store.inclusion_proof(entry.seq, tree_size),
                    signer_entry,
                    []
                    if signer_entry is None
                    else store.inclusion_proof(signer_entry.seq, tree_size),
                )
            )
        return build_fund_use(registry, items)

    def signed_checkpoint_note(self, tree_size: int) -> str | None:
        """The log key's signed note of the checkpoint at ``tree_size``, if it was signed,
        with the witnesses' cosignatures of it kept so far (ADR 0035)."""
        record = SignedCheckpoints(self.committed_store.engine).get(tree_size)
        if record is None:
            return None
        witnesses = getattr(self, "witnesses", None)
        if witnesses is None:
            return record.note
        return str(witnesses.cosigned_note(Witnessing(self.committed_store.engine), record))

    def consistency(self, first: int, second: int) -> models.ConsistencyPublic:
        size = self.committed_store.size()
        if not 0 <= first <= second <= size:
            raise ApiError(
                422,
                "invalid_size",
                f"need 0 <= first <= second <= {size} (the journal's size)",
                field="second" if second > size else "first",
            )
        store = self.reading(second)
        return models.ConsistencyPublic(
            first=first,
            second=second,
            first_root=to_hex(store.root(first)),
            second_root=to_hex(store.root(second)),
            proof=[to_hex(h) for h in store.consistency_proof(first, second)],
        )

    def export_csv(
        self,
        kind: str,
        *,
        charity_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Iterator[bytes]:
        """An auditor's export as CSV lines, streamed (amounts in minor units).

        Text cells a spreadsheet could run as a formula are prefixed with ``'``
        (``api.spreadsheet``): a charity's payee or purpose is never a formula.
        """
        from api.spreadsheet import safe_row

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(safe_row(projections.EXPORT_COLUMNS[kind]))
        with self.connect() as connection:
            for row in projections.export_rows(
                connection, kind, charity_id=charity_id, start=start, end=end
            ):
                writer.writerow(safe_row(row))
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue().encode("utf-8")
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    def journal_lines(self, after: int | None, limit: int) -> Iterator[bytes]:
        """The journal as JSON Lines: the leaf bytes of each entry and a newline."""
        start = 0 if after is None else after + 1
        stop = start + limit
        if self.reader is not None and self.reader.replica is not None and self.reader.lags:
            # Only a standby needs the journal's size: whether it holds the whole page.
            stop = min(stop, self.committed_store.size())
        for leaf in self.reading(stop).leaves(start, stop):
            yield leaf + b"\n"
