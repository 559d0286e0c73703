"""``python -m chain build`` compiles the contracts; ``python -m chain devnet`` runs anvil.

The same functions back ``shanlian contracts build`` and ``shanlian devnet``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from chain.artifacts import BUILD_DIR
from chain.compiler import build_contracts, find_compiler
from chain.devnet import DEFAULT_PORT, DEFAULT_STATE_FILE, start_devnet
from chain.errors import ChainError
from chain.settings import DEVNET_CHAIN_ID


def build(out_dir: Path = BUILD_DIR, solc_binary: Path | None = None) -> int:
    """Compile the contracts into ``out_dir`` and say what was written. Returns 0."""
    compiler = find_compiler(solc_binary)
    print(f"compiling with {compiler.kind} solc at {compiler.path}", file=sys.stderr)
    for name, path in build_contracts(out_dir, solc_binary=solc_binary).items():
        print(f"{name}: {path}")
    return 0


def devnet(port: int = DEFAULT_PORT, state_file: Path | None = DEFAULT_STATE_FILE) -> int:
    """Run the devnet in the foreground until Ctrl-C or SIGTERM; returns anvil's exit code."""
    node = start_devnet(port=port, state_file=state_file)
    print(
        f"devnet running: {node.rpc_url} (chain id {DEVNET_CHAIN_ID}, pid {node.pid}, "
        f"state {state_file or 'not kept'}); Ctrl-C stops it",
        file=sys.stderr,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        node.stop()

    signal.signal(signal.SIGTERM, stop)
    try:
        return node.wait()
    except KeyboardInterrupt:
        node.stop()
        return 0
    finally:
        node.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m chain``."""
    parser = argparse.ArgumentParser(prog="python -m chain", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="compile contracts/ into contracts/build")
    build_cmd.add_argument("--out", type=Path, default=BUILD_DIR, help="output directory")
    build_cmd.add_argument("--solc", type=Path, default=None, help="a solc executable to use")
    devnet_cmd = commands.add_parser("devnet", help="run anvil on 127.0.0.1")
    devnet_cmd.add_argument("--port", type=int, default=DEFAULT_PORT)
    state = devnet_cmd.add_mutually_exclusive_group()
    state.add_argument("--state", type=Path, default=DEFAULT_STATE_FILE, help="state file")
    state.add_argument("--no-state", action="store_true", help="keep no state across restarts")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            return build(args.out, args.solc)
        return devnet(args.port, None if args.no_state else args.state)
    except ChainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
