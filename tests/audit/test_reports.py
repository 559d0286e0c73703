"""The audit's reports (text, JSON, HTML) and its command line, on a SQLite journal."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from api.cli import build_parser
from audit import cli as audit_cli
from audit import journal, scanner
from audit.auditor import run_audit
from audit.cli import Progress, cmd_audit, cmd_verify, main
from audit.export import Export
from audit.html import render_html
from audit.report import AuditReport
from chain.artifacts import CHARITY_REGISTRY, load_artifact
from chain.devnet import dev_private_key
from ledger.store.journal import Store
from tests.audit.conftest import SCRIPT_NAME, Anchored, write_export


@pytest.fixture
def anchored(anchored_sqlite: tuple[Anchored, Store]) -> Anchored:
    return anchored_sqlite[0]


def report_of(anchored: Anchored, lines: list[bytes]) -> AuditReport:
    return run_audit(
        iter(lines),
        anchored.client,
        contract=anchored.contract,
        registry=anchored.registry,
        journal_name="journal.jsonl",
    )


def tampered(anchored: Anchored) -> list[bytes]:
    lines = list(anchored.export)
    del lines[anchored.seqs["donation"]]
    return lines


def test_the_html_report_escapes_a_charity_named_like_a_script(anchored: Anchored) -> None:
    page = render_html(report_of(anchored, anchored.export))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT_NAME not in page
    assert "<script" not in page.lower()


def test_the_html_report_is_self_contained(anchored: Anchored) -> None:
    page = render_html(report_of(anchored, anchored.export))
    assert page.startswith("<!doctype html>")
    assert not re.search(r"\b(src|href)\s*=|url\(|@import", page, re.IGNORECASE)
    assert not re.search(r"<(link|img|iframe|object|embed|script)\b", page, re.IGNORECASE)


def test_the_html_report_shows_every_check_with_its_outcome(anchored: Anchored) -> None:
    report = report_of(anchored, tampered(anchored))
    page = render_html(report)
    for check in report.checks:
        assert f"<code>{check.name}</code>" in page
    assert f"FAILED at seq {anchored.seqs['donation']}" in page
    assert "乡村学校基金会" in page


def test_the_json_report_names_the_failure_and_carries_every_check(anchored: Anchored) -> None:
    report = report_of(anchored, tampered(anchored))
    document = json.loads(json.dumps(report.to_json()))
    assert document["format"] == "shanlian-audit/v1"
    assert document["ok"] is False
    assert document["failure"]["seq"] == anchored.seqs["donation"]
    assert document["failure"]["check"] == "sequence"
    assert [c["name"] for c in document["checks"]] == [
        "contract",
        "entries",
        "sequence",
        "timestamps",
        "accounting",
        "checkpoints",
        "consistency",
        "registry",
        "signatures",  # ADR 0037
    ]
    assert document["chain"]["ledger_anchor"] == anchored.contract
    assert len(document["checkpoints"]) == 4


def test_the_totals_add_up_per_charity_and_currency(anchored: Anchored) -> None:
    report = report_of(anchored, anchored.export)
    (total,) = report.totals
    school = next(c for c in report.charities if c.name == "乡村学校基金会")
    script = next(c for c in report.charities if c.name == SCRIPT_NAME)
    (school_cny,) = school.balances
    (script_cny,) = script.balances
    # Donations: 8 x 10,000+i, 3 x 5,000, 4 x 20,000+i, 6 x 30,000+i, 5 x 40,000+i;
    # 7,777 to the other charity.
    received = (
        sum(10_000 + i for i in range(8))
        + 15_000
        + sum(20_000 + i for i in range(4))
        + sum(30_000 + i for i in range(6))
        + sum(40_000 + i for i in range(5))
    )
    assert school_cny.received == received
    assert school_cny.refunded == 10_002
    assert school_cny.allocated == 10_000 + 3_000  # the 5,000 allocation was reversed
    assert school_cny.disbursed == 15_000 + 3_000
    assert school_cny.held == received - 10_002 - 13_000
    assert (script_cny.received, script_cny.disbursed) == (7_777, 0)  # its purchase was voided
    assert total.received == received + 7_777
    assert script.registry is not None
    assert script.registry.revoked_at is not None
    assert school.registry is not None
    assert school.registry.metadata_matches


def test_the_text_report_ends_with_the_verdict(anchored: Anchored) -> None:
    passed = report_of(anchored, anchored.export).to_text()
    assert passed.splitlines()[-1].startswith("PASSED: ")
    failed = report_of(anchored, tampered(anchored)).to_text()
    assert failed.splitlines()[-1].startswith(
        f"FAILED at seq {anchored.seqs['donation']}: sequence: "
    )


ANVIL_ONLY = pytest.mark.parametrize(
    "anchored_sqlite", [pytest.param("anvil", marks=pytest.mark.anvil)], indirect=True
)


@ANVIL_ONLY
def test_the_audit_command_writes_both_reports_and_exits_by_the_verdict(
    anchored: Anchored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert anchored.client.rpc_url is not None
    good = write_export(tmp_path / "good.jsonl", anchored.export)
    bad = write_export(tmp_path / "bad.jsonl", tampered(anchored))
    base = ["audit", "--rpc", anchored.client.rpc_url, "--contract", anchored.contract]
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    argv = [*base, "--journal", str(good), "--report-json", str(out_json)]
    assert main([*argv, "--report-html", str(out_html), "--registry", anchored.registry]) == 0
    assert json.loads(out_json.read_text("utf-8"))["ok"] is True
    assert "&lt;script&gt;" in out_html.read_text("utf-8")
    captured = capsys.readouterr()
    assert "PASSED" in captured.out
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    assert main([*base, "--journal", str(bad)]) == 1
    assert f"FAILED at seq {anchored.seqs['donation']}" in capsys.readouterr().out


@ANVIL_ONLY
def test_without_the_scanner_the_audit_command_says_so_on_stderr_and_in_the_report(
    anchored: Anchored,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scanner, "_scan", None)  # as where no C compiler built it
    problem = scanner._problem()
    assert problem is not None
    monkeypatch.setattr(audit_cli, "SCANNER_PROBLEM", problem)
    monkeypatch.setattr(journal, "SCANNER_PROBLEM", problem)
    assert anchored.client.rpc_url is not None
    good = write_export(tmp_path / "good.jsonl", anchored.export)
    out_json = tmp_path / "r.json"
    argv = ["audit", "--rpc", anchored.client.rpc_url, "--contract", anchored.contract]
    assert main([*argv, "--journal", str(good), "--report-json", str(out_json)]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"warning: {problem}\n"
    assert f"  - {problem}" in captured.out  # the text report's notes
    assert problem in json.loads(out_json.read_text("utf-8"))["notes"]
    assert "PASSED" in captured.out
    # Asked for the reference path, the auditor is not warned about it.
    assert main([*argv, "--journal", str(good), "--no-fast-path"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert problem not in captured.out


@ANVIL_ONLY
def test_the_audit_command_cannot_run_without_its_inputs(
    anchored: Anchored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert anchored.client.rpc_url is not None
    good = write_export(tmp_path / "good.jsonl", anchored.export)
    rpc = anchored.client.rpc_url
    missing = ["audit", "--journal", str(tmp_path / "missing.jsonl"), "--rpc", rpc]
    assert main([*missing, "--contract", anchored.contract]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    nobody = "0x" + "12" * 20
    assert main(["audit", "--journal", str(good), "--rpc", rpc, "--contract", nobody]) == 2
    assert "no contract" in capsys.readouterr().err
    wrong_chain = ["--chain-id", "1", "--contract", anchored.contract]
    assert main(["audit", "--journal", str(good), "--rpc", rpc, *wrong_chain]) == 2
    assert "serves chain id 31337, not 1" in capsys.readouterr().err
    # Checkpoint logs searched from after the first anchor: the audit cannot list them all.
    events = anchored.client.checkpoint_events()
    assert len(events) >= 2
    late = ["--contract", anchored.contract, "--from-block", str(events[-1].block_number)]
    assert main(["audit", "--journal", str(good), "--rpc", rpc, *late]) == 2
    assert "CheckpointAnchored logs of" in capsys.readouterr().err
    early = ["--contract", anchored.contract, "--from-block", str(events[0].block_number)]
    assert main(["audit", "--journal", str(good), "--rpc", rpc, *early]) == 0


def test_shanlian_wires_the_audit_and_verify_commands() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "audit",
            "--journal",
            "j.jsonl",
            "--rpc",
            "http://127.0.0.1:8545",
            "--contract",
            "0x" + "ab" * 20,
        ]
    )
    assert args.func is cmd_audit
    args = parser.parse_args(["verify", "b.json", "--rpc", "http://127.0.0.1:8545"])
    assert args.func is cmd_verify


def test_charities_missing_from_the_registry_or_registered_with_another_hash_are_named(
    anchored: Anchored,
) -> None:
    other = anchored.client.with_account(dev_private_key(0))  # the fixture's client stays
    address, _ = other.deploy_contract(
        load_artifact(CHARITY_REGISTRY), other.address, other.address
    )
    other.attach(charity_registry=address)
    other.register_charity(anchored.charities["school"], None, b"\x11" * 32)
    report = run_audit(iter(anchored.export), other, contract=anchored.contract, registry=address)
    registry = report.check("registry")
    assert registry.status == "fail"
    first, second = registry.problems
    assert first.seq == 0  # the school: registered, with another metadata hash
    assert "registered on chain with metadata hash 0x1111" in first.detail
    assert second.seq == 1  # the other charity: not registered at all
    assert "is not in the registry on chain" in second.detail
    assert report.failure == registry.problems[0]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_on_a_terminal_only_after_half_a_second(tmp_path: Path) -> None:
    path = write_export(tmp_path / "e.jsonl", [b"{}"] * 10)
    export = Export(str(path))
    list(export.lines())
    terminal = _Terminal()
    progress = Progress(export, terminal)
    progress(5)
    assert terminal.getvalue() == ""  # a short run prints nothing
    progress.started -= 1.0
    progress(10)
    progress.done()
    assert terminal.getvalue().startswith(
        "\raudit [##############################] 100% 10 entries"
    )
    assert terminal.getvalue().endswith("\n")
    quiet = io.StringIO()
    silent = Progress(export, quiet)
    silent.started -= 1.0
    silent(10)
    assert quiet.getvalue() == ""


def test_an_older_export_passes_against_the_chain_as_of_its_block(anchored: Anchored) -> None:
    then = anchored.checkpoints[2]
    older = anchored.export[: then.tree_size + 1]  # taken after checkpoint 2, before 3
    latest = run_audit(iter(older), anchored.client, contract=anchored.contract)
    assert latest.failure is not None
    assert "truncated" in latest.failure.detail
    at_block = run_audit(
        iter(older), anchored.client, contract=anchored.contract, block=then.block_number
    )
    assert at_block.ok, at_block.failure
    assert (at_block.block, len(at_block.checkpoints)) == (then.block_number, 3)
