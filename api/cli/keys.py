"""`shanlian keys`: API keys of charities and auditors, and the anchoring key's roles."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from api import tlog_cli
from api.cli.runtime import (
    _runtime,
)
from api.cli.usage import _command, _group
from api.keys import (
    MAX_LABEL_LENGTH,
    IssuedKey,
    KeyRecord,
    KeyStore,
    KeyStoreError,
    UnknownCharityError,
)
from chain.accounts import address_of_key, checksum_address
from chain.client import ANCHORER_ROLE, REGISTRAR_ROLE, ChainClient
from chain.errors import KeystoreError
from chain.keystore import create_keystore, keystore_address, settings_password
from chain.reader import ChainReader
from chain.settings import ChainSettings


def _role_account(account: str) -> str | None:
    """``account`` as an address: itself (0x…), the address a keystore file names, or the
    address of the key the variable holds.

    Raises:
        KeystoreError: ``account`` is a file, but no keystore.
    """
    if account.startswith("0x"):
        try:
            return checksum_address(account)
        except ValueError:
            return None
    if os.sep in account or account.endswith(".json") or Path(account).is_file():
        return keystore_address(Path(account))
    key = os.environ.get(account)
    if not key:
        return None
    return address_of_key(key)


def _chain_settings() -> ChainSettings | str:
    settings = ChainSettings()
    if not (
        settings.rpc_url and settings.ledger_anchor_address and settings.charity_registry_address
    ):
        return "set CHAIN_RPC_URL, CHAIN_LEDGER_ANCHOR_ADDRESS and CHAIN_CHARITY_REGISTRY_ADDRESS"
    return settings


def _role_client(variable: str) -> ChainReader | str:
    """The chain, signing with the key ``variable`` holds; or what is missing."""
    key = os.environ.get(variable)
    if not key:
        return f"set {variable}"
    settings = _chain_settings()
    if isinstance(settings, str):
        return settings
    # This key signs, not the anchorer's (whatever CHAIN_ANCHORER_* names).
    settings = settings.model_copy(
        update={
            "anchorer_private_key": SecretStr(key),
            "anchorer_keystore": None,
            "anchorer_signer_url": None,
        }
    )
    return ChainClient.from_settings(settings)


def _role_reader() -> ChainReader | str:
    """The chain, read with no key at all; or what is missing."""
    settings = _chain_settings()
    if isinstance(settings, str):
        return settings
    assert settings.rpc_url
    reader = ChainReader.connect(settings.rpc_url, chain_id=settings.chain_id)
    reader.attach(
        ledger_anchor=settings.ledger_anchor_address,
        charity_registry=settings.charity_registry_address,
    )
    return reader


def cmd_keys_anchorer_create(args: argparse.Namespace) -> int:
    """Write a new anchorer keystore; its address alone on stdout."""
    settings = ChainSettings().model_copy(update={"anchorer_private_key": None})
    key = None
    if args.import_variable:
        key = os.environ.get(args.import_variable)
        if not key:
            print(f"error: {args.import_variable} is not set", file=sys.stderr)
            return 2
    try:
        password = settings_password(settings)
        address = create_keystore(Path(args.account), password, private_key=key)
    except KeystoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote keystore {args.account} (mode 0600, Web3 Secret Storage) for this address; "
        "fund it, grant it the roles (`shanlian keys anchorer grant "
        f"{args.account}`), and set CHAIN_ANCHORER_KEYSTORE={args.account}",
        file=sys.stderr,
    )
    print(address, flush=True)
    return 0


def cmd_keys_anchorer(args: argparse.Namespace) -> int:
    action = args.action
    if action == "create":
        return cmd_keys_anchorer_create(args)
    try:
        account = _role_account(args.account)
    except KeystoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if account is None:
        print(
            f"error: {args.account} is neither an address (0x…), a keystore file, nor a set "
            "variable holding a private key",
            file=sys.stderr,
        )
        return 2
    # Showing reads only: no key at all. Granting and revoking sign with the admin's.
    chain = _role_reader() if action == "show" else _role_client("CHAIN_ADMIN_PRIVATE_KEY")
    if isinstance(chain, str):
        print(f"error: {chain}", file=sys.stderr)
        return 2
    roles = [
        ("ANCHORER_ROLE", chain.ledger_anchor, ANCHORER_ROLE),
        ("REGISTRAR_ROLE", chain.charity_registry, REGISTRAR_ROLE),
    ]
    for name, contract, role in roles:
        if action == "grant" and not chain.has_role(contract, role, account):
            assert isinstance(chain, ChainClient)
            outcome = chain.grant_role(contract, role, account)
            print(f"granted {name} to {account} (block {outcome.block_number})")
        elif action == "revoke" and chain.has_role(contract, role, account):
            assert isinstance(chain, ChainClient)
            outcome = chain.revoke_role(contract, role, account)
            print(f"revoked {name} from {account} (block {outcome.block_number})")
        held = chain.has_role(contract, role, account)
        print(f"{account} {'holds' if held else 'does not hold'} {name} on {contract.address}")
    return 0


def _key_store(args: argparse.Namespace) -> KeyStore:
    keys: KeyStore = _runtime(args, with_chain=False).services.keys
    return keys


def _show_new_key(issued: IssuedKey, whom: str) -> None:
    """The new key alone on stdout (``KEY=$(shanlian keys …)``), the rest on stderr."""
    print(
        f"new key {issued.key_id} for {whom} (shown once; only its hash is stored):",
        file=sys.stderr,
    )
    print(issued.key, flush=True)
    _show_revoked(issued.revoked)


def _show_revoked(revoked: Sequence[str]) -> None:
    if revoked:
        print(
            f"revoked {len(revoked)} key{'s' if len(revoked) > 1 else ''}, refused from now on: "
            + ", ".join(revoked),
            file=sys.stderr,
        )


def _show_records(records: Sequence[KeyRecord]) -> None:
    for record in records:
        revoked = record.revoked_at
        state = "live" if revoked is None else f"revoked {revoked:%Y-%m-%d %H:%M}"
        owner = f"{record.charity_id}  " if record.charity_id else ""
        print(
            f"{record.key_id}  {state:<24}  issued {record.created_at:%Y-%m-%d %H:%M}  "
            f"{owner}{record.label}"
        )


def cmd_keys_charity(args: argparse.Namespace) -> int:
    keys = _key_store(args)
    charity_id: str = args.charity_id
    try:
        if args.action == "rotate":
            _show_new_key(keys.rotate_charity(charity_id), f"charity {charity_id}")
        elif args.action == "revoke":
            revoked = keys.revoke_charity(charity_id)
            if not revoked:
                print(f"charity {charity_id} has no live key: nothing to revoke", file=sys.stderr)
            _show_revoked(revoked)
            print(
                f"charity {charity_id} can no longer write until `shanlian keys charity rotate "
                f"{charity_id}` issues it a new key",
                file=sys.stderr,
            )
        else:
            records = keys.records("charity", charity_id=charity_id)
            if not records:
                raise UnknownCharityError(charity_id)
            _show_records(records)
    except KeyStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_keys_auditor(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.target:
        what = "LABEL (who the key is for)" if args.action == "issue" else "KEY (key id or label)"
        print(f"error: `shanlian keys auditor {args.action}` needs {what}", file=sys.stderr)
        return 2
    keys = _key_store(args)
    try:
        if args.action == "issue":
            label = args.target.strip()
            if not label or len(label) > MAX_LABEL_LENGTH:
                print(
                    f"error: LABEL must be 1 to {MAX_LABEL_LENGTH} characters: who the key is for",
                    file=sys.stderr,
                )
                return 2
            _show_new_key(keys.issue_auditor(label), f"auditor {label!r}")
        elif args.action == "rotate":
            issued = keys.rotate_auditor(args.target)
            _show_new_key(issued, f"auditor {issued.label!r}")
        elif args.action == "revoke":
            _show_revoked(keys.revoke_auditor(args.target))
        else:
            _show_records(keys.records("auditor"))
    except KeyStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def add_commands(commands: Any) -> None:
    """``keys`` and its kinds of key."""
    keys_commands = _group(
        commands,
        "keys",
        "API keys of charities and auditors, and the anchoring key's roles",
        "A new key is printed once, alone on stdout; only its hash is stored, and "
        "it is named by its key id (key_…) from then on. A revoked key is refused from the "
        "next request on. The platform token (SHANLIAN_ADMIN_TOKEN) is not among these keys: "
        "it comes from the settings, and is replaced by restarting every process with a new "
        "one.",
        "shanlian keys charity rotate ch_jqeuwjkrulh3leus3vew",
        "KEY=$(shanlian keys auditor issue 'annual audit 2026')",
        "shanlian keys anchorer show 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    )
    platform_note = (
        " The platform token (SHANLIAN_ADMIN_TOKEN) cannot be revoked here: it comes from the "
        "settings; restart every process with a new one to replace it."
    )
    charity = _command(
        keys_commands,
        "charity",
        "list, rotate or revoke a charity's API keys",
        "rotate: issue the charity a new key and revoke all its older keys in "
        "one transaction (print the new key once). revoke: revoke all its keys; it cannot "
        "write until a rotation. list: its key ids, when issued and revoked." + platform_note,
        "shanlian keys charity list ch_jqeuwjkrulh3leus3vew",
        "shanlian keys charity rotate ch_jqeuwjkrulh3leus3vew > new-key.txt",
    )
    charity.add_argument(
        "action",
        choices=["list", "rotate", "revoke"],
        help="list its keys, rotate (a new key, the old ones revoked) or revoke them all",
    )
    charity.add_argument("charity_id", metavar="CHARITY_ID", help="the charity (ch_…)")
    charity.set_defaults(func=cmd_keys_charity)
    auditor = _command(
        keys_commands,
        "auditor",
        "issue, list, rotate or revoke auditor keys",
        "issue LABEL: a new key for LABEL (who it is for). list: every auditor "
        "key's id, label, when issued and revoked. rotate KEY: a new key with the same label, "
        "the old one(s) revoked in the same transaction. revoke KEY: refuse it from now on. "
        "KEY is a key id (key_…, printed at issue and by list) or a label, which names every "
        "live key that bears it." + platform_note,
        "KEY=$(shanlian keys auditor issue 'annual audit 2026')",
        "shanlian keys auditor list",
        "shanlian keys auditor revoke 'annual audit 2026'",
    )
    auditor.add_argument(
        "action",
        choices=["issue", "list", "rotate", "revoke"],
        help="issue a key, list them, rotate or revoke one",
    )
    auditor.add_argument(
        "target",
        nargs="?",
        metavar="LABEL_OR_KEY",
        help="issue: who the key is for (a label); rotate, revoke: a key id (key_…) or a label",
    )
    auditor.set_defaults(func=cmd_keys_auditor)
    anchorer = _command(
        keys_commands,
        "anchorer",
        "create the anchoring key's keystore; show, grant or revoke the roles of the key "
        "that anchors and registers charities (ANCHORER_ROLE and REGISTRAR_ROLE)",
        "create FILE: write a new key (or, with --import VAR, the key VAR holds) into an "
        "encrypted keystore FILE (Web3 Secret Storage, mode 0600; never over a file), its "
        "password from CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE (a 0600 file) or "
        "CHAIN_ANCHORER_KEYSTORE_PASSWORD, and print its address alone on stdout. Production "
        "signs with it (CHAIN_ANCHORER_KEYSTORE) or an external signer, never a raw key. "
        "show, grant, revoke ACCOUNT: ACCOUNT is an address (0x…), a keystore file, or the "
        "name of an environment variable holding the account's private key (keys never go "
        "on the command line). Showing needs no key; granting and revoking sign with "
        "CHAIN_ADMIN_PRIVATE_KEY; the chain and contracts come from CHAIN_RPC_URL, CHAIN_ID, "
        "CHAIN_LEDGER_ANCHOR_ADDRESS and CHAIN_CHARITY_REGISTRY_ADDRESS.",
        "CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE=/etc/shanlian/anchorer.pass "
        "shanlian keys anchorer create /etc/shanlian/anchorer.json",
        "shanlian keys anchorer grant /etc/shanlian/anchorer.json",
        "shanlian keys anchorer show 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "shanlian keys anchorer revoke 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    )
    anchorer.add_argument(
        "action",
        choices=["create", "show", "grant", "revoke"],
        help="create a keystore FILE; show which roles ACCOUNT holds, grant it both, or "
        "revoke both",
    )
    anchorer.add_argument(
        "account",
        metavar="ACCOUNT",
        help="create: the keystore file to write; otherwise a 0x address, a keystore file, "
        "or a key's variable",
    )
    anchorer.add_argument(
        "--import",
        dest="import_variable",
        metavar="VAR",
        help="create: keep the key the environment variable VAR holds (an already funded "
        "account) instead of a new one",
    )
    anchorer.set_defaults(func=cmd_keys_anchorer)
    tlog_cli.add_commands(keys_commands)  # keys log
