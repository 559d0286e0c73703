"""Tampering behind the service's back, caught by the audit (DESIGN.md §8).

A journal is built on PostgreSQL with the store, anchored by the anchor worker at four
checkpoints, and copied for each test. The tamperer is a superuser who switches the
append-only triggers off; the audit sees only the re-exported journal and the chain. On
anvil the audit runs as the CLI over JSON-RPC; on the embedded chain, in process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.entries import format_at, parse_at, parse_entry
from ledger.store.journal import Store
from ledger.store.requests import Draft
from tests.audit.conftest import Anchored, audit, build_anchored, write_export
from tests.conftest import CHAINS, deployed_client, new_pg_database, pg_url

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module", params=CHAINS)
def pristine(request: pytest.FixtureRequest, pg_template: str) -> Iterator[tuple[Anchored, str]]:
    """An anchored journal in a database of its own, used only as a template."""
    with new_pg_database("shanlian_audit", template=pg_template) as name:
        store = Store.open(pg_url(name))
        anchored = build_anchored(store, deployed_client(request))
        store.engine.dispose()
        yield anchored, name


@pytest.fixture
def copy(pristine: tuple[Anchored, str]) -> Iterator[str]:
    """The URL of a copy of the anchored journal's database, for the test to tamper with."""
    with new_pg_database("shanlian_tamper", template=pristine[1]) as name:
        yield pg_url(name)


@pytest.fixture
def anchored(pristine: tuple[Anchored, str]) -> Anchored:
    return pristine[0]


def tamper(url: str, *statements: str, params: tuple[Any, ...] = ()) -> None:
    """Change rows as a superuser with the append-only triggers switched off."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("SET session_replication_role = replica")
        for statement in statements:
            connection.execute(statement, params if "%s" in statement else None)


def export_of(url: str, path: Path) -> Path:
    """Re-export the (tampered) journal: ``Store.leaves()`` to a JSON Lines file."""
    store = Store.open(url, upgrade=False)
    try:
        return write_export(path, list(store.leaves()))
    finally:
        store.engine.dispose()


def leaf_with(line: bytes, change: Callable[[dict[str, Any]], None]) -> str:
    """An entry's canonical text after ``change`` to its JSON, re-canonicalized."""
    obj = json.loads(line)
    change(obj)
    return parse_entry(obj).leaf_bytes.decode()


@pytest.fixture
def earlier(anchored: Anchored, tmp_path: Path) -> Path:
    """The auditor's own export, taken before the tampering."""
    return write_export(tmp_path / "earlier.jsonl", anchored.export)


def failure(report: dict[str, Any]) -> dict[str, Any]:
    assert report["ok"] is False
    found: dict[str, Any] = report["failure"]
    return found


# -- the honest journal -------------------------------------------------------------------


def test_an_untouched_journal_passes_every_check(
    anchored: Anchored, copy: str, tmp_path: Path
) -> None:
    status, report = audit(anchored, export_of(copy, tmp_path / "export.jsonl"), tmp_path)
    assert status == 0, report["failure"]
    assert report["ok"] is True
    assert report["failure"] is None
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses == {
        "contract": "pass",
        "entries": "pass",
        "sequence": "pass",
        "timestamps": "pass",
        "accounting": "pass",
        "checkpoints": "pass",
        "consistency": "pass",
        "registry": "pass",
        "signatures": "pass",  # ADR 0037
    }
    assert [c["outcome"] for c in report["checkpoints"]] == ["match"] * 4
    assert report["journal"]["entries"] == len(anchored.export)
    assert report["journal"]["anchored_entries"] == anchored.sizes[-1]
    notes = " ".join(report["notes"])
    assert f"entries {anchored.sizes[-1]}..{len(anchored.export) - 1}" in notes
    assert f"charities revoked on chain: {anchored.revoked}" in notes


# -- the evidence pins the seq ----------------------------------------------------------


def test_a_deleted_row_is_named_by_its_seq(anchored: Anchored, copy: str, tmp_path: Path) -> None:
    seq = anchored.seqs["donation"]
    tamper(copy, f"DELETE FROM entry WHERE seq = {seq}")
    status, report = audit(anchored, export_of(copy, tmp_path / "e.jsonl"), tmp_path)
    assert status == 1
    assert (failure(report)["check"], failure(report)["seq"]) == ("sequence", seq)
    assert f"entry {seq} is missing" in failure(report)["detail"]


def test_an_inserted_row_is_named_by_its_seq(anchored: Anchored, copy: str, tmp_path: Path) -> None:
    seq = anchored.seqs["donation"]

    def forged(obj: dict[str, Any]) -> None:
        obj["body"]["donation_id"] = "dn_forged0000000000000"
        obj["body"]["amount"] = 1

    leaf = leaf_with(anchored.export[seq], forged)
    tamper(
        copy,
        f"UPDATE entry SET seq = -seq - 1 WHERE seq >= {seq}",
        "UPDATE entry SET seq = -seq WHERE seq < 0",  # every later row moves down one
        "INSERT INTO entry (seq, kind, actor, at, leaf, leaf_hash) "
        f"SELECT {seq}, kind, actor, at, %s, leaf_hash FROM entry WHERE seq = {seq + 1}",
        params=(leaf,),
    )
    status, report = audit(anchored, export_of(copy, tmp_path / "e.jsonl"), tmp_path)
    assert status == 1
    assert (failure(report)["check"], failure(report)["seq"]) == ("sequence", seq)
    assert "inserted or duplicated" in failure(report)["detail"]


def test_two_swapped_rows_are_named_by_the_first_seq(
    anchored: Anchored, copy: str, tmp_path: Path
) -> None:
    seq = anchored.seqs["donation"]
    tamper(
        copy,
        "UPDATE entry SET leaf = CASE seq WHEN %s THEN (SELECT leaf FROM entry WHERE seq = %s) "
        "ELSE (SELECT leaf FROM entry WHERE seq = %s) END WHERE seq IN (%s, %s)",
        params=(seq, seq + 1, seq, seq, seq + 1),
    )
    status, report = audit(anchored, export_of(copy, tmp_path / "e.jsonl"), tmp_path)
    assert status == 1
    assert (failure(report)["check"], failure(report)["seq"]) == ("sequence", seq)


def test_a_tail_truncated_after_it_was_anchored_is_named_where_it_ends(
    anchored: Anchored, copy: str, tmp_path: Path
) -> None:
    cut = anchored.sizes[2] + 2  # inside the last checkpoint
    tamper(copy, f"DELETE FROM entry WHERE seq >= {cut}")
    status, report = audit(anchored, export_of(copy, tmp_path / "e.jsonl"), tmp_path)
    assert status == 1
    assert (failure(report)["check"], failure(report)["seq"]) == ("checkpoints", cut)
    assert "truncated" in failure(report)["detail"]
    assert report["checkpoints"][3]["outcome"] == "beyond_export"


def test_a_line_rewritten_out_of_canonical_form_is_named_by_its_seq(
    anchored: Anchored, copy: str, tmp_path: Path
) -> None:
    seq = anchored.seqs["late_donation"]
    tamper(
        copy, f"UPDATE entry SET leaf = replace(leaf, ',\"at\":', ', \"at\":') WHERE seq = {seq}"
    )
    status, report = audit(anchored, export_of(copy, tmp_path / "e.jsonl"), tmp_path)
    assert status == 1
    assert (failure(report)["check"], failure(report)["seq"]) == ("entries", seq)
    assert "canonical" in failure(report)["detail"]


def test_a_refund_inflated_past_the_rules_is_named_by_its_seq(
    anchored: Anchored, copy: str, tmp_path: Path
) -> None:
    seq = anchored.seqs["refund"]
    tamper(
        copy,
        f"UPDATE entry SET leaf = replace(leaf, '\"amount\":10002', '\"amount\":99999') "
        f"WHERE seq = {seq}",
    )
    status, report = audit(anchored, export_of(copy, tmp_path / "e.jsonl"), tmp_path)
    assert status == 1
    # The anchored range holds it too; the accounting evidence pins the seq inside it.
    assert (failure(report)["check"], failure(report)["seq"]) == ("accounting", seq)
    assert "exceeds" in failure(report)["detail"]
    first, last = anchored.range_of(seq)
    checkpoint_problems = next(c for c in report["checks"] if c["name"] == "checkpoints")
    assert (
        checkpoint_problems["problems"][0]["first"],
        checkpoint_problems["problems"][0]["last"],
    ) == (
        first,
        last,
    )


# -- only the checkpoints bound it, the earlier export pins it ---------------------------


def test_a_changed_amount_is_bounded_by_the_checkpoints_and_pinned_by_an_earlier_export(
    anchored: Anchored, copy: str, tmp_path: Path, earlier: Path
) -> None:
    seq = anchored.seqs["donation"]
    tamper(
        copy,
        f"UPDATE entry SET leaf = replace(leaf, '\"amount\":10003', '\"amount\":99999') "
        f"WHERE seq = {seq}",
    )
    export = export_of(copy, tmp_path / "e.jsonl")
    status, report = audit(anchored, export, tmp_path)
    assert status == 1
    first, last = anchored.range_of(seq)
    found = failure(report)
    assert (found["check"], found["seq"], found["first"], found["last"]) == (
        "checkpoints",
        None,
        first,
        last,
    )
    assert f"entries {first}..{last}" in found["detail"]
    assert "do not match the anchored root" in found["detail"]

    status, report = audit(anchored, export, tmp_path, earlier=earlier)
    assert status == 1
    assert (failure(report)["check"], failure(report)["seq"]) == ("earlier_export", seq)


def test_the_store_itself_names_a_rewritten_entry_whose_hashes_were_not_recomputed(
    anchored: Anchored, copy: str, tmp_path: Path
) -> None:
    seq = anchored.seqs["donation"]
    tamper(
        copy,
        f"UPDATE entry SET leaf = replace(leaf, '\"amount\":10003', '\"amount\":99999') "
        f"WHERE seq = {seq}",
    )
    store = Store.open(copy, upgrade=False)
    try:
        verification = store.verify()
    finally:
        store.engine.dispose()
    assert (verification.first_bad_seq, verification.problems[0][1]) == (seq, "leaf_hash")
    status, _ = audit(anchored, export_of(copy, tmp_path / "e.jsonl"), tmp_path)
    assert status == 1


def test_a_timestamp_moved_in_order_is_bounded_by_checkpoints_and_pinned_by_an_earlier_export(
    anchored: Anchored, copy: str, tmp_path: Path, earlier: Path
) -> None:
    seq = anchored.seqs["allocation"]  # the last entry of its batch: the next is later

    def later(obj: dict[str, Any]) -> None:
        obj["at"] = format_at(parse_at(obj["at"]) + timedelta(milliseconds=1))

    leaf = leaf_with(anchored.export[seq], later)
    tamper(copy, f"UPDATE entry SET leaf = %s WHERE seq = {seq}", params=(leaf,))
    export = export_of(copy, tmp_path / "e.jsonl")
    status, report = audit(anchored, export, tmp_path)
    assert status == 1
    assert (failure(report)["first"], failure(report)["last"]) == anchored.range_of(seq)
    status, report = audit(anchored, export, tmp_path, earlier=earlier)
    assert (failure(report)["check"], failure(report)["seq"]) == ("earlier_export", seq)


def test_a_timestamp_moved_before_its_predecessor_is_caught_by_the_timestamps_check(
    anchored: Anchored, copy: str, tmp_path: Path
) -> None:
    seq = anchored.seqs["late_donation"]
    tamper(
        copy,
        'UPDATE entry SET leaf = regexp_replace(leaf, \'"at":"[^"]+"\', '
        f'\'"at":"2020-01-01T00:00:00.000Z"\') WHERE seq = {seq}',
    )
    status, report = audit(anchored, export_of(copy, tmp_path / "e.jsonl"), tmp_path)
    assert status == 1
    timestamps = next(c for c in report["checks"] if c["name"] == "timestamps")
    assert timestamps["status"] == "fail"
    assert (timestamps["problems"][0]["first"], timestamps["problems"][0]["last"]) == (seq - 1, seq)


def test_a_deletion_with_every_later_seq_renumbered_is_caught_by_the_checkpoint_roots(
    anchored: Anchored, copy: str, tmp_path: Path, earlier: Path
) -> None:
    seq = anchored.seqs["late_donation"]  # nothing refers to it
    tamper(
        copy,
        f"DELETE FROM entry WHERE seq = {seq}",
        "UPDATE entry SET seq = -(seq - 1), leaf = regexp_replace(leaf, '\"seq\":[0-9]+,', "
        f"'\"seq\":' || (seq - 1) || ',') WHERE seq > {seq}",
        "UPDATE entry SET seq = -seq WHERE seq < 0",
    )
    export = export_of(copy, tmp_path / "e.jsonl")
    status, report = audit(anchored, export, tmp_path)
    assert status == 1
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["sequence"] == statuses["entries"] == statuses["accounting"] == "pass"
    assert (failure(report)["first"], failure(report)["last"]) == anchored.range_of(seq)
    status, report = audit(anchored, export, tmp_path, earlier=earlier)
    assert (failure(report)["check"], failure(report)["seq"]) == ("earlier_export", seq)


def test_a_journal_rebuilt_consistently_around_a_rewrite_passes_its_own_verify_not_the_audit(
    anchored: Anchored, empty_copy: str, tmp_path: Path, earlier: Path
) -> None:
    seq = anchored.seqs["donation"]
    entries = [parse_entry(json.loads(line)) for line in anchored.export]
    rewritten = json.loads(anchored.export[seq])
    rewritten["body"]["amount"] = 99_999
    entries[seq] = parse_entry(rewritten)
    store = Store.open(empty_copy)
    try:
        # Replay every entry through the store itself, batch by batch, so that every
        # leaf hash, Merkle node and projection is recomputed consistently.
        batch: list[Draft] = []
        for n, entry in enumerate(entries):
            batch.append(Draft(entry.kind, dict(entry.body), entry.actor))
            if n + 1 == len(entries) or entries[n + 1].at != entry.at:
                store.append(batch, at=parse_at(entry.at))
                batch = []
        assert store.verify().ok
        rebuilt = list(store.leaves())
    finally:
        store.engine.dispose()
    assert rebuilt[seq] != anchored.export[seq]
    assert [line for n, line in enumerate(rebuilt) if n != seq] == [
        line for n, line in enumerate(anchored.export) if n != seq
    ]
    export = write_export(tmp_path / "rebuilt.jsonl", rebuilt)
    status, report = audit(anchored, export, tmp_path)
    assert status == 1
    assert (failure(report)["first"], failure(report)["last"]) == anchored.range_of(seq)
    status, report = audit(anchored, export, tmp_path, earlier=earlier)
    assert (failure(report)["check"], failure(report)["seq"]) == ("earlier_export", seq)


@pytest.fixture
def empty_copy(pg_database: str) -> str:
    """A migrated, empty database for a tamperer's rebuilt journal."""
    return pg_database


def test_the_slow_path_reaches_the_same_verdict(
    anchored: Anchored, copy: str, tmp_path: Path
) -> None:
    seq = anchored.seqs["donation"]
    tamper(copy, f"DELETE FROM entry WHERE seq = {seq}")
    export = export_of(copy, tmp_path / "e.jsonl")
    fast = audit(anchored, export, tmp_path)
    slow = audit(anchored, export, tmp_path, extra=("--no-fast-path",))
    assert fast[0] == slow[0] == 1
    strip = re.compile(r'"elapsed_s": [0-9.]+')
    assert strip.sub("", json.dumps(fast[1])) == strip.sub("", json.dumps(slow[1]))
