"""``shanlian witnesses``: the witness policy as the service reads it, and each witness's lag."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from api.cli.runtime import _open_store
from api.cli.usage import DATABASE_NOTE, _command
from api.settings import get_settings
from api.tlog import TransparencyLog, load_log_key
from api.witnesses import WitnessPolicyError, load_witnesses, statuses


def cmd_witnesses(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.policy is not None:
        settings = settings.model_copy(update={"witness_policy_file": args.policy})
    if settings.witness_policy_file is None:
        print("no witnesses: API_WITNESS_POLICY_FILE is unset (docs/deployment.md, Witnesses)")
        return 0
    store = _open_store(args)
    try:
        signer = load_log_key(settings)
        log = None if signer is None else TransparencyLog(store, signer)
        setup = load_witnesses(settings, log)
        assert setup is not None
        print(f"policy  {settings.witness_policy_file}")
        print(f"quorum  {setup.policy.describe()}")
        for status in statuses(store, setup):
            witness = setup.policy.witnesses[status.name]
            print(f"\n{status.name}  {status.vkey}\n  url       {witness.url}")
            print(
                f"  cosigned  {status.cosigned_size:,} entries "
                f"(lag {status.lag_entries:,} entries, {status.lag_seconds:,.0f} s)"
            )
            print(f"  state     {status.outcome}" + (f": {status.detail}" if status.detail else ""))
    except WitnessPolicyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        store.engine.dispose()
    return 0


def add_commands(commands: Any) -> None:
    """``witnesses``."""
    parser = _command(
        commands,
        "witnesses",
        "the witness policy as the service reads it, and each witness's lag",
        "Read the C2SP tlog-policy file (--policy, else API_WITNESS_POLICY_FILE) exactly as "
        "`shanlian serve` does, refusing what it would refuse (the line is named), and print "
        "the quorum and, for each witness, its key, its URL, the largest checkpoint it "
        "cosigned, how far it lags the journal and how its last attempt went.\n\n" + DATABASE_NOTE,
        "shanlian witnesses",
        "shanlian witnesses --policy /etc/shanlian/witnesses.policy",
    )
    parser.add_argument(
        "--policy", type=Path, metavar="FILE", help="a policy file to read instead of the set one"
    )
    parser.set_defaults(func=cmd_witnesses)
