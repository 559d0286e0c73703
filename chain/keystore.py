"""The anchorer's key at rest: an encrypted keystore in the Web3 Secret Storage format.

The format geth, Clef, web3signer, MetaMask's export and eth-account all read (version 3:
scrypt or PBKDF2, AES-128-CTR, a MAC over the ciphertext). The file and the password
file must be readable by their owner only (mode 0600 or stricter): a keystore any user
of the machine can copy is one offline guessing attack away from the key. Nothing here
logs, prints or puts into an error message the password or the key (ADR 0038).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.accounts import checksum_address
from chain.errors import KeystoreError
from chain.settings import ChainSettings

KEYSTORE_VERSION = 3
"""Web3 Secret Storage's version: the only one eth-account (and geth since 2015) writes."""


def check_private_file(path: Path, what: str) -> os.stat_result:
    """Refuse a file that is missing, not a regular file, or open to group or others.

    Args:
        path: the file.
        what: how the message names it (the setting it came from).

    Raises:
        KeystoreError: naming the file, its mode, and the ``chmod`` that fixes it.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeystoreError(f"{what} {path} does not exist") from None
    except OSError as error:
        raise KeystoreError(f"{what} {path} cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeystoreError(f"{what} {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeystoreError(
            f"{what} {path} is open to other users of this machine (mode {mode:04o}): "
            f"refused; make it the owner's only with `chmod 600 {path}`"
        )
    return info


def read_password(*, file: Path | None, value: str | None) -> str:
    """The keystore's password: from ``file`` (mode 0600, one line) or ``value``.

    Raises:
        KeystoreError: neither given, both given, or the file refused or empty.
    """
    if file is not None and value is not None:
        raise KeystoreError(
            "set one of CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE and "
            "CHAIN_ANCHORER_KEYSTORE_PASSWORD, not both"
        )
    if file is not None:
        check_private_file(file, "CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE")
        text = file.read_text("utf-8")
        password = text[:-1] if text.endswith("\n") else text
        if password.endswith("\r"):
            password = password[:-1]
    elif value is not None:
        password = value
    else:
        raise KeystoreError(
            "the keystore needs its password: set CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE (a "
            "file of mode 0600 holding it) or CHAIN_ANCHORER_KEYSTORE_PASSWORD"
        )
    if not password:
        raise KeystoreError("the keystore's password is empty")
    return password


def settings_password(settings: ChainSettings) -> str:
    """The keystore's password as the settings give it (``read_password``).

    Raises:
        KeystoreError: see ``read_password``.
    """
    secret = settings.anchorer_keystore_password
    return read_password(
        file=settings.anchorer_keystore_password_file,
        value=None if secret is None else secret.get_secret_value(),
    )


def keystore_address(path: Path) -> str:
    """The address a keystore names (its ``address`` field): no password needed.

    Raises:
        KeystoreError: the file is no keystore, or names no address.
    """
    document = _read_keystore(path)
    address = document.get("address")
    if not isinstance(address, str):
        raise KeystoreError(f"keystore {path} names no address")
    try:
        return checksum_address(address if address.startswith("0x") else "0x" + address)
    except ValueError:
        raise KeystoreError(f"keystore {path}: its address field is not an address") from None


def _read_keystore(path: Path) -> dict[str, Any]:
    check_private_file(path, "keystore")
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise KeystoreError(
            f"keystore {path} is not JSON: is it a Web3 Secret Storage file "
            "(`shanlian keys anchorer create` writes one)?"
        ) from None
    if not isinstance(document, dict):
        raise KeystoreError(f"keystore {path} is not a Web3 Secret Storage file (not an object)")
    version = document.get("version")
    crypto = document.get("crypto", document.get("Crypto"))
    if version != KEYSTORE_VERSION or not isinstance(crypto, dict):
        raise KeystoreError(
            f"keystore {path} is not a Web3 Secret Storage file of version {KEYSTORE_VERSION} "
            f"(version {version!r}, {'a' if isinstance(crypto, dict) else 'no'} crypto section)"
        )
    return document


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt the key in ``path`` with ``password``.

    Raises:
        KeystoreError: the file is open to others, no keystore, malformed, or the password
            does not open it; or the key is not the address the file names.
    """
    document = _read_keystore(path)
    try:
        key = Account.decrypt(document, password)
    except ValueError as error:
        if "MAC mismatch" in str(error):
            raise KeystoreError(
                f"the password does not open keystore {path} (MAC mismatch): check "
                "CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE or CHAIN_ANCHORER_KEYSTORE_PASSWORD"
            ) from None
        raise KeystoreError(f"keystore {path} is malformed ({error.__class__.__name__})") from None
    except (KeyError, TypeError, AttributeError, NotImplementedError) as error:
        raise KeystoreError(
            f"keystore {path} is malformed (a field missing or unsupported: "
            f"{error.__class__.__name__})"
        ) from None
    account: LocalAccount = Account.from_key(key)
    named = document.get("address")
    if isinstance(named, str) and named.lower().removeprefix("0x") != account.address[2:].lower():
        raise KeystoreError(
            f"keystore {path} names address {named} but holds the key of {account.address}"
        )
    return account


def create_keystore(
    path: Path,
    password: str,
    *,
    private_key: str | bytes | None = None,
    iterations: int | None = None,
) -> str:
    """Write a new keystore (mode 0600, never over an existing file); return its address.

    Args:
        path: where; its folder must exist. Refused if a file is there.
        password: what encrypts it.
        private_key: the key to keep; None makes a new random one.
        iterations: the KDF's work factor (scrypt's n, a power of two); None is
            eth-account's default (2**18). Tests lower it.

    Raises:
        KeystoreError: the file exists, or the key is malformed.
    """
    try:
        account: LocalAccount = (
            Account.create() if private_key is None else Account.from_key(private_key)
        )
    except (ValueError, TypeError):
        raise KeystoreError("that is not a private key (64 hex digits)") from None
    document = Account.encrypt(account.key, password, iterations=iterations)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeystoreError(f"{path} exists: refusing to overwrite a keystore") from None
    with os.fdopen(descriptor, "w") as file:
        json.dump(document, file)
        file.write("\n")
    return str(account.address)
