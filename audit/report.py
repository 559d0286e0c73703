"""What an audit found: checks, problems, checkpoints and balances; as text and as JSON.

The classes are pydantic dataclasses: pydantic writes the JSON report (``to_json``) from
their fields in the order declared, the ``computed_field`` properties included, and hashes
as ``0x`` hex. The field order is the report's key order (``shanlian-audit/v1``): keep it.

A ``Problem`` is pinned either to one ``seq`` (the evidence names the entry) or to an
anchored range ``first..last`` (only the checkpoints on chain bound it). The report's
``failure`` is the problem an auditor should look at first: the earliest one, and
within an anchored range, an exact ``seq`` inside it when there is one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    computed_field,
    field_serializer,
    model_serializer,
    model_validator,
)
from pydantic.dataclasses import dataclass

from ledger.accounting import Balance as Balance  # the one Balance, as the audit sums it
from ledger.currencies import money
from ledger.entries import to_hex

Status = Literal["pass", "fail", "skip"]
REPORT_FORMAT = "shanlian-audit/v1"
"""A balance as JSON, ``held`` included."""
MAX_PROBLEMS_KEPT = 100
"""Problems kept per check (all are counted): one bad insert shifts every later seq."""

Hash = Annotated[bytes, PlainSerializer(to_hex, return_type=str)]
"""A hash: bytes inside, ``0x`` hex in the JSON report."""


@dataclass(frozen=True)
class Problem:
    """One finding that fails a check.

    Attributes:
        check: the check's name (``entries``, ``sequence``, ``checkpoints``, …).
        detail: what is wrong, with the values that show it.
        seq: the entry the evidence pins, if it pins one.
        first: the first entry of the anchored range that holds it, if only a range.
        last: the last entry of that range (inclusive).
    """

    check: str
    detail: str
    seq: int | None = None
    first: int | None = None
    last: int | None = None

    @property
    def key(self) -> int:
        """Where the problem starts, for ordering (the journal's end for neither)."""
        if self.seq is not None:
            return self.seq
        if self.first is not None:
            return self.first
        return 2**63

    @computed_field  # type: ignore[prop-decorator]
    @property
    def where(self) -> str:
        """``seq 7``, ``entries 1000..1999`` or ``the chain``."""
        if self.seq is not None:
            return f"seq {self.seq}"
        if self.first is not None:
            return f"entries {self.first}..{self.last}"
        return "the chain"

    def contains(self, seq: int) -> bool:
        """Whether ``seq`` lies in this problem's range (or is its seq)."""
        if self.first is not None and self.last is not None:
            return self.first <= seq <= self.last
        return self.seq == seq

    @model_serializer(mode="wrap")
    def _detail_last(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """In the JSON report the detail reads last, after where the problem is."""
        data: dict[str, Any] = handler(self)
        data["detail"] = data.pop("detail")
        return data


@dataclass
class Check:
    """One check of the audit and its outcome.

    Attributes:
        name: short stable name, e.g. ``checkpoints``.
        title: what it verifies, in a sentence.
        status: ``pass``, ``fail`` or ``skip`` (not applicable, or not asked for).
        summary: one line on what was checked or why it was skipped.
        problem_count: all problems found.
        problems: the first ``MAX_PROBLEMS_KEPT`` problems found.
    """

    name: str
    title: str
    status: Status = "pass"
    summary: str = ""
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        """Record a problem; the check fails."""
        self.status = "fail"
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)

    @property
    def in_order(self) -> list[Problem]:
        """The problems kept, by where they start."""
        return sorted(self.problems, key=lambda p: p.key)

    @field_serializer("problems", mode="wrap")
    def _problems_in_order(
        self, problems: list[Problem], handler: SerializerFunctionWrapHandler
    ) -> Any:
        return handler(self.in_order)


@dataclass(frozen=True)
class RegistryRecord:
    """A charity as the on-chain registry holds it.

    Attributes:
        registered: the registry knows the charity.
        metadata_matches: its metadata hash is the leaf hash of the charity's
            ``charity.registered`` entry (None when not registered).
        signer_matches: the registry's signer is the entry's (None when not registered).
        revoked_at: Unix time of the revocation on chain, or None.
    """

    registered: bool
    metadata_matches: bool | None = None
    signer_matches: bool | None = None
    revoked_at: int | None = None


@dataclass(frozen=True)
class CharitySummary:
    """One charity of the journal: where it was registered and its money.

    Attributes:
        charity_id: its id.
        name: its name as registered.
        seq: its ``charity.registered`` entry.
        projects: projects opened.
        donations: donations received.
        disbursements: disbursements made (voided ones included).
        balances: per currency.
        registry: the on-chain record, when the registry was checked.
    """

    charity_id: str
    name: str
    seq: int
    projects: int
    donations: int
    disbursements: int
    balances: tuple[Balance, ...]
    registry: RegistryRecord | None = None


@dataclass(frozen=True)
class CheckpointResult:
    """An anchored checkpoint and what the export recomputes at its size.

    Attributes:
        index: its index in the contract.
        tree_size: entries it covers.
        root_hash: the root on chain.
        anchored_at: Unix time of its block.
        recomputed_root: the export's root at ``tree_size``; None when the export is
            shorter.
    """

    index: int
    tree_size: int
    root_hash: Hash
    anchored_at: int
    recomputed_root: Hash | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outcome(self) -> str:
        """``match``, ``mismatch`` or ``beyond_export``."""
        if self.recomputed_root is None:
            return "beyond_export"
        return "match" if self.recomputed_root == self.root_hash else "mismatch"


@dataclass
class AuditReport:
    """Everything one audit found.

    Attributes:
        journal: the export audited (file or URL).
        entries: lines in the export.
        root_hash: the export's Merkle root at ``entries``.
        chain_id: the chain read.
        rpc: the node, without path or key.
        contract: the LedgerAnchor read.
        registry: the CharityRegistry read, if any.
        block: the block every chain read was pinned to.
        block_basis: why that block: ``finalized``, ``safe``, ``latest``, ``latest - N``
            (a depth of confirmations, where the node has no finalized block), or
            ``--block`` (ADR 0038).
        checkpoints: every checkpoint on chain, with the recomputed root.
        checks: every check, in the order run.
        charities: per charity, in order of registration.
        totals: all charities together, per currency.
        kinds: entries per kind.
        notes: things an auditor should know that are not failures.
        elapsed_s: wall time of the audit.
    """

    journal: str
    entries: int
    root_hash: bytes
    chain_id: int
    rpc: str
    contract: str
    registry: str | None
    block: int
    checkpoints: list[CheckpointResult]
    checks: list[Check]
    charities: list[CharitySummary]
    totals: list[Balance]
    kinds: dict[str, int]
    notes: list[str]
    elapsed_s: float
    block_basis: str = "latest"

    @property
    def ok(self) -> bool:
        """No check failed."""
        return all(check.status != "fail" for check in self.checks)

    @property
    def failure(self) -> Problem | None:
        """The problem to report first (None when the audit passed).

        The earliest problem by where it starts; if that is an anchored range and an
        exact ``seq`` lies inside it, that seq, since the evidence pins it.
        """
        problems = [p for check in self.checks for p in check.problems]
        if not problems:
            return None
        first = min(problems, key=lambda p: (p.key, p.seq is None))
        if first.seq is None and first.first is not None:
            inside = [p for p in problems if p.seq is not None and first.contains(p.seq)]
            if inside:
                return min(inside, key=lambda p: p.key)
        return first

    @property
    def anchored_size(self) -> int:
        """Entries covered by the latest checkpoint (0 before the first)."""
        return max((c.tree_size for c in self.checkpoints), default=0)

    @property
    def anchored_entries(self) -> int:
        """Entries of the export that the latest checkpoint covers."""
        return min(self.anchored_size, self.entries)

    def check(self, name: str) -> Check:
        """The check called ``name``.

        Raises:
            KeyError: no such check.
        """
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (``shanlian-audit/v1``)."""
        return ReportDocument.model_validate(self).model_dump(mode="json")

    def to_text(self) -> str:
        """The report for a terminal."""
        return "\n".join(_text_lines(self)) + "\n"


def _sorted_keys(value: dict[str, int]) -> dict[str, int]:
    return dict(sorted(value.items()))


def _to_the_millisecond(seconds: float) -> float:
    return round(seconds, 3)


class JournalSection(BaseModel):
    """The report's ``journal``: the export as recomputed."""

    model_config = ConfigDict(from_attributes=True)

    source: str = Field(validation_alias="journal")
    entries: int
    root_hash: Hash
    anchored_entries: int
    kinds: Annotated[dict[str, int], AfterValidator(_sorted_keys)]


class ChainSection(BaseModel):
    """The report's ``chain``: what was read, where, at which block."""

    model_config = ConfigDict(from_attributes=True)

    chain_id: int
    rpc: str
    ledger_anchor: str = Field(validation_alias="contract")
    charity_registry: str | None = Field(validation_alias="registry")
    block: int
    block_basis: str = Field(
        default="latest",
        description="why this block: finalized, safe, latest, latest - N, or --block",
    )


class ReportDocument(BaseModel):
    """The JSON report, ``shanlian-audit/v1``, read from an ``AuditReport``'s attributes."""

    model_config = ConfigDict(from_attributes=True)

    format: str = REPORT_FORMAT
    ok: bool
    failure: Problem | None
    journal: JournalSection
    chain: ChainSection
    checkpoints: list[CheckpointResult]
    checks: list[Check]
    totals: list[Balance]
    charities: list[CharitySummary]
    notes: list[str]
    elapsed_s: Annotated[float, PlainSerializer(_to_the_millisecond)]

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, report: Any) -> Any:
        """The two sections read the report itself; the rest, its attributes of their name."""
        if not isinstance(report, AuditReport):
            return report
        sections = {"journal": report, "chain": report}
        rest = cls.model_fields.keys() - sections.keys() - {"format"}
        return {name: getattr(report, name) for name in rest} | sections


def count(number: int) -> str:
    """A count with thousands separators: ``1,234,567``."""
    return f"{number:,}"


def amounts(balance: Balance) -> tuple[str, ...]:
    """Received, refunded, allocated, disbursed and held, as people read money."""
    return tuple(
        money(value, balance.currency)
        for value in (
            balance.received,
            balance.refunded,
            balance.allocated,
            balance.disbursed,
            balance.held,
        )
    )


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(rows: Iterable[tuple[str, ...]], indent: str = "  ") -> list[str]:
    rows = list(rows)
    if not rows:
        return []
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]

    def pad(cell: str, width: int, left: bool) -> str:
        space = " " * (width - _width(cell))
        return cell + space if left else space + cell

    return [
        indent
        + "  ".join(
            pad(cell, width, i < 2) for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _text_lines(report: AuditReport) -> list[str]:
    lines = [
        f"shanlian audit of {report.journal}",
        f"  chain {report.chain_id} via {report.rpc}, read at block {report.block} "
        f"({report.block_basis})",
        f"  LedgerAnchor {report.contract}"
        + (f", CharityRegistry {report.registry}" if report.registry else ""),
        f"  {report.entries:,} entries, Merkle root {to_hex(report.root_hash)}",
        f"  {len(report.checkpoints)} checkpoints on chain"
        + (f", the latest at tree size {report.anchored_size:,}" if report.checkpoints else ""),
        "",
        "checks",
    ]
    for check in report.checks:
        mark = {"pass": "ok  ", "fail": "FAIL", "skip": "skip"}[check.status]
        lines.append(f"  {mark}  {check.name:<15} {check.title}")
        if check.summary:
            lines.append(f"        {'':<15} {check.summary}")
        for problem in check.in_order[:5]:
            shown = problem.detail
            if not shown.startswith(problem.where):
                shown = f"{problem.where}: {shown}"
            lines.append(f"        {'':<15} {shown}")
        if check.problem_count > 5:
            lines.append(f"        {'':<15} … {check.problem_count - 5:,} more")
    if report.totals:
        lines += ["", "totals"]
        lines += _table(
            [("", "currency", "received", "refunded", "allocated", "disbursed", "held")]
            + [("all charities", b.currency, *amounts(b)) for b in report.totals]
            + [
                (f"{c.name} ({c.charity_id})", b.currency, *amounts(b))
                for c in report.charities
                for b in c.balances
            ]
        )
    if report.notes:
        lines += ["", "notes"]
        lines += [f"  - {note}" for note in report.notes]
    lines.append("")
    failure = report.failure
    if failure is None and not report.entries:
        lines.append(
            "PASSED: the export is empty and the chain holds no checkpoint of it: nothing to verify"
        )
    elif failure is None:
        lines.append(
            f"PASSED: {report.entries:,} entries verified against {len(report.checkpoints)} "
            f"anchored checkpoints in {report.elapsed_s:.1f} s"
        )
    else:
        lines.append(f"FAILED at {failure.where}: {failure.check}: {failure.detail}")
    return lines
