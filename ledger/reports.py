"""The disclosure report (ADR 0039): its model, its digest, and how two reports compare.

Pure: no I/O. ``ledger.disclosure.compute_report`` builds a ``Report`` from the journal;
the explorer's page, the CSV, the PDF and the audit read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ledger.entries import canonical_bytes, to_hex
from ledger.periods import FINAL

REPORT_FORMAT: Literal["shanlian-report/v1"] = "shanlian-report/v1"


class DisclosureModel(BaseModel):
    """Base of what disclosure publishes: closed and immutable, as a report is signed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Flows(DisclosureModel):
    """Money of one currency over a stretch of the journal, in minor units.

    ``allocated`` and ``disbursed`` are net of the reversals and voids recorded in the
    same stretch (``reversed``, ``voided``): a correction counts where it is recorded.
    """

    currency: str
    received: int = 0
    donations: int = 0
    refunded: int = 0
    refunds: int = 0
    allocated: int = 0
    reversed: int = 0
    disbursed: int = 0
    disbursements: int = 0
    voided: int = 0

    @property
    def held(self) -> int:
        """Received, not refunded, not allocated (meaningful for a cumulative stretch)."""
        return self.received - self.refunded - self.allocated


class EvidenceRef(DisclosureModel):
    sha256: str
    public: bool


class DisbursementLine(DisclosureModel):
    disbursement_id: str
    seq: int
    at: str
    project_id: str | None
    payee: str
    purpose: str
    amount: int
    currency: str
    evidence: list[EvidenceRef]
    voided_seq: int | None
    """The ``seq`` of its void, when it was voided before the checkpoint."""


class Category(DisclosureModel):
    """Disbursements of the period by purpose (the journal's category), net of voids."""

    purpose: str
    currency: str
    amount: int
    count: int


class RefundLine(DisclosureModel):
    seq: int
    at: str
    donation_id: str
    amount: int
    currency: str
    reason: str


class Correction(DisclosureModel):
    """A reversing entry: what it corrects, when that was, and why.

    A report lists the corrections recorded in its period and, up to its checkpoint, those
    of what its period recorded (a void in Q3 of a Q2 disbursement is on both reports).

    ``kind`` is ``disbursement.voided``, ``allocation.reversed`` or ``report.published``
    (a report published again for a period, with its reason).
    """

    seq: int
    at: str
    kind: str
    corrects: str
    """The id of the disbursement or allocation, or the report's period."""
    corrected_seq: int | None
    corrected_period: str | None
    amount: int | None
    currency: str | None
    reason: str


class Scope(DisclosureModel):
    charity_id: str
    project_id: str | None
    name: str
    """The project's title, or the charity's name."""
    charity_name: str
    opened_seq: int
    opened_at: str
    closed_seq: int | None
    closed_at: str | None


class Report(DisclosureModel):
    """A disclosure report: every figure derives from the journal's first ``tree_size``
    entries; ``digest`` is SHA-256 of the RFC 8785 form of the rest."""

    format: Literal["shanlian-report/v1"] = REPORT_FORMAT
    scope: Scope
    period: str
    period_start: str | None
    period_end: str | None
    tree_size: int
    complete: bool
    """The checkpoint holds an entry after the period (or the project's close, for a final
    report): no later entry can change the period's figures."""
    period_flows: list[Flows]
    cumulative_flows: list[Flows]
    """From the start up to the period's end (the whole journal up to the checkpoint for a
    final report)."""
    categories: list[Category]
    disbursements: list[DisbursementLine]
    refunds: list[RefundLine]
    corrections: list[Correction]
    digest: str = ""

    def body(self) -> dict[str, Any]:
        """The report as JSON without its digest: what the digest is of."""
        data = self.model_dump(mode="json")
        data.pop("digest")
        return data

    def with_digest(self) -> Report:
        return self.model_copy(update={"digest": report_digest(self.body())})


def report_digest(body: Mapping[str, Any]) -> str:
    """``0x`` SHA-256 of the RFC 8785 bytes of a report's JSON without its digest."""
    return to_hex(hashlib.sha256(canonical_bytes(dict(body))).digest())


def later_corrections(report: Report, corrections: Sequence[Correction]) -> list[Correction]:
    """Corrections recorded after ``report``'s checkpoint that correct what it shows.

    Args:
        report: a report.
        corrections: the corrections of the same scope, from a report of the whole journal
            up to now (``compute_report(..., period=...)`` of a later size, or ``final``).
    """
    return [
        correction
        for correction in corrections
        if correction.seq >= report.tree_size
        and (report.period == FINAL or correction.corrected_period == report.period)
    ]


def compare_reports(expected: Report, claimed: Mapping[str, Any]) -> list[str]:
    """Where a claimed report (decoded JSON) differs from the recomputed one: JSON paths.

    Returns:
        The differing paths, e.g. ``period_flows[0].received``; empty when they match.
    """
    differences: list[str] = []

    def walk(path: str, want: Any, got: Any) -> None:
        if isinstance(want, dict) and isinstance(got, dict):
            for key in sorted(want.keys() | got.keys()):
                walk(f"{path}.{key}" if path else key, want.get(key), got.get(key))
        elif isinstance(want, list) and isinstance(got, list):
            if len(want) != len(got):
                differences.append(f"{path} ({len(got)} items, expected {len(want)})")
                return
            for i, (w, g) in enumerate(zip(want, got, strict=True)):
                walk(f"{path}[{i}]", w, g)
        elif want != got or type(want) is not type(got):
            differences.append(path)

    walk("", expected.model_dump(mode="json"), dict(claimed))
    return differences
