"""The whole audit: the export against the chain, trusting nothing of the operator's.

``run_audit`` reads the chain first (the LedgerAnchor's code and every checkpoint, all
at one block), then streams the export through ``audit.journal.verify_journal``, then
checks the charities against the CharityRegistry, and returns an ``AuditReport``.
Only the chain and the published contract build are trusted; the export, the API that
served it and the operator's database are what is being checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from audit.export import Blocks
from audit.journal import CharityEntry, JournalFindings, balances, verify_journal
from audit.onchain import (
    attach_charity_registry,
    attach_ledger_anchor,
    read_charity,
    read_checkpoints,
    redact_url,
    registered_charity_ids,
)
from audit.report import AuditReport, Balance, CharitySummary, Check, Problem, RegistryRecord
from audit.signatures import SignatureTap, check_signatures
from chain.errors import ChainError
from chain.node import Finality
from chain.reader import ChainReader
from ledger.entries import to_hex


def run_audit(
    lines: Iterable[bytes] | Blocks,
    client: ChainReader,
    *,
    contract: str,
    registry: str | None = None,
    block: int | None = None,
    finality: Finality = "auto",
    confirmations: int = 1,
    from_block: int = 0,
    earlier: Iterable[bytes] | None = None,
    journal_name: str = "the export",
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit a journal export against the contracts on chain.

    Args:
        lines: the export's lines, without newlines (streamed; read after the chain), or
            its blocks of lines (``Export.blocks()``).
        client: a reader on the chain (``audit.onchain.connect_reader``, or any client).
        contract: the LedgerAnchor's address.
        registry: the CharityRegistry's address, to check the charities against it.
        block: the block to read the chain at; an older export is audited against the
            chain as it was when it was taken. None: the newest final block, as
            ``finality`` says (ADR 0038).
        finality: ``finalized`` or ``safe`` (the node's tag, else a depth of
            ``confirmations``), ``depth``, or ``auto`` (``finalized``, but the latest
            block on a devnet, whose tags are made up).
        confirmations: the depth, counting the block itself, where depth decides.
        from_block: where the LedgerAnchor's ``CheckpointAnchored`` logs are searched
            from: its deployment block, for a node that limits ``eth_getLogs`` ranges.
        earlier: the auditor's own earlier verified export, to name exact changes.
        journal_name: how the report names the export.
        fast: read lines with the fast path (``audit.scanner``) where it is built;
            False: the ledger's reference path for every line. Same findings.
        progress: called with the lines done so far, now and then.

    Returns:
        The report; a bad journal is a failing report, never an exception.

    Raises:
        ChainReadError: no contract at ``contract`` (or ``registry``).
        ChainError: the node fails.
        ExportError: the export cannot be read.
    """
    started = time.monotonic()
    if block is None:
        settled = client.settled_block(finality, confirmations)
        pinned, basis = settled.number, settled.describe()
    else:
        pinned, basis = block, "--block"
    contract_check = Check(
        "contract", "the LedgerAnchor at --contract is the published build (contracts/build)"
    )
    code = attach_ledger_anchor(client, contract, pinned, from_block)
    if not code.checked:
        contract_check.status = "skip"
        contract_check.summary = (
            f"{code.address}: the node does not offer eth_getCode, so the code was not "
            "compared; audit against a full node to check it"
        )
    elif code.published_build:
        contract_check.summary = f"{code.address}: code identical to contracts/build"
    else:
        contract_check.add(
            Problem(
                "contract",
                f"the code at {code.address} is not the published LedgerAnchor build: its "
                "checkpoints may not have been checked for consistency on chain",
            )
        )
    checkpoints = read_checkpoints(client, pinned)
    tap = SignatureTap()  # ADR 0037: watches the lines on their way, reads nothing twice
    findings = verify_journal(
        tap.tap(lines), checkpoints, earlier=earlier, fast=fast, progress=progress
    )

    checks = [contract_check, *findings.checks]
    if findings.size and not findings.checkpoints:
        _nothing_anchored(checks, findings.size, code.address)
    notes = list(findings.notes)
    records: dict[str, RegistryRecord] = {}
    registry_address: str | None = None
    if registry is not None:
        registry_check, records = _check_registry(client, registry, pinned, findings, notes)
        checks.append(registry_check)
        registry_address = client.charity_registry.address
        checks.append(_check_signatures(client, tap, pinned, findings, notes))
    else:
        checks.append(
            Check(
                "registry",
                "every registered charity is on chain with its entry's leaf hash",
                status="skip",
                summary="not checked: pass --registry ADDRESS",
            )
        )
        checks.append(
            Check(
                "signatures",
                "every fund use of a charity with a signer is signed by the signer of its time",
                status="skip",
                summary="not checked: the signer history is read from --registry ADDRESS",
            )
        )
    by_charity, totals = balances(findings.books)
    charities = [
        _summary(findings, charity, by_charity, records.get(charity.charity_id))
        for charity in findings.charities
    ]
    return AuditReport(
        journal=journal_name,
        entries=findings.size,
        root_hash=findings.root_hash,
        chain_id=client.chain_id,
        rpc="the embedded chain" if client.rpc_url is None else redact_url(client.rpc_url),
        contract=code.address,
        registry=registry_address,
        block=int(pinned),
        block_basis=basis,
        checkpoints=findings.checkpoints,
        checks=checks,
        charities=charities,
        totals=totals,
        kinds=findings.kinds,
        notes=notes,
        elapsed_s=time.monotonic() - started,
    )


def _nothing_anchored(checks: list[Check], size: int, address: str) -> None:
    """Fail the audit of entries that no checkpoint vouches for: none was checked on chain.

    An export verifies against itself whatever it holds; only an anchored checkpoint ties
    it to what the operator committed to. An empty export with no checkpoint may pass.
    """
    check = next(c for c in checks if c.name == "checkpoints")
    check.add(
        Problem(
            "checkpoints",
            f"the LedgerAnchor at {address} holds no checkpoint at this block, so none of the "
            f"{size:,} entries was checked against the chain: is --contract the deployment's "
            "LedgerAnchor (and --block not before its first anchor), and has the journal ever "
            "been anchored?",
        )
    )
    check.summary = f"no checkpoint on chain: {size:,} entries vouched for by nothing"


def _summary(
    findings: JournalFindings,
    charity: CharityEntry,
    by_charity: dict[str, list[Balance]],
    record: RegistryRecord | None,
) -> CharitySummary:
    books = findings.books
    charity_id = charity.charity_id
    return CharitySummary(
        charity_id=charity_id,
        name=charity.name,
        seq=charity.seq,
        projects=sum(1 for p in books.projects.values() if p.charity_id == charity_id),
        donations=sum(1 for d in books.donations.values() if d.charity_id == charity_id),
        disbursements=sum(1 for d in books.disbursements.values() if d.charity_id == charity_id),
        balances=tuple(by_charity.get(charity_id, ())),
        registry=record,
    )


def _check_signatures(
    client: ChainReader, tap: SignatureTap, block: int, findings: JournalFindings, notes: list[str]
) -> Check:
    """The ``signatures`` check (ADR 0037): the signer history read from the chain."""
    try:
        history = client.signer_history(block)
    except ChainError as error:
        check = Check("signatures", "every fund use of a charity with a signer is signed")
        check.add(Problem("signatures", f"the signer history could not be read: {error}"))
        return check
    check, _signed = check_signatures(
        tap,
        history,
        chain_id=client.chain_id,
        registry=client.charity_registry.address,
        anchored=max((c.tree_size for c in findings.checkpoints), default=0),
        notes=notes,
    )
    return check


def _check_registry(
    client: ChainReader,
    address: str,
    block: int,
    findings: JournalFindings,
    notes: list[str],
) -> tuple[Check, dict[str, RegistryRecord]]:
    check = Check(
        "registry",
        "every registered charity is on chain, its metadata hash the leaf hash of its "
        "charity.registered entry",
    )
    code = attach_charity_registry(client, address, block)
    if code.checked and not code.published_build:
        check.add(
            Problem(
                "registry", f"the code at {code.address} is not the published CharityRegistry build"
            )
        )
    records: dict[str, RegistryRecord] = {}
    revoked: list[str] = []
    pending: list[str] = []
    anchored = max((c.tree_size for c in findings.checkpoints), default=0)
    for charity in findings.charities:
        on_chain = read_charity(client, charity.charity_id, block)
        if on_chain is None:
            records[charity.charity_id] = RegistryRecord(registered=False)
            if charity.seq >= anchored:
                # The anchor worker registers charities after it anchors their entry.
                pending.append(f"{charity.charity_id} (seq {charity.seq})")
                continue
            check.add(
                Problem(
                    "registry",
                    f"charity {charity.charity_id} ({charity.name}) is not in the registry on "
                    "chain",
                    seq=charity.seq,
                )
            )
            continue
        metadata_matches = on_chain.metadata_hash == charity.leaf_hash
        signer_on_chain = None if on_chain.signer is None else on_chain.signer.lower()
        # The signer now: a charity.signer_changed replaces the registered one (ADR 0037).
        books_charity = findings.books.charities.get(charity.charity_id)
        signer_now = charity.signer if books_charity is None else books_charity.signer
        signer_matches = signer_on_chain == signer_now
        records[charity.charity_id] = RegistryRecord(
            registered=True,
            metadata_matches=metadata_matches,
            signer_matches=signer_matches,
            revoked_at=on_chain.revoked_at,
        )
        if not metadata_matches:
            check.add(
                Problem(
                    "registry",
                    f"charity {charity.charity_id} is registered on chain with metadata hash "
                    f"{to_hex(on_chain.metadata_hash)}, but its charity.registered entry has "
                    f"leaf hash {to_hex(charity.leaf_hash)}",
                    seq=charity.seq,
                )
            )
        if not signer_matches:
            check.add(
                Problem(
                    "registry",
                    f"charity {charity.charity_id} has signer {signer_on_chain} on chain, "
                    f"{signer_now} in the journal",
                    seq=charity.seq,
                )
            )
        if on_chain.revoked_at is not None:
            revoked.append(
                f"{charity.charity_id} ({charity.name}) at Unix time {on_chain.revoked_at}"
            )
    if revoked:
        notes.append("charities revoked on chain: " + "; ".join(revoked))
    if pending:
        notes.append(
            "not registered on chain yet, their entries not anchored yet either: "
            + ", ".join(pending)
        )
    known = {c.charity_id for c in findings.charities}
    on_chain_ids = registered_charity_ids(client, block)
    if on_chain_ids is None:
        notes.append(
            "the node refused to list CharityRegistered events; unlisted charities unknown"
        )
    else:
        unknown = [charity_id for charity_id in on_chain_ids if charity_id not in known]
        if unknown:
            notes.append(
                "registered on chain but not in the export: "
                + ", ".join(unknown[:20])
                + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
            )
    active = sum(1 for r in records.values() if r.registered and r.revoked_at is None)
    check.summary = (
        f"{code.address}: {len(findings.charities)} charities in the export, {active} active "
        f"on chain, {len(revoked)} revoked"
    )
    return check, records
