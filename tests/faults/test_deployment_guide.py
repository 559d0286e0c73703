"""docs/deployment.md, run: every ```sh block of the guide, in order, in one shell.

The guide can't rot: the commands an operator copies are the ones CI ran, against a
PostgreSQL server and an anvil chain of this test's own (never the machine's shared
server), with the guide's variables (``PGHOST``…, ``CHAIN_RPC_URL``, the keys, the ports,
``STATE_DIR``) set here.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from chain.artifacts import REPO_ROOT
from chain.client import ANCHORER_ROLE, REGISTRAR_ROLE, ChainClient
from chain.devnet import dev_private_key, free_port, start_devnet
from tests.faults.postgres import PgCluster
from tests.faults.servers import clean_environment

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.anvil]

GUIDE = REPO_ROOT / "docs" / "deployment.md"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)


def guide_blocks() -> list[str]:
    """The guide's ```sh blocks, in order."""
    return SH_BLOCK.findall(GUIDE.read_text("utf-8"))


def test_the_guide_has_its_commands_in_sh_blocks() -> None:
    blocks = guide_blocks()
    assert len(blocks) >= 10
    fences = re.findall(r"^```(\w*)$", GUIDE.read_text("utf-8"), re.MULTILINE)
    opened = fences[::2]
    assert set(opened) <= {"sh", "text", "ini", "nginx"}, opened  # nothing runnable hides


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A PostgreSQL server of this test's own: the guide creates roles, which are global."""
    server = PgCluster.create()
    try:
        yield server
    finally:
        server.destroy()


def _stop_servers(state_dir: Path) -> None:
    """Stop what the guide started, by the PIDs it wrote (if the script failed midway)."""
    for pid_file in state_dir.glob("*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def test_every_command_of_the_deployment_guide_runs(cluster: PgCluster, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    node = start_devnet(
        port=free_port(), state_file=tmp_path / "anvil.json", log_file=tmp_path / "anvil.log"
    )
    script = "set -euo pipefail\n" + "".join(
        f'echo "== docs/deployment.md, sh block {number}" >&2\n{block}'
        for number, block in enumerate(guide_blocks(), start=1)
    )
    env = clean_environment(
        PATH=f"{REPO_ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        STATE_DIR=str(state_dir),
        PGHOST="127.0.0.1",
        PGPORT=str(cluster.port),
        PGUSER="postgres",
        PUBLIC_URL="http://127.0.0.1",
        SHANLIAN_PORT_A=str(free_port()),
        SHANLIAN_PORT_B=str(free_port()),
        CHAIN_RPC_URL=node.rpc_url,
        CHAIN_ID="31337",
        CHAIN_ADMIN_PRIVATE_KEY="0x" + dev_private_key(0).hex(),
        ANCHORER_FUNDED_KEY="0x" + dev_private_key(1).hex(),
        NEW_ANCHORER_FUNDED_KEY="0x" + dev_private_key(2).hex(),
    )
    log = tmp_path / "guide.log"
    try:
        with log.open("w") as out:
            result = subprocess.run(
                ["bash", "-c", script],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=480,  # two keystores (scrypt) and a dozen CLI starts on a busy machine
                check=False,
            )
        output = log.read_text(errors="replace")
        assert result.returncode == 0, f"the guide failed:\n{output[-6000:]}"
        _assert_rotated(state_dir / "deployment.txt", node.rpc_url)
    finally:
        _stop_servers(state_dir)
        node.stop()


def _assert_rotated(deployment: Path, rpc_url: str) -> None:
    """The guide's key rotation took: only the new key anchors, and it did anchor."""
    addresses = dict(
        line.split("=", 1) for line in deployment.read_text().splitlines() if "=" in line
    )
    client = ChainClient.connect(rpc_url)
    client.attach(
        ledger_anchor=addresses["CHAIN_LEDGER_ANCHOR_ADDRESS"],
        charity_registry=addresses["CHAIN_CHARITY_REGISTRY_ADDRESS"],
    )
    admin, old, new = (Account.from_key(dev_private_key(i)).address for i in (0, 1, 2))
    for contract, role in (
        (client.ledger_anchor, ANCHORER_ROLE),
        (client.charity_registry, REGISTRAR_ROLE),
    ):
        assert [client.has_role(contract, role, a) for a in (admin, old, new)] == [
            False,
            False,
            True,
        ]
    last = client.checkpoint_events(from_block=0)[-1]
    assert client.w3.eth.get_transaction(last.tx_hash)["from"] == new
