"""The hardhat-free devnet: anvil on 127.0.0.1, its state kept across a restart, stopped by PID."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from chain.client import ChainClient
from chain.devnet import DEVNET_DIR, Devnet, free_port, start_devnet
from chain.errors import DevnetError
from ledger.merkle import MemoryTree
from tests.chain.conftest import entry_leaf

pytestmark = pytest.mark.anvil


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is not running.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_the_chain_survives_a_restart_through_its_state_file(state_dir: Path) -> None:
    state_file = state_dir / "state.json"
    tree = MemoryTree.from_leaf_hashes(entry_leaf(i) for i in range(12))
    with start_devnet(port=free_port(), state_file=state_file) as node:
        client = ChainClient.connect(node.rpc_url)
        deployment = client.deploy()
        client.anchor(5, tree.root(5), [])
        last = client.anchor(12, tree.root(12), tree.consistency_proof(5, 12))
        client.register_charity("ch_kept", None, tree.root(1))
        before = [client.checkpoint_at(i) for i in range(2)]
        height = client.block_number()
    assert state_file.exists()

    with start_devnet(port=free_port(), state_file=state_file) as node:
        client = ChainClient.connect(node.rpc_url)
        client.attach(  # checks that the code is still there
            ledger_anchor=deployment.ledger_anchor,
            charity_registry=deployment.charity_registry,
        )
        assert client.block_number() >= height
        assert [client.checkpoint_at(i) for i in range(2)] == before
        assert [e.tree_size for e in client.checkpoint_events()] == [5, 12]
        assert client.confirmations_of(last.tx_hash) >= 1
        assert client.is_charity_active("ch_kept")
        proof = tree.inclusion_proof(7, 12)
        assert client.verify_inclusion(12, 7, tree.levels[0][7], proof)
        # It goes on from where it was.
        bigger = MemoryTree.from_leaf_hashes(entry_leaf(i) for i in range(20))
        outcome = client.anchor(20, bigger.root(20), bigger.consistency_proof(12, 20))
        assert outcome.checkpoint_index == 2


def test_a_devnet_without_state_starts_empty(state_dir: Path) -> None:
    with start_devnet(port=free_port(), state_file=None) as node:
        assert ChainClient.connect(node.rpc_url).block_number() == 0
    assert list(state_dir.iterdir()) == []


def test_stop_ends_the_process_by_its_pid_and_frees_the_port() -> None:
    port = free_port()
    node = start_devnet(port=port, state_file=None)
    pid = node.pid
    assert node.is_running()
    assert _alive(pid)
    node.stop()
    node.stop()  # again: nothing happens
    assert not node.is_running()
    assert not _alive(pid)
    with start_devnet(port=port, state_file=None):  # the port is free again
        pass


def test_a_taken_port_is_refused(anvil: Devnet) -> None:
    with pytest.raises(DevnetError, match=f"port {anvil.port} .* is taken"):
        start_devnet(port=anvil.port, state_file=None)


def test_the_start_and_stop_scripts_use_a_pid_file(state_dir: Path) -> None:
    port = free_port()
    pid_file = state_dir / "anvil.pid"
    process = subprocess.Popen(
        [
            "bash",
            str(DEVNET_DIR / "start"),
            "--port",
            str(port),
            "--state",
            str(state_dir / "state.json"),
            "--pid-file",
            str(pid_file),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                ChainClient.connect(f"http://127.0.0.1:{port}")
                break
            except Exception:
                time.sleep(0.05)
        # exec keeps the PID: the pid file names the anvil process itself.
        assert int(pid_file.read_text()) == process.pid
        assert "anvil" in Path(f"/proc/{process.pid}/cmdline").read_text()
        subprocess.run(
            ["bash", str(DEVNET_DIR / "stop"), "--pid-file", str(pid_file)],
            check=True,
            capture_output=True,
        )
        assert process.wait(timeout=10) == 0
        assert not pid_file.exists()
        assert (state_dir / "state.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
