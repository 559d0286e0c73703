"""The chain side: `shanlian anchor`, `contracts build`, `devnet` and `deploy`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from api.anchoring import AnchorDeferredError
from api.cli.runtime import (
    _runtime,
)
from api.cli.usage import DATABASE_NOTE, _command, _group
from api.settings import get_settings
from chain.devnet import DEFAULT_STATE_FILE
from ledger.entries import to_hex

DEFERRED = 3
"""``shanlian anchor``'s exit code when the fee cap or the budget says wait (ADR 0038)."""


def cmd_anchor(args: argparse.Namespace) -> int:
    from chain.settings import get_settings as chain_settings

    embedded = not chain_settings().rpc_url
    if embedded and not args.embedded_ok and get_settings().environment != "production":
        print(
            "error: refusing to anchor: CHAIN_RPC_URL is not set, so the chain would be the "
            "embedded one, which lives only inside this command and is gone when it exits: "
            "nobody could verify the checkpoint against it. Set CHAIN_RPC_URL and the "
            "contract addresses (`shanlian devnet` runs a local chain that keeps its state), "
            "or anchor from `shanlian serve`, whose embedded chain lives as long as the "
            "server; --embedded-ok anchors anyway (demos, tests)",
            file=sys.stderr,
        )
        return 2
    runtime = _runtime(args)
    worker = runtime.services.worker
    try:
        checkpoint = worker.anchor_now()
    except AnchorDeferredError as deferred:
        print(f"not anchored now: {deferred}", file=sys.stderr)
        return DEFERRED
    if checkpoint is None:
        print("the journal is empty: nothing to anchor")
        return 0
    print(
        f"checkpoint {checkpoint.checkpoint_index}: tree size {checkpoint.tree_size}, root "
        f"{to_hex(checkpoint.root_hash)}, tx {to_hex(checkpoint.tx_hash)} in block "
        f"{checkpoint.block_number}{'' if checkpoint.confirmed else ' (not yet confirmed)'}"
    )
    if embedded:
        print(
            "note: anchored on the embedded chain, which is gone now that this command "
            "exits: this checkpoint cannot be verified against any chain",
            file=sys.stderr,
        )
    return 0


def cmd_contracts_build(args: argparse.Namespace) -> int:
    from chain.__main__ import build

    return build()


def cmd_devnet(args: argparse.Namespace) -> int:
    from chain.__main__ import devnet

    return devnet(args.port, None if args.no_state else args.state)


def cmd_deploy(args: argparse.Namespace) -> int:
    from chain.client import ChainClient

    client = ChainClient.from_settings()
    if client.is_embedded:
        print("CHAIN_RPC_URL is not set: the embedded chain is deployed by `shanlian serve`")
        return 2
    deployment = client.deploy()
    print(f"deployed on chain {deployment.chain_id} at block {deployment.block_number}:")
    print(f"CHAIN_LEDGER_ANCHOR_ADDRESS={deployment.ledger_anchor}")
    print(f"CHAIN_CHARITY_REGISTRY_ADDRESS={deployment.charity_registry}")
    return 0


def add_anchor_command(commands: Any) -> None:
    """``anchor``."""
    anchor = _command(
        commands,
        "anchor",
        "anchor the journal now, on CHAIN_RPC_URL's chain",
        "Anchor the journal's current root on the chain named by CHAIN_RPC_URL, "
        "CHAIN_LEDGER_ANCHOR_ADDRESS and CHAIN_CHARITY_REGISTRY_ADDRESS (signed with "
        "CHAIN_ANCHORER_PRIVATE_KEY; the devnet's key on chain id 31337), and print the "
        "checkpoint. `shanlian serve` does it on its own every ANCHOR_INTERVAL_S; this is "
        "for cron jobs and scripts. Without CHAIN_RPC_URL the chain would be the embedded "
        "one, which dies with this command: refused (exit 2) unless --embedded-ok is given. "
        "While the base fee is above CHAIN_MAX_FEE_PER_GAS, or ANCHOR_BUDGET_WEI is spent, "
        "nothing is sent: it says why and exits 3 (try again later)."
        "\n\n" + DATABASE_NOTE,
        "shanlian anchor                 # with the CHAIN_* variables in .env (see deploy)",
        "shanlian anchor --embedded-ok   # a checkpoint nobody can check later: tests only",
    )
    anchor.add_argument(
        "--embedded-ok",
        action="store_true",
        help="anchor on the embedded chain anyway, though it is gone when the command exits "
        "(demos and tests only; refused in production)",
    )
    anchor.set_defaults(func=cmd_anchor)


def add_commands(commands: Any) -> None:
    """``contracts``, ``devnet`` and ``deploy``."""
    contracts_commands = _group(
        commands,
        "contracts",
        "the Solidity contracts",
        "The contracts (LedgerAnchor, CharityRegistry) are compiled once and kept in "
        "contracts/build/*.json with their provenance; the service deploys and calls those.",
        "shanlian contracts build",
    )
    _command(
        contracts_commands,
        "build",
        "compile contracts/ into contracts/build/*.json",
        "Compile contracts/*.sol with the pinned solc (native through py-solc-x, or solc-js "
        "from hardhat-free-devnet/node_modules) and write contracts/build/*.json: the ABI, "
        "the bytecode and how they were made. Needed only after changing a contract.",
        "shanlian contracts build",
    ).set_defaults(func=cmd_contracts_build)

    devnet = _command(
        commands,
        "devnet",
        "run the hardhat-free devnet (anvil) until Ctrl-C",
        "Run a local EVM chain (anvil from hardhat-free-devnet/node_modules) on "
        "127.0.0.1, chain id 31337, keeping its state in a file across restarts: unlike "
        "the embedded chain, checkpoints anchored on it outlive `shanlian serve`. Point "
        "shanlian at it with CHAIN_RPC_URL, then `shanlian deploy`.",
        "shanlian devnet                              # in a terminal of its own",
        "echo CHAIN_RPC_URL=http://127.0.0.1:8545 >> .env",
        "shanlian deploy | grep '^CHAIN_' >> .env && shanlian serve",
    )
    devnet.add_argument("--port", type=int, default=8545, help="port to listen on (8545)")
    state = devnet.add_mutually_exclusive_group()
    state.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE_FILE,
        metavar="FILE",
        help="keep the chain in this file (default var/devnet/state.json)",
    )
    state.add_argument(
        "--no-state", action="store_true", help="keep no state: a new, empty chain every start"
    )
    devnet.set_defaults(func=cmd_devnet)

    _command(
        commands,
        "deploy",
        "deploy the contracts to CHAIN_RPC_URL's chain",
        "Deploy LedgerAnchor and CharityRegistry to the chain CHAIN_RPC_URL names, signed "
        "with CHAIN_ANCHORER_PRIVATE_KEY (the devnet's well-known key on chain id 31337), "
        "and print the two addresses as CHAIN_*=… lines for .env. The deployer is their "
        "admin and holds ANCHORER_ROLE and REGISTRAR_ROLE (see `shanlian keys anchorer`). "
        "The embedded chain needs none of this: `shanlian serve` deploys it.",
        "CHAIN_RPC_URL=http://127.0.0.1:8545 shanlian deploy",
        "shanlian deploy | grep '^CHAIN_' >> .env",
    ).set_defaults(func=cmd_deploy)
