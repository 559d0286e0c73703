"""What the journal pass checks and what it found: its checks, findings and balances.

``audit.journal`` runs the pass; this holds what it reports: the list of checks it makes
(``journal_checks``), how a broken sequence is named (``sequence_problem``), the checks'
summaries once the pass is over (``summarize``), the findings themselves
(``JournalFindings``, ``CharityEntry``) and the balances of the replayed books
(``balances``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.report import Balance, Check, CheckpointResult, Problem
from ledger.accounting import Books


@dataclass(frozen=True)
class CharityEntry:
    """A ``charity.registered`` entry of the export, for the registry check.

    Attributes:
        charity_id: the charity.
        name: its name.
        seq: the entry's position.
        leaf_hash: the entry's leaf hash, which the registry holds as metadata hash.
        signer: the signer address in the entry (lowercase), or None.
    """

    charity_id: str
    name: str
    seq: int
    leaf_hash: bytes
    signer: str | None


@dataclass
class JournalFindings:
    """What the pass over the export found.

    Attributes:
        size: lines read.
        root_hash: the Merkle root of all of them.
        checkpoints: each checkpoint with the export's root at its size.
        checks: ``entries``, ``sequence``, ``timestamps``, ``accounting``,
            ``checkpoints``, ``consistency`` and, with an earlier export,
            ``earlier_export``.
        books: the replayed books.
        charities: every ``charity.registered`` entry, in order.
        kinds: entries per kind.
        notes: what an auditor should know that is not a failure.
        scanned: whether the fast path read the lines (``audit.scanner``); else every
            line took the reference path.
    """

    size: int
    root_hash: bytes
    checkpoints: list[CheckpointResult]
    checks: list[Check]
    books: Books
    charities: list[CharityEntry]
    kinds: dict[str, int]
    notes: list[str] = field(default_factory=list)
    scanned: bool = False


def journal_checks() -> dict[str, Check]:
    """The checks of the pass, by name, in the order the report gives them."""
    checks = [
        Check("entries", "every line is a valid v1 entry in RFC 8785 canonical form"),
        Check("sequence", "seq equals the line number: gapless and in order from 0"),
        Check(
            "timestamps",
            "every 'at' is a real UTC instant, never earlier than the one before, "
            "never later than the block that anchored it",
        ),
        Check("accounting", "every accounting rule of DESIGN §3.2 holds, replayed in order"),
        Check("checkpoints", "every anchored root equals the export's root at its tree size"),
        Check("consistency", "each checkpoint extends the one before (RFC 9162 consistency)"),
    ]
    return {check.name: check for check in checks}


def sequence_problem(i: int, seq: int, prev_seq: int) -> Problem:
    """Line ``i`` holds ``seq`` after ``prev_seq``: what went wrong."""
    if seq == prev_seq:
        detail = (
            f"seq {seq} appears twice, on lines {i - 1} and {i}: an entry was "
            "inserted or duplicated"
        )
        return Problem("sequence", detail, seq=i - 1)
    if seq > prev_seq:
        missing = (
            f"entry {prev_seq + 1} is missing"
            if seq == prev_seq + 2
            else f"entries {prev_seq + 1}..{seq - 1} are missing"
        )
        return Problem("sequence", f"line {i} holds seq {seq}: {missing}", seq=i)
    detail = f"line {i} holds seq {seq}, after seq {prev_seq}: out of order"
    return Problem("sequence", detail, seq=i)


def summarize(checks: dict[str, Check], size: int, results: list[CheckpointResult]) -> None:
    """Give each check its one-line summary, once the pass has read ``size`` lines."""

    def problems(check: Check) -> str:
        first = min(check.problems, key=lambda p: p.key)
        count = check.problem_count
        return f"{count:,} problem{'s' if count > 1 else ''}, the first at {first.where}"

    for name in ("entries", "sequence", "timestamps", "accounting"):
        check = checks[name]
        check.summary = problems(check) if check.problem_count else f"{size:,} entries"
    if not size:
        checks["entries"].summary = "the export is empty"
    check = checks["checkpoints"]
    matched = sum(1 for r in results if r.outcome == "match")
    if not results:
        check.status = "skip"
        check.summary = "no checkpoint on chain yet: nothing is anchored"
    elif check.problem_count:
        check.summary = f"{matched} of {len(results)} match; " + problems(check)
    else:
        check.summary = f"all {len(results)} match"


def balances(books: Books) -> tuple[dict[str, list[Balance]], list[Balance]]:
    """Money per charity and in total, per currency, from replayed books.

    Returns:
        ``(by charity id, totals)``; held = received − refunded − allocated.
    """
    rows: dict[tuple[str, str], list[int]] = {}
    for donation in books.donations.values():
        row = rows.setdefault((donation.charity_id, donation.currency), [0, 0, 0, 0])
        row[0] += donation.amount
        row[1] += donation.refunded
        row[2] += donation.allocated
    for disbursement in books.disbursements.values():
        if disbursement.voided:
            continue
        row = rows.setdefault((disbursement.charity_id, disbursement.currency), [0, 0, 0, 0])
        row[3] += disbursement.amount
    by_charity: dict[str, list[Balance]] = {}
    totals: dict[str, list[int]] = {}
    for (charity_id, currency), row in sorted(rows.items()):
        by_charity.setdefault(charity_id, []).append(Balance(currency, *row))
        total = totals.setdefault(currency, [0, 0, 0, 0])
        for n, value in enumerate(row):
            total[n] += value
    return by_charity, [Balance(currency, *row) for currency, row in sorted(totals.items())]
