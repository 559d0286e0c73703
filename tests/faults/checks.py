"""What must hold after any fault (DESIGN.md §8): nothing lost, nothing doubled, the
journal gapless, each checkpoint anchored once, and the audit passes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from chain.client import ChainClient
from ledger.entries import payment_ref_hash, to_hex
from ledger.store.checkpoints import CheckpointLog
from ledger.store.journal import Store
from tests.faults.donors import Outcome
from tests.faults.servers import clean_environment

PAYMENT_REF_KEY = bytes.fromhex("5a" * 32)
"""The rig's API_PAYMENT_REF_KEY: every API process of one deployment holds the same."""


def wait_until_anchored(store: Store, client: ChainClient, timeout_s: float = 60.0) -> None:
    """Block until the workers, on their own, have anchored the whole journal and recorded
    the checkpoint (what proof bundles are served from)."""
    size = store.size()
    recorded = CheckpointLog(store.engine)
    deadline = time.monotonic() + timeout_s
    while True:
        latest = client.latest_checkpoint()
        mirrored = recorded.latest()
        anchored = latest.tree_size if latest else 0
        if anchored == size and mirrored is not None and mirrored.tree_size == size:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"after {timeout_s} s the chain holds a checkpoint of {anchored} entries "
                f"(recorded: {mirrored.tree_size if mirrored else 0}), the journal has "
                f"{size}: the worker stopped anchoring"
            )
        time.sleep(0.1)


def assert_nothing_lost_nothing_doubled(store: Store, outcome: Outcome) -> None:
    """Every acknowledged donation is in the journal exactly once; nothing sent is twice.

    Donations are matched by ``payment_ref_hash``, the HMAC of the payment_ref the donor
    sent under the rig's ``PAYMENT_REF_KEY``; the donation id and seq of each 201 must be
    the journal's.
    """
    assert outcome.refused == [], outcome.refused[:5]
    received = [e for e in store.entries() if e.kind == "donation.received"]
    per_ref = Counter(str(e.body["payment_ref_hash"]) for e in received)
    doubled = [ref for ref, n in per_ref.items() if n > 1]
    assert doubled == [], f"{len(doubled)} payment refs are in the journal more than once"
    by_ref = {str(e.body["payment_ref_hash"]): e for e in received}
    for ack in outcome.acknowledged:
        entry = by_ref.get(to_hex(payment_ref_hash(ack.payment_ref, PAYMENT_REF_KEY)))
        assert entry is not None, f"acknowledged donation {ack.donation_id} is not in the journal"
        assert (entry.body["donation_id"], entry.seq) == (ack.donation_id, ack.seq)
    sent = {to_hex(payment_ref_hash(ref, PAYMENT_REF_KEY)) for ref in outcome.sent}
    assert set(per_ref) <= sent, "the journal holds donations nobody sent"
    acknowledged = {a.payment_ref for a in outcome.acknowledged}
    assert len(acknowledged) == len(outcome.acknowledged), "a payment ref was acknowledged twice"


def assert_journal_gapless(store: Store) -> None:
    """Seqs are 0…n-1 and the stored journal verifies against itself."""
    seqs = [e.seq for e in store.entries()]
    assert seqs == list(range(len(seqs)))
    report = store.verify()
    assert report.ok, report.problems[:5]
    assert report.size == store.size() == len(seqs)


def assert_each_checkpoint_anchored_once(store: Store, client: ChainClient) -> None:
    """The chain's checkpoints grow strictly, each is the journal's root at its size, one
    ``CheckpointAnchored`` log each, every anchor transaction succeeded, and the service's
    ``checkpoint`` table mirrors the chain."""
    count = client.checkpoint_count()
    checkpoints = client.checkpoints()
    sizes = [c.tree_size for c in checkpoints]
    assert count >= 1
    assert sizes == sorted(set(sizes)), f"tree sizes do not grow strictly: {sizes}"
    assert count == len(set(sizes))
    for checkpoint in checkpoints:
        assert checkpoint.root_hash == store.root(checkpoint.tree_size), checkpoint
    assert sizes[-1] == store.size()
    events = client.checkpoint_events(from_block=0)
    assert [e.index for e in events] == list(range(count)), "an anchor was logged twice"
    assert [(e.tree_size, e.root_hash) for e in events] == [
        (c.tree_size, c.root_hash) for c in checkpoints
    ]
    anchor = client.ledger_anchor.address
    failed = []
    for number in range(client.block_number() + 1):
        block = client.w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if tx["to"] == anchor:  # type: ignore[index]
                receipt = client.w3.eth.get_transaction_receipt(tx["hash"])  # type: ignore[index]
                if receipt["status"] != 1:
                    failed.append(number)
    assert failed == [], f"anchor transactions failed in blocks {failed}: two anchored at once"
    on_chain = {e.index: (e.tree_size, e.root_hash, e.tx_hash, e.block_hash) for e in events}
    recorded = {
        r.checkpoint_index: (r.tree_size, r.root_hash, r.tx_hash, r.block_hash)
        for r in CheckpointLog(store.engine).all()
    }
    stale = [
        f"checkpoint {i}: recorded {_show(recorded.get(i))}, on chain {_show(on_chain.get(i))}"
        for i in sorted(recorded.keys() | on_chain.keys())
        if recorded.get(i) != on_chain.get(i)
    ]
    assert stale == [], "the checkpoint table does not mirror the chain:\n" + "\n".join(stale)


def _show(row: tuple[int, bytes, bytes, bytes] | None) -> str:
    if row is None:
        return "nothing"
    size, root, tx, block = row
    return f"size {size} root {root.hex()[:8]} tx {tx.hex()[:8]} block {block.hex()[:8]}"


def audit_command() -> list[str] | None:
    """How to run ``shanlian audit``, if this tree has it (None: the checks above stand in)."""
    from api.cli import build_parser

    probe = ["audit", "--journal", "-", "--rpc", "http://127.0.0.1", "--contract", "0x" + "0" * 40]
    try:
        build_parser().parse_args(probe)
    except SystemExit:
        return None
    return [sys.executable, "-m", "api.cli", "audit"]


def assert_audit_passes(
    journal: str, client: ChainClient, *, workdir: Path, registry: bool = True
) -> None:
    """``shanlian audit`` of the journal (a file or the API's ``/entries`` URL) against the
    chain exits 0. Without the audit command in this tree, the checks above stand in."""
    command = audit_command()
    if command is None:
        return
    command += [
        "--journal",
        journal,
        "--rpc",
        str(client.rpc_url),
        "--contract",
        client.ledger_anchor.address,
        "--chain-id",
        str(client.chain_id),
    ]
    if registry:
        command += ["--registry", client.charity_registry.address]
    result = subprocess.run(
        command,
        cwd=workdir,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"the audit failed:\n{result.stdout}\n{result.stderr}"
