"""The audit's check of charity signatures (ADR 0037), against the signer history on chain.

``SignatureTap`` watches the export's lines as the journal pass reads them (nothing is read
twice) and keeps what the check needs: each charity's signer steps (``charity.registered``
with a signer, ``charity.signer_changed``) with their leaf hashes, and the fund-use entries
of charities that have had a signer. A journal in which no charity ever had a signer costs
one substring search a block.

``check_signatures`` then trusts a signer only where the CharityRegistry's events hold it
under the leaf hash of the journal entry that set it, and fails, naming the entry, every
fund use of a charity with a signer at that seq whose ``sig`` is missing or was made by
another key or over other data: a forged entry fails even with a valid hash chain and an
anchored root.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from audit.export import Blocks
from audit.report import Check, Problem
from chain.charity_registry import SignerRecord
from chain.typed_data import SignatureError, recover_signer, typed_data
from ledger.entries import CHARITY_SIGNED_KINDS, to_hex
from ledger.merkle import leaf_hash

_SIGNER_KINDS = ("charity.registered", "charity.signer_changed")
_SIGNED = frozenset(CHARITY_SIGNED_KINDS)


@dataclass
class SignerStep:
    """A journal entry that set a charity's signer."""

    seq: int
    kind: str
    signer: str | None
    leaf_hash: bytes
    actor: str
    body: dict[str, Any]
    sig: str | None


@dataclass
class FundUse:
    """A fund-use entry of a charity that has had a signer."""

    seq: int
    kind: str
    charity_id: str
    body: dict[str, Any]
    sig: str | None


@dataclass
class SignatureTap:
    """What the signature check needs from the export, gathered as it streams by."""

    steps: dict[str, list[SignerStep]] = field(default_factory=dict)
    uses: list[FundUse] = field(default_factory=list)
    disbursements: dict[str, str] = field(default_factory=dict)
    allocations: dict[str, str] = field(default_factory=dict)
    unsigned: int = 0
    """Fund-use entries of charities that had no signer then (older, or platform-made)."""
    _seq: int = 0
    _active: bool = False

    def tap(self, source: Iterable[bytes] | Blocks) -> Iterable[bytes] | Blocks:
        """The same lines (or blocks), watched on their way to the journal pass."""
        if isinstance(source, Blocks):
            return Blocks(self._watch_blocks(source))
        return self._watch_lines(source)

    def _watch_blocks(self, blocks: Blocks) -> Iterator[bytes]:
        for block in blocks:
            self._block(block)
            yield block

    def _watch_lines(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        for line in lines:
            self._block(line)
            yield line

    def _block(self, block: bytes) -> None:
        lines = block.split(b"\n")
        first = self._seq
        self._seq += len(lines)
        if not self._active and b'"signer":"0x' not in block and b'"sig":"' not in block:
            self.unsigned += sum(1 for line in lines if _is_fund_use(line))
            return
        self._active = True
        for offset, line in enumerate(lines):
            if b'"kind":"donation.' in line:
                continue
            try:
                entry = json.loads(line)
                self._entry(first + offset, entry, line)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # the journal pass names a line that is no entry

    def _entry(self, seq: int, entry: dict[str, Any], line: bytes) -> None:
        kind, body = entry["kind"], entry["body"]
        if kind in _SIGNER_KINDS:
            if kind == "charity.registered" and body.get("signer") is None:
                return
            self.steps.setdefault(body["charity_id"], []).append(
                SignerStep(
                    seq=seq,
                    kind=kind,
                    signer=body.get("signer"),
                    leaf_hash=leaf_hash(line),
                    actor=entry["actor"],
                    body=body,
                    sig=entry.get("sig"),
                )
            )
            return
        if kind not in _SIGNED:
            return
        charity_id = self._charity_of(kind, body)
        if kind == "disbursement.made" and charity_id is not None:
            self.disbursements[body["disbursement_id"]] = charity_id
        if kind == "allocation.made" and charity_id is not None:
            self.allocations[body["allocation_id"]] = charity_id
        if charity_id is None or charity_id not in self.steps:
            self.unsigned += 1
            return
        self.uses.append(FundUse(seq, kind, charity_id, body, entry.get("sig")))

    def _charity_of(self, kind: str, body: dict[str, Any]) -> str | None:
        if "charity_id" in body:
            return str(body["charity_id"])
        if "disbursement_id" in body:
            return self.disbursements.get(body["disbursement_id"])
        return self.allocations.get(body["allocation_id"])


def _is_fund_use(line: bytes) -> bool:
    return any(f'"kind":"{kind}"'.encode() in line for kind in CHARITY_SIGNED_KINDS)


@dataclass(frozen=True)
class SignedBy:
    """Who signed an entry, as the audit found it: the key and where the chain holds it."""

    seq: int
    signer: str
    block_number: int


def check_signatures(
    tap: SignatureTap,
    history: Sequence[SignerRecord],
    *,
    chain_id: int,
    registry: str,
    anchored: int,
    notes: list[str],
) -> tuple[Check, list[SignedBy]]:
    """Check every signature of the export against the signer history on chain.

    Args:
        tap: what the export held (``SignatureTap``).
        history: the CharityRegistry's signer events (``ChainReader.signer_history``).
        chain_id: the chain's id, of the EIP-712 domain.
        registry: the CharityRegistry's address, of the EIP-712 domain.
        anchored: entries below this seq are anchored (the chain vouches for them).
        notes: where to say what the audit could not hold against anyone.

    Returns:
        The ``signatures`` check, and who signed each signed entry.
    """
    check = Check(
        "signatures",
        "every fund use of a charity with a signer is signed by the signer of its time, "
        "as the CharityRegistry on chain records it",
    )
    on_chain = {(r.charity_id, r.entry_hash): r for r in history}
    signed: list[SignedBy] = []
    pending: list[str] = []
    platform_changes: list[str] = []

    def domain_typed(kind: str, body: dict[str, Any], charity_id: str) -> dict[str, Any]:
        return typed_data(kind, body, charity_id=charity_id, chain_id=chain_id, registry=registry)

    def recovered(kind: str, body: dict[str, Any], charity_id: str, sig: str) -> str | None:
        try:
            return recover_signer(domain_typed(kind, body, charity_id), sig)
        except (SignatureError, ValueError, KeyError, TypeError):
            return None

    # Each step of each charity: is it on chain (so the audit may trust its signer)?
    confirmed: dict[tuple[str, int], SignerRecord | None] = {}
    for charity_id, steps in tap.steps.items():
        previous: str | None = None
        for step in steps:
            record = on_chain.get((charity_id, step.leaf_hash))
            if record is not None and record.signer != step.signer:
                record = None
            confirmed[(charity_id, step.seq)] = record
            if record is None:
                if step.seq >= anchored:
                    pending.append(f"{charity_id} (seq {step.seq})")
                else:
                    check.add(
                        Problem(
                            "signatures",
                            f"entry {step.seq} ({step.kind}) sets the signer of charity "
                            f"{charity_id} to {step.signer}, but the CharityRegistry holds no "
                            f"such signer under its leaf hash {to_hex(step.leaf_hash)}",
                            seq=step.seq,
                        )
                    )
            if step.kind == "charity.signer_changed" and previous is not None:
                if step.sig is None:
                    platform_changes.append(f"{charity_id} at seq {step.seq}")
                elif recovered(step.kind, step.body, charity_id, step.sig) != previous:
                    check.add(
                        Problem(
                            "signatures",
                            f"entry {step.seq} (charity.signer_changed) of charity {charity_id} "
                            f"is not signed by the signer it replaces, {previous}",
                            seq=step.seq,
                        )
                    )
            previous = step.signer

    for use in tap.uses:
        found = next((s for s in reversed(tap.steps[use.charity_id]) if s.seq < use.seq), None)
        if found is None or found.signer is None:
            tap.unsigned += 1
            continue
        step, signer = found, found.signer
        record = confirmed.get((use.charity_id, step.seq))
        where = (
            f"registered on chain at block {record.block_number}"
            if record is not None
            else "not on chain"
        )
        if use.sig is None:
            check.add(
                Problem(
                    "signatures",
                    f"entry {use.seq} ({use.kind}) of charity {use.charity_id} carries no "
                    f"signature, but the charity signs its fund use with {signer} "
                    f"({where}): the charity did not make it",
                    seq=use.seq,
                )
            )
            continue
        by = recovered(use.kind, use.body, use.charity_id, use.sig)
        if by != signer:
            check.add(
                Problem(
                    "signatures",
                    f"entry {use.seq} ({use.kind}) of charity {use.charity_id}: its signature "
                    f"is not by the charity's signer {signer} ({where}) over this entry "
                    f"(it recovers to {by}): the charity did not sign it",
                    seq=use.seq,
                )
            )
            continue
        if record is not None:
            signed.append(SignedBy(use.seq, signer, record.block_number))
    if pending:
        notes.append(
            "signers not on chain yet, their entries not anchored yet either: "
            + ", ".join(pending[:20])
        )
    if platform_changes:
        notes.append(
            "signers changed by the platform, unsigned by the key they replaced (a lost "
            "key?): " + ", ".join(platform_changes[:20])
        )
    check.summary = (
        f"{len(signed):,} fund-use entries signed by their charity's key on chain, "
        f"{tap.unsigned:,} unsigned (charities without a signer then)"
    )
    return check, signed
