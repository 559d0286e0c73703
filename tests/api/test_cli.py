"""The ``shanlian`` command line on the embedded SQLite default."""

from __future__ import annotations

import argparse
import shlex
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, make_url

from api.cli import build_parser, main
from audit.export import Export
from audit.journal import verify_journal
from ledger.entries import KINDS, to_hex
from ledger.store.engine import make_engine
from ledger.store.journal import Store
from tests.conftest import PG_ADMIN_URL, pg_url


@pytest.fixture
def journal_url(sqlite_url: str) -> str:
    assert main(["--database", sqlite_url, "demo", "--donations", "120"]) == 0
    return sqlite_url


def test_demo_loads_a_journal_that_verifies(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(journal_url)
    kinds = {entry.kind for entry in store.entries()}
    # The demo shows every kind of entry; a disclosure report is published only at an
    # anchored checkpoint, and `shanlian demo` anchors only on a real node (ADR 0039).
    assert kinds == set(KINDS) - {"report.published"}
    capsys.readouterr()
    assert main(["--database", journal_url, "journal", "verify"]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {store.size()} entries")


def test_demo_refuses_to_mix_into_a_journal_with_entries(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    size = Store.open(journal_url).size()
    assert main(["--database", journal_url, "demo"]) == 0
    assert "--extend" in capsys.readouterr().out
    assert Store.open(journal_url).size() == size


def test_verify_names_the_seq_of_a_row_changed_behind_the_stores_back(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = journal_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TRIGGER entry_no_update")
        connection.execute(
            'UPDATE entry SET leaf = replace(leaf, \'"channel":"\', \'"channel":"x\') '
            "WHERE seq = (SELECT min(seq) FROM entry WHERE kind = 'donation.received')"
        )
        seq = connection.execute(
            "SELECT min(seq) FROM entry WHERE kind = 'donation.received'"
        ).fetchone()[0]
    capsys.readouterr()
    assert main(["--database", journal_url, "journal", "verify"]) == 1
    assert capsys.readouterr().out.startswith(f"FAILED at seq {seq}: leaf_hash")


def test_serve_starts_on_the_embedded_defaults_and_says_where_everything_is(
    tmp_path: pytest.TempPathFactory,
) -> None:
    import os
    import subprocess
    import sys
    import time

    import httpx

    from chain.devnet import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAIN_", "API_", "SHANLIAN_"))}
    env["API_DATABASE_URL"] = f"sqlite:///{tmp_path}/serve.db"
    env["API_EVIDENCE_DIR"] = f"{tmp_path}/evidence"
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("shanlian serve did not answer within 30 s")
        chain = httpx.get(f"{base}/api/v1/chain").json()
        assert chain["embedded"] is True
        assert chain["rpc_url"] == f"{base}/api/v1/chain/rpc"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"API       {base}/api/v1" in output
    assert f"{base}/docs" in output
    assert "platform token (generated" in output
    assert "embedded chain" in output


def test_journal_export_writes_every_entry_as_hashed_for_the_audit(
    journal_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(journal_url)
    output = tmp_path / "journal.jsonl"
    capsys.readouterr()
    assert main(["--database", journal_url, "journal", "export", "--output", str(output)]) == 0
    root = to_hex(store.root(store.size()))
    assert capsys.readouterr().err == f"exported {store.size()} entries, Merkle root {root}\n"
    assert output.read_bytes() == b"".join(leaf + b"\n" for leaf in store.leaves())
    assert not list(tmp_path.glob("*.partial"))
    # What the audit reads from it: the same journal, to the same root, every check passing.
    findings = verify_journal(Export(str(output)).blocks(), [])
    assert (findings.size, findings.root_hash) == (store.size(), store.root(store.size()))
    assert all(check.status in ("pass", "skip") for check in findings.checks)


def test_journal_export_to_stdout_is_the_same_bytes(
    journal_url: str, tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    store = Store.open(journal_url)
    assert main(["--database", journal_url, "journal", "export"]) == 0
    assert capfdbinary.readouterr().out == b"".join(leaf + b"\n" for leaf in store.leaves())


@pytest.mark.postgres
def test_journal_export_neither_creates_nor_migrates_a_database(
    tmp_path: Path, empty_pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.db"
    assert main(["--database", f"sqlite:///{missing}", "journal", "export"]) == 2
    assert "cannot open the journal at" in capsys.readouterr().err
    assert not missing.exists()
    assert main(["--database", empty_pg_database, "journal", "export"]) == 2
    assert "holds no shanlian journal" in capsys.readouterr().err
    engine = make_engine(empty_pg_database)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_keys_anchorer_names_what_is_missing_and_takes_no_key_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("CHAIN_ADMIN_PRIVATE_KEY", "CHAIN_ANCHORER_PRIVATE_KEY", "NO_SUCH_KEY"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["keys", "anchorer", "grant", "NO_SUCH_KEY"]) == 2
    assert "NO_SUCH_KEY is neither an address (0x…), a keystore file, nor a set variable" in (
        capsys.readouterr().err
    )
    assert main(["keys", "anchorer", "grant", "0x" + "ab" * 19]) == 2  # 19 bytes: no address
    assert "is neither an address" in capsys.readouterr().err
    account = "0x" + "ab" * 20
    assert main(["keys", "anchorer", "grant", account]) == 2
    assert capsys.readouterr().err == "error: set CHAIN_ADMIN_PRIVATE_KEY\n"
    with pytest.raises(SystemExit):  # an action it does not know
        main(["keys", "anchorer", "delete", account])


# -- every command explains itself --------------------------------------------------------


def _commands(
    parser: argparse.ArgumentParser, path: str = "shanlian"
) -> Iterator[tuple[str, argparse.ArgumentParser, str | None]]:
    """Every (sub)command: its path, its parser and the one-line help its parent lists."""
    yield path, parser, None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest: choice.help for choice in action._choices_actions}
            for name, subparser in action.choices.items():
                for found in _commands(subparser, f"{path} {name}"):
                    yield found if found[0] != f"{path} {name}" else (*found[:2], listed.get(name))


def test_every_command_and_option_explains_itself_with_an_example() -> None:
    commands = list(_commands(build_parser()))
    names = {path for path, _, _ in commands}
    assert {
        "shanlian serve",
        "shanlian anchor",
        "shanlian deploy",
        "shanlian devnet",
        "shanlian contracts build",
        "shanlian journal show",
        "shanlian journal verify",
        "shanlian journal rebuild-projections",
        "shanlian journal export",
        "shanlian keys auditor",
        "shanlian audit",
        "shanlian verify",
    } <= names
    undocumented = []
    for path, parser, listed in commands:
        if path != "shanlian" and not (listed or "").strip():
            undocumented.append(f"{path}: no line in its parent's list")
        if not (parser.description or "").strip():
            undocumented.append(f"{path}: no description")
        epilog = parser.epilog or ""
        if not epilog.startswith("examples:\n") or path not in epilog:
            undocumented.append(f"{path}: no example of itself")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            text = action.help
            if not text or not text.strip() or text == argparse.SUPPRESS:
                undocumented.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
        # The help renders, and the examples keep their lines (they are not reflowed).
        shown = parser.format_help()
        for line in epilog.splitlines()[1:]:
            assert line in shown.splitlines(), (path, line)
    assert undocumented == []


def test_help_is_printed_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for path, _, _ in _commands(build_parser()):
        with pytest.raises(SystemExit) as exited:
            main([*path.split()[1:], "--help"])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: {path}"), path
        assert "examples:\n" in out


# -- a PostgreSQL database that does not exist ----------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "command",
    [["journal", "show"], ["demo", "--donations", "5"], ["serve"], ["evidence", "collect"]],
)
def test_a_missing_database_is_one_line_that_says_how_to_create_it(
    command: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # where var/ would be made: nothing may be left there
    name = f"shanlian_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url(name))
    for password in (None, "pw-" + uuid.uuid4().hex):
        given = url.set(password=password).render_as_string(hide_password=False)
        assert main(["--database", given, *command]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.count("\n") == 1, err
        createdb = f"createdb -h {url.host} -p {url.port} -U {url.username} {name}"
        assert err == (
            f'error: the database "{name}" does not exist on the PostgreSQL server at '
            f"{url.host}:{url.port}: create it (empty; shanlian makes its tables) with "
            f"`{createdb}`, then run the command again\n"
        )
        assert password is None or password not in err
        assert list(tmp_path.iterdir()) == [], "a refused command left files behind"


@pytest.mark.postgres
def test_the_createdb_it_prints_makes_a_database_shanlian_then_runs_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"shanlian_missing_{uuid.uuid4().hex[:8]}"
    url = pg_url(name)
    assert main(["--database", url, "journal", "show"]) == 2
    createdb = capsys.readouterr().err.split("`")[1]
    subprocess.run(shlex.split(createdb), check=True)
    try:
        assert main(["--database", url, "journal", "show"]) == 0
        assert f"/{name}: 0 entries, Merkle root" in capsys.readouterr().out
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_unreachable_database_is_still_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from chain.devnet import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/shanlian"
    assert main(["--database", url, "journal", "show"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the database cannot be reached: connection failed")
    assert err.count("\n") == 1


def test_serve_demo_never_prints_a_real_donors_receipt(tmp_path: Path) -> None:
    """On a restart, ``serve --demo`` shows the demo's donors' receipts again, and only
    theirs: a donation to any other charity keeps its secret off the screen."""
    from datetime import UTC, datetime

    from api import models
    from api.app import build_services
    from api.cli.serve import _demo_receipts
    from api.demo import load_demo
    from api.keys import PLATFORM
    from api.services import Services
    from api.settings import ApiSettings

    def services(name: str) -> Services:
        settings = ApiSettings(
            database_url=f"sqlite:///{tmp_path}/{name}.db",
            admin_token="cli-test-platform-token-0123456789abcdef",  # type: ignore[arg-type]
            evidence_dir=tmp_path / name,
        )
        built: Services = build_services(settings, with_chain=False).services
        return built

    def donate_for_real(services: Services) -> models.DonationCreated:
        real = services.register_charity(
            models.CharityCreate(name="贵州山区儿童阅读会", registration_no="53520000MJ0003456W"),
            PLATFORM,
        )
        body = models.DonationCreate(
            charity_id=real.id,
            amount=10_000,
            currency="CNY",
            channel="card",
            paid_at=datetime.now(UTC),
            payment_ref="PAY-1",
        )
        return services.record_donation(body, PLATFORM, key="pay-1")

    real_only = services("real")
    donate_for_real(real_only)
    assert real_only.store.size() == 2
    assert _demo_receipts(real_only) == []

    mixed = services("mixed")
    summary = load_demo(mixed, donations=2, days=14)  # fewer than the three it shows
    donation = donate_for_real(mixed)
    shown = _demo_receipts(mixed)
    assert shown == summary.sample_receipts
    assert len(shown) == 2
    assert not [url for url in shown if donation.id in url or donation.receipt.secret in url]


def test_the_box_never_shows_a_configured_token_nor_the_nodes_key(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the token in the settings and a node whose URL carries its API key (and which
    does not answer yet): the box says where things are, and neither secret."""
    from api.app import build_services
    from api.cli.serve import ready_box
    from api.settings import ApiSettings
    from chain import settings as chain_settings
    from chain.devnet import free_port

    token = "box-test-platform-token-" + uuid.uuid4().hex
    node_key = uuid.uuid4().hex
    monkeypatch.setenv("CHAIN_RPC_URL", f"http://127.0.0.1:{free_port()}/v3/{node_key}")
    monkeypatch.setenv("CHAIN_REQUEST_TIMEOUT_S", "2")
    chain_settings.get_settings.cache_clear()
    try:
        runtime = build_services(
            ApiSettings(
                database_url=sqlite_url,
                evidence_dir=tmp_path / "evidence",
                admin_token=token,  # type: ignore[arg-type]
            )
        )
    finally:
        chain_settings.get_settings.cache_clear()
    assert runtime.chain_pending
    box = ready_box(runtime, [])
    lines = box.splitlines()
    assert lines[0].startswith("┌─ shanlian is ready ")
    assert lines[-1].startswith("└─ Ctrl-C stops it ")
    assert "│ chain     waiting for the node (see the note below)" in lines
    assert "│ platform token: the one in SHANLIAN_ADMIN_TOKEN" in lines
    assert sum(line.startswith("│ note: the chain node does not answer") for line in lines) == 1
    assert token not in box
    assert node_key not in box
    assert "donors' receipts" not in box
    note = [line for line in lines if line.startswith(("│ note:", "│       "))]
    assert len(note) > 1
    assert all(len(line) <= 90 for line in note), box  # a note wraps inside the box


@pytest.mark.postgres
def test_export_of_a_missing_database_says_how_to_create_it_and_creates_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"shanlian_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url(name))
    assert main(["--database", pg_url(name), "journal", "export"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"error: cannot open the journal at {url.render_as_string(hide_password=True)}: "
        f'the database "{name}" does not exist on the PostgreSQL server at '
        f"{url.host}:{url.port}: create it (empty; shanlian makes its tables) with "
        f"`createdb -h {url.host} -p {url.port} -U {url.username} {name}`\n"
    )
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()
    assert found == []
