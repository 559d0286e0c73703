"""`shanlian charity`: a charity's own signing key (ADR 0037) — make one, sign with it.

Nothing here talks to the platform: ``keygen`` writes an encrypted keystore (the Web3
Secret Storage format, scrypt; a file only its owner may read), ``sign`` signs the typed
data of a prepare answer (``POST …/prepare``) and prints the request to submit. The
password comes from a prompt (never echoed), a file, or an environment variable, and is
never printed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from api.cli.usage import _command, _group
from api.signing import signed_request
from chain.typed_data import (
    SignatureError,
    decrypt_keystore,
    encrypt_keystore,
    new_key,
)

PASSWORD_ENV = "SHANLIAN_KEYSTORE_PASSWORD"  # noqa: S105 (a variable's name, not a password)
"""The environment variable a password may come from (``--password-env`` names another)."""


def _password(args: argparse.Namespace, *, confirm: bool) -> str | None:
    """The keystore's password: from --password-file, the environment, or a prompt."""
    if args.password_file is not None:
        text = Path(args.password_file).read_text("utf-8")
        return text.rstrip("\r\n")
    variable = args.password_env or PASSWORD_ENV
    if os.environ.get(variable):
        return os.environ[variable]
    if not sys.stdin.isatty():
        print(
            f"error: no password: use --password-file FILE, set {variable}, or run in a "
            "terminal to be asked",
            file=sys.stderr,
        )
        return None
    password = getpass.getpass("keystore password: ")
    if confirm and getpass.getpass("again: ") != password:
        print("error: the two passwords differ", file=sys.stderr)
        return None
    return password


def cmd_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        print(f"error: {out} exists; --force replaces it (and its key is lost)", file=sys.stderr)
        return 2
    password = _password(args, confirm=True)
    if password is None:
        return 2
    if len(password) < 8:
        print("error: the password must be at least 8 characters", file=sys.stderr)
        return 2
    address, key = new_key()
    document = encrypt_keystore(key, password)
    # Created readable by its owner only (0600), before a byte of the key is written.
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(document, file)
    print(f"address {address}")
    print(f"keystore {out} (Web3 Secret Storage, scrypt; readable by you only)")
    print(
        "register the address as the charity's signer: the platform registers it with the "
        "charity (signer), or rotate to it with POST /api/v1/charities/{id}/signer"
    )
    return 0


def _read_json(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
    return json.loads(text)


def cmd_sign(args: argparse.Namespace) -> int:
    try:
        document = json.loads(Path(args.keystore).read_text("utf-8"))
    except (OSError, ValueError) as error:
        print(f"error: cannot read the keystore {args.keystore}: {error}", file=sys.stderr)
        return 2
    try:
        prepared = _read_json(args.prepared)
    except (OSError, ValueError) as error:
        print(f"error: cannot read the prepare answer: {error}", file=sys.stderr)
        return 2
    if not isinstance(prepared, dict) or not isinstance(prepared.get("typed_data"), list):
        print(
            "error: not a prepare answer (POST …/prepare): it has no typed_data list",
            file=sys.stderr,
        )
        return 2
    password = _password(args, confirm=False)
    if password is None:
        return 2
    try:
        request = signed_request(prepared, decrypt_keystore(document, password))
    except (SignatureError, ValueError, TypeError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(request, ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", "utf-8")
    else:
        print(text)
    return 0


def _password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the keystore password from FILE (its first line)",
    )
    parser.add_argument(
        "--password-env",
        metavar="VARIABLE",
        help=f"read the password from this environment variable (default {PASSWORD_ENV}); "
        "without either, you are asked (nothing is echoed)",
    )


def add_commands(commands: Any) -> None:
    """``charity`` and its actions."""
    charity_commands = _group(
        commands,
        "charity",
        "a charity's signing key: keygen, sign",
        "A charity signs its own fund use with its key (ADR 0037): the platform cannot make "
        "a disbursement in its name. These commands run on the charity's machine and never "
        "talk to the platform.",
        "shanlian charity keygen --out charity-key.json",
        "shanlian charity sign --keystore charity-key.json prepared.json > request.json",
    )
    keygen = _command(
        charity_commands,
        "keygen",
        "make a signing key in an encrypted keystore",
        "Make a new signing key and write it to an encrypted keystore (Web3 Secret "
        "Storage, scrypt), readable by its owner only (0600). Prints its address: the "
        "charity's signer to register.",
        "shanlian charity keygen --out charity-key.json",
        "SHANLIAN_KEYSTORE_PASSWORD=… shanlian charity keygen --out charity-key.json",
    )
    keygen.add_argument("--out", required=True, metavar="FILE", help="the keystore to write")
    keygen.add_argument("--force", action="store_true", help="replace an existing file")
    _password_options(keygen)
    keygen.set_defaults(func=cmd_keygen)
    sign = _command(
        charity_commands,
        "sign",
        "sign a prepare answer's typed data",
        "Sign each typed data of a prepare answer (the JSON of POST …/prepare) with the "
        "keystore's key, and print the request to submit (the answer's request with "
        "signed.signatures filled).",
        'curl -sS -X POST $API/disbursements/prepare -H "Authorization: Bearer $KEY" '
        "-d @disbursement.json > prepared.json",
        "shanlian charity sign --keystore charity-key.json prepared.json > request.json",
    )
    sign.add_argument("prepared", metavar="PREPARED", help="the prepare answer (a file, or -)")
    sign.add_argument("--keystore", required=True, metavar="FILE", help="the charity's keystore")
    sign.add_argument("--out", metavar="FILE", help="write the request here (default: stdout)")
    _password_options(sign)
    sign.set_defaults(func=cmd_sign)
