"""The charities' signatures of their fund-use entries, checked by the explorer (ADR 0037).

A charity signs a disbursement (and its other fund-use entries) with the signer it had
when the entry was appended; a signer change names the entry of the previous one
(``previous_seq``), so the signer of any moment is a short walk back from the charity's
latest change. The explorer checks each signature itself and shows what it found.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.typed_data import SignatureError, recover_signer, typed_data
from explorer import models
from ledger.accounting import CharityState
from ledger.entries import CHARITY_SIGNED_KINDS, Entry
from ledger.errors import LedgerError
from ledger.store.journal import Store
from ledger.store.queries import ReadModel


@dataclass(frozen=True)
class Signatures:
    """Checks charities' signatures against the journal of ``store``.

    Attributes:
        signing_domain: the EIP-712 domain's chain id and CharityRegistry; None: no
            chain, signatures are shown unchecked.
    """

    store: Store
    read: ReadModel
    signing_domain: tuple[int, str] | None

    def signer_at(
        self, charity: CharityState, seq: int, current: Entry | None = None
    ) -> tuple[str | None, int | None]:
        """The charity's signer when entry ``seq`` was appended, and the entry that set it.

        Walks back from the charity's last signer change through ``previous_seq``: a few
        reads for a few rotations, none for a charity that never rotated when ``current``
        (the entry that set its current signer) was read with the charity.
        """
        step = charity.seq if charity.signer_seq is None else charity.signer_seq
        entry = current if current is not None and current.seq == step else None
        while step > seq and step != charity.seq:
            entry = entry or self.store.entry(step)
            step = int(str(entry.body["previous_seq"]))
            entry = None
        if step > seq:
            return None, None
        signer = (entry or self.store.entry(step)).body["signer"]
        return (None if signer is None else str(signer)), step

    def signature(
        self, entry: Entry, charity: CharityState, current: Entry | None = None
    ) -> models.SignaturePublic:
        """Whether the charity signed ``entry`` with its signer of the time, checked here.

        ``current``: the entry that set the charity's current signer, if already read.
        """
        signer, signer_seq = self.signer_at(charity, entry.seq, current)
        if signer is None:
            status = "unsigned" if entry.sig is None else "invalid"
        elif entry.sig is None:
            status = "missing"
        elif self.signing_domain is None:
            status = "unchecked"
        else:
            chain_id, registry = self.signing_domain
            try:
                typed = typed_data(
                    entry.kind,
                    entry.body,
                    charity_id=charity.charity_id,
                    chain_id=chain_id,
                    registry=registry,
                )
                by = recover_signer(typed, entry.sig)
            except (SignatureError, ValueError):
                by = None
            status = "signed" if by == signer else "invalid"
        return models.SignaturePublic(
            status=status,  # type: ignore[arg-type]
            signer=signer,
            signer_seq=signer_seq,
        )

    def of_entry(self, seq: int, kind: str) -> models.SignaturePublic | None:
        """The charity's signature of a fund-use entry; None for other kinds, or for an
        entry that no longer parses (its page shows it as stored)."""
        if kind not in CHARITY_SIGNED_KINDS:
            return None
        try:
            entry = self.store.entry(seq)
            body = entry.body
            if "charity_id" in body:
                charity_id = str(body["charity_id"])
            else:
                disbursement_id = body.get("disbursement_id")
                if disbursement_id is None:
                    allocation = self.read.allocation(str(body["allocation_id"]))
                    disbursement_id = allocation.disbursement_id
                charity_id = self.read.disbursement(str(disbursement_id)).charity_id
            return self.signature(entry, self.read.charity(charity_id))
        except (LedgerError, KeyError, ValueError):
            return None
