"""`shanlian keys`: API keys of charities and auditors, and the anchoring key's roles."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
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
from chain.settings import ChainSettings


def _role_account(account: str) -> str | None:
    """``account`` as an address: itself (0x…), or the address of the key the variable holds."""
    if account.startswith("0x"):
        try:
            return checksum_address(account)
        except ValueError:
            return None
    key = os.environ.get(account)
    if not key:
        return None
    return address_of_key(key)


def _role_client(*variables: str) -> ChainClient | str:
    """The chain, signing with the first of ``variables`` that is set; or what is missing."""
    key = next((os.environ[v] for v in variables if os.environ.get(v)), None)
    if key is None:
        return f"set {variables[0]}"
    settings = ChainSettings().model_copy(update={"anchorer_private_key": SecretStr(key)})
    if not (
        settings.rpc_url and settings.ledger_anchor_address and settings.charity_registry_address
    ):
        return "set CHAIN_RPC_URL, CHAIN_LEDGER_ANCHOR_ADDRESS and CHAIN_CHARITY_REGISTRY_ADDRESS"
    return ChainClient.from_settings(settings)


def cmd_keys_anchorer(args: argparse.Namespace) -> int:
    account = _role_account(args.account)
    if account is None:
        print(
            f"error: {args.account} is neither an address (0x…) nor a set variable holding a "
            "private key",
            file=sys.stderr,
        )
        return 2
    action = args.action
    # Showing reads only: any of the keys will do. Granting and revoking take the admin's.
    variables = (
        ("CHAIN_ANCHORER_PRIVATE_KEY", "CHAIN_ADMIN_PRIVATE_KEY")
        if action == "show"
        else ("CHAIN_ADMIN_PRIVATE_KEY",)
    )
    chain = _role_client(*variables)
    if isinstance(chain, str):
        print(f"error: {chain}", file=sys.stderr)
        return 2
    roles = [
        ("ANCHORER_ROLE", chain.ledger_anchor, ANCHORER_ROLE),
        ("REGISTRAR_ROLE", chain.charity_registry, REGISTRAR_ROLE),
    ]
    for name, contract, role in roles:
        if action == "grant" and not chain.has_role(contract, role, account):
            outcome = chain.grant_role(contract, role, account)
            print(f"granted {name} to {account} (block {outcome.block_number})")
        elif action == "revoke" and chain.has_role(contract, role, account):
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
        "show, grant or revoke the roles of the key that anchors and registers charities "
        "(ANCHORER_ROLE and REGISTRAR_ROLE): rotating the worker's key",
        "ACCOUNT is an address (0x…) or the name of an environment variable "
        "holding the account's private key (keys never go on the command line). Granting "
        "and revoking sign with CHAIN_ADMIN_PRIVATE_KEY; the chain and contracts come from "
        "CHAIN_RPC_URL, CHAIN_ID, CHAIN_LEDGER_ANCHOR_ADDRESS and "
        "CHAIN_CHARITY_REGISTRY_ADDRESS.",
        "shanlian keys anchorer show 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "NEW_ANCHORER_KEY=0x… shanlian keys anchorer grant NEW_ANCHORER_KEY",
        "shanlian keys anchorer revoke 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    )
    anchorer.add_argument(
        "action",
        choices=["show", "grant", "revoke"],
        help="show which roles ACCOUNT holds, grant it both, or revoke both",
    )
    anchorer.add_argument("account", metavar="ACCOUNT", help="0x address, or a key's variable")
    anchorer.set_defaults(func=cmd_keys_anchorer)
    tlog_cli.add_commands(keys_commands)  # keys log
