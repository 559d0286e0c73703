"""The anchorer's keystore: Web3 Secret Storage, private files, and every refusal (ADR 0038).

No refusal may show the password or the key: each test that feeds one checks the message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from chain.client import ChainClient, anchorer_signer
from chain.devnet import Devnet, dev_private_key
from chain.errors import KeystoreError
from chain.keystore import create_keystore, keystore_address, load_keystore, read_password
from chain.settings import ChainSettings

PASSWORD = "correct horse battery staple 7"
FAST = 2**10
"""scrypt's n for the tests' keystores (the files made for real use take the default 2**18)."""


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    path = tmp_path / "anchorer.json"
    create_keystore(path, PASSWORD, private_key=dev_private_key(3), iterations=FAST)
    return path


def assert_no_secret(message: str) -> None:
    assert PASSWORD not in message
    assert dev_private_key(3).hex() not in message


def test_a_keystore_is_written_private_in_the_standard_format_and_opens_with_its_password(
    keystore: Path,
) -> None:
    assert keystore.stat().st_mode & 0o777 == 0o600
    document = json.loads(keystore.read_text())
    assert document["version"] == 3
    assert document["crypto"]["kdf"] == "scrypt"
    # Any Web3 Secret Storage reader opens it: eth-account's own decrypt here.
    assert Account.decrypt(document, PASSWORD) == dev_private_key(3)
    address = Account.from_key(dev_private_key(3)).address
    assert keystore_address(keystore) == address
    assert load_keystore(keystore, PASSWORD).address == address


def test_a_new_key_is_random_and_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    first = create_keystore(tmp_path / "a.json", PASSWORD, iterations=FAST)
    second = create_keystore(tmp_path / "b.json", PASSWORD, iterations=FAST)
    assert first != second
    before = (tmp_path / "a.json").read_bytes()
    with pytest.raises(KeystoreError, match="exists: refusing to overwrite"):
        create_keystore(tmp_path / "a.json", PASSWORD, iterations=FAST)
    assert (tmp_path / "a.json").read_bytes() == before


def test_a_wrong_password_is_refused_without_repeating_it(keystore: Path) -> None:
    with pytest.raises(KeystoreError) as caught:
        load_keystore(keystore, PASSWORD + "!")
    message = str(caught.value)
    assert "the password does not open keystore" in message
    assert "MAC mismatch" in message
    assert_no_secret(message)
    assert (PASSWORD + "!") not in message


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_a_keystore_open_to_other_users_is_refused(keystore: Path, mode: int) -> None:
    keystore.chmod(mode)
    with pytest.raises(KeystoreError) as caught:
        load_keystore(keystore, PASSWORD)
    message = str(caught.value)
    assert f"open to other users of this machine (mode {mode:04o})" in message
    assert f"chmod 600 {keystore}" in message
    with pytest.raises(KeystoreError, match="open to other users"):
        keystore_address(keystore)


def test_a_stricter_mode_is_accepted(keystore: Path) -> None:
    keystore.chmod(0o400)
    assert load_keystore(keystore, PASSWORD).address == keystore_address(keystore)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is not JSON"),
        ("not json at all", "is not JSON"),
        ("[1, 2]", "not a Web3 Secret Storage file (not an object)"),
        ('{"version": 1, "crypto": {}}', "not a Web3 Secret Storage file of version 3"),
        ('{"version": 3}', "no crypto section"),
    ],
    ids=["empty", "text", "a list", "version 1", "no crypto"],
)
def test_a_malformed_keystore_is_refused_naming_what_is_wrong(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = private_file(tmp_path / "bad.json", content)
    with pytest.raises(KeystoreError) as caught:
        load_keystore(path, PASSWORD)
    assert expected in str(caught.value)


@pytest.mark.parametrize("field", ["ciphertext", "kdfparams", "mac", "cipherparams"])
def test_a_keystore_with_a_field_missing_or_broken_is_refused(keystore: Path, field: str) -> None:
    document = json.loads(keystore.read_text())
    del document["crypto"][field]
    broken = private_file(keystore.with_name("broken.json"), json.dumps(document))
    with pytest.raises(KeystoreError, match="is malformed") as caught:
        load_keystore(broken, PASSWORD)
    assert_no_secret(str(caught.value))


def test_a_keystore_whose_address_is_not_its_keys_is_refused(keystore: Path) -> None:
    document = json.loads(keystore.read_text())
    document["address"] = "70997970c51812dc3a010c7d01b50e0d17dc79c8"
    lying = private_file(keystore.with_name("lying.json"), json.dumps(document))
    with pytest.raises(KeystoreError, match=r"names address .* but holds the key of"):
        load_keystore(lying, PASSWORD)


def test_missing_files_and_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="does not exist"):
        load_keystore(tmp_path / "none.json", PASSWORD)
    with pytest.raises(KeystoreError, match="is not a regular file"):
        load_keystore(tmp_path, PASSWORD)


def test_the_password_comes_from_a_private_file_or_the_environment(tmp_path: Path) -> None:
    file = private_file(tmp_path / "pass", PASSWORD + "\n")
    assert read_password(file=file, value=None) == PASSWORD  # one trailing newline dropped
    assert read_password(file=None, value=PASSWORD) == PASSWORD
    with pytest.raises(KeystoreError, match="not both"):
        read_password(file=file, value=PASSWORD)
    with pytest.raises(KeystoreError, match="needs its password"):
        read_password(file=None, value=None)
    with pytest.raises(KeystoreError, match="is empty"):
        read_password(file=private_file(tmp_path / "empty", "\n"), value=None)
    file.chmod(0o644)
    with pytest.raises(KeystoreError) as caught:
        read_password(file=file, value=None)
    assert "CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE" in str(caught.value)
    assert "mode 0644" in str(caught.value)
    assert_no_secret(str(caught.value))


def test_the_settings_name_one_way_to_sign(keystore: Path) -> None:
    with pytest.raises(
        ValueError, match="set one way to sign, not CHAIN_ANCHORER_PRIVATE_KEY and "
    ):
        ChainSettings(
            anchorer_private_key="0x" + dev_private_key(1).hex(),  # type: ignore[arg-type]
            anchorer_keystore=keystore,
        )
    with pytest.raises(ValueError, match="needs CHAIN_ANCHORER_ADDRESS"):
        ChainSettings(anchorer_signer_url="http://127.0.0.1:9000")


@pytest.mark.anvil
def test_the_anchorer_signs_from_its_keystore_on_a_real_node(
    keystore: Path, tmp_path: Path, anvil: Devnet
) -> None:
    password_file = private_file(tmp_path / "pass", PASSWORD + "\n")
    settings = ChainSettings(
        rpc_url=anvil.rpc_url,
        anchorer_keystore=keystore,
        anchorer_keystore_password_file=password_file,
    )
    signer = anchorer_signer(settings)
    assert signer is not None
    client = ChainClient.from_settings(settings)
    assert client.address == keystore_address(keystore)
    deployment = client.deploy()  # account 3 is funded on anvil: it deploys and anchors
    outcome = client.anchor(1, b"\x11" * 32, [])
    tx = client.w3.eth.get_transaction(outcome.tx_hash)
    assert tx["from"] == keystore_address(keystore)
    assert deployment.ledger_anchor
