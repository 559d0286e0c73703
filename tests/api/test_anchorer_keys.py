"""``shanlian keys anchorer create`` writes the anchorer's keystore; ``show``, ``grant`` and
``revoke`` take a keystore file for ACCOUNT (ADR 0038). No secret is ever printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from api.cli import main
from chain import settings as chain_settings
from chain.client import ChainClient
from chain.devnet import Devnet, dev_private_key
from chain.keystore import keystore_address, load_keystore

PASSWORD = "the anchorer's own password 42"


@pytest.fixture
def password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "anchorer.pass"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    monkeypatch.setenv("CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE", str(path))
    chain_settings.get_settings.cache_clear()
    return path


def test_create_writes_a_private_keystore_and_prints_only_its_address(
    tmp_path: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keystore = tmp_path / "anchorer.json"
    assert main(["keys", "anchorer", "create", str(keystore)]) == 0
    out, err = capsys.readouterr()
    address = out.strip()
    assert out == address + "\n"  # ADDRESS=$(shanlian keys anchorer create FILE)
    assert keystore.stat().st_mode & 0o777 == 0o600
    assert load_keystore(keystore, PASSWORD).address == address == keystore_address(keystore)
    assert f"set CHAIN_ANCHORER_KEYSTORE={keystore}" in err
    assert PASSWORD not in out + err
    key = bytes(load_keystore(keystore, PASSWORD).key).hex()
    assert key not in out + err
    assert json.loads(keystore.read_text())["version"] == 3
    # Never over an existing keystore.
    before = keystore.read_bytes()
    assert main(["keys", "anchorer", "create", str(keystore)]) == 2
    assert "exists: refusing to overwrite" in capsys.readouterr().err
    assert keystore.read_bytes() == before


def test_create_imports_a_funded_key_from_a_variable(
    tmp_path: Path,
    password_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = "0x" + dev_private_key(7).hex()
    monkeypatch.setenv("FUNDED_KEY", key)
    keystore = tmp_path / "imported.json"
    assert main(["keys", "anchorer", "create", str(keystore), "--import", "FUNDED_KEY"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == Account.from_key(dev_private_key(7)).address
    assert key[2:] not in out + err
    assert main(["keys", "anchorer", "create", str(tmp_path / "x.json"), "--import", "NONE"]) == 2
    assert capsys.readouterr().err == "error: NONE is not set\n"


def test_create_refuses_a_password_file_others_can_read_and_no_password(
    tmp_path: Path,
    password_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    password_file.chmod(0o644)
    assert main(["keys", "anchorer", "create", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert "CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE" in err
    assert "mode 0644" in err
    assert PASSWORD not in err
    assert not (tmp_path / "a.json").exists()
    monkeypatch.delenv("CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE")
    chain_settings.get_settings.cache_clear()
    assert main(["keys", "anchorer", "create", str(tmp_path / "a.json")]) == 2
    assert "the keystore needs its password" in capsys.readouterr().err


@pytest.mark.anvil
def test_show_reads_the_roles_of_a_keystores_address_with_no_key_at_all(
    tmp_path: Path,
    password_file: Path,
    anvil: Devnet,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keystore = tmp_path / "anchorer.json"
    assert main(["keys", "anchorer", "create", str(keystore)]) == 0
    address = capsys.readouterr().out.strip()
    deployment = ChainClient.connect(anvil.rpc_url).deploy(anchorer=address)
    for name, value in {
        "CHAIN_RPC_URL": anvil.rpc_url,
        "CHAIN_LEDGER_ANCHOR_ADDRESS": deployment.ledger_anchor,
        "CHAIN_CHARITY_REGISTRY_ADDRESS": deployment.charity_registry,
    }.items():
        monkeypatch.setenv(name, value)
    for variable in ("CHAIN_ADMIN_PRIVATE_KEY", "CHAIN_ANCHORER_PRIVATE_KEY"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["keys", "anchorer", "show", str(keystore)]) == 0
    out = capsys.readouterr().out
    assert f"{address} holds ANCHORER_ROLE on {deployment.ledger_anchor}" in out
    assert f"{address} does not hold REGISTRAR_ROLE on {deployment.charity_registry}" in out
    keystore.chmod(0o644)
    assert main(["keys", "anchorer", "show", str(keystore)]) == 2
    assert "open to other users" in capsys.readouterr().err


def test_a_wrong_keystore_password_stops_a_command_in_one_line_without_the_password(
    tmp_path: Path,
    password_file: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keystore = tmp_path / "anchorer.json"
    assert main(["keys", "anchorer", "create", str(keystore)]) == 0
    password_file.write_text("not the password at all\n")
    monkeypatch.setenv("CHAIN_ANCHORER_KEYSTORE", str(keystore))
    chain_settings.get_settings.cache_clear()
    capsys.readouterr()
    try:
        assert main(["--database", sqlite_url, "anchor", "--embedded-ok"]) == 2
    finally:
        chain_settings.get_settings.cache_clear()
    out, err = capsys.readouterr()
    assert err == (
        f"error: the password does not open keystore {keystore} (MAC mismatch): check "
        "CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE or CHAIN_ANCHORER_KEYSTORE_PASSWORD\n"
    )
    assert "not the password" not in out + err
