"""The hardhat-free devnet: anvil from npm on 127.0.0.1, started and stopped by its PID.

``start_devnet`` runs ``hardhat-free-devnet/start`` (which owns anvil's flags: chain id
31337, the well-known development mnemonic, Prague rules, a state file) as a child process
and waits until the node answers with the right chain id. The state file keeps the chain
across restarts. Its development keys are public: they are for this devnet and the
embedded chain only.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from chain.artifacts import REPO_ROOT
from chain.errors import DevnetError
from chain.settings import DEVNET_CHAIN_ID

DEVNET_DIR = REPO_ROOT / "hardhat-free-devnet"
START_SCRIPT = DEVNET_DIR / "start"
DEFAULT_PORT = 8545
DEFAULT_STATE_FILE = REPO_ROOT / "var" / "devnet" / "state.json"

DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""The development mnemonic of anvil and Hardhat: public, for local chains only."""
DEV_HD_PATH = "m/44'/60'/0'/0"
DEV_ACCOUNTS = 10


@functools.cache
def dev_private_key(index: int = 0) -> bytes:
    """The private key of development account ``index`` (0–9) of ``DEV_MNEMONIC``.

    The same accounts are funded on the devnet and on the embedded chain; account 0
    deploys and anchors unless ``CHAIN_ANCHORER_PRIVATE_KEY`` says otherwise.
    """
    from eth_account import Account

    if not 0 <= index < DEV_ACCOUNTS:
        raise ValueError(f"development accounts are 0 to {DEV_ACCOUNTS - 1}, not {index}")
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"{DEV_HD_PATH}/{index}")
    return bytes(account.key)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _rpc_chain_id(rpc_url: str, timeout: float) -> int | None:
    request = urllib.request.Request(  # noqa: S310 — a loopback http URL we built
        rpc_url,
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(json.load(response)["result"], 16)
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        return None


@dataclass
class Devnet:
    """A running devnet, owned by this process.

    Attributes:
        process: the anvil child process.
        rpc_url: its JSON-RPC URL, on 127.0.0.1.
        port: its port.
        chain_id: its chain id.
        state_file: where it keeps its state, if anywhere.
        log_file: where its output goes, if anywhere.
    """

    process: subprocess.Popen[bytes]
    rpc_url: str
    port: int
    chain_id: int
    state_file: Path | None
    log_file: Path | None
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        """The anvil process's PID."""
        return self.process.pid

    def is_running(self) -> bool:
        """Whether anvil is still running."""
        return self.process.poll() is None

    def wait(self) -> int:
        """Block until anvil exits; return its exit code."""
        return self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop anvil by its PID (SIGTERM, then SIGKILL after ``timeout`` seconds).

        On SIGTERM anvil writes its state file. Safe to call more than once.
        """
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout)

    def __enter__(self) -> Devnet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _log_tail(log_file: Path | None, lines: int = 20) -> str:
    if log_file is None or not log_file.exists():
        return ""
    text = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "\n" + "\n".join(text) if text else ""


def start_devnet(
    *,
    port: int = DEFAULT_PORT,
    state_file: Path | None = DEFAULT_STATE_FILE,
    chain_id: int = DEVNET_CHAIN_ID,
    block_time_s: float | None = None,
    log_file: Path | None = None,
    pid_file: Path | None = None,
    startup_timeout_s: float = 30.0,
) -> Devnet:
    """Start anvil on 127.0.0.1 and wait until it answers.

    Args:
        port: the port to listen on.
        state_file: load the chain from this file if it exists, and keep writing it (every
            second and on exit); ``None`` for a chain that lives only as long as the process.
        chain_id: the chain id (31337 unless you have a reason).
        block_time_s: mine a block every so many seconds; ``None`` mines one per transaction.
        log_file: append anvil's output here; ``None`` discards it.
        pid_file: also write the PID here, for ``hardhat-free-devnet/stop``.
        startup_timeout_s: how long to wait for the node to answer.

    Returns:
        The running devnet; stop it with ``Devnet.stop()`` (or use it as a context manager).

    Raises:
        DevnetError: anvil is not installed, exited, or did not answer in time (the message
            carries the end of its log).
    """
    if not START_SCRIPT.is_file():
        raise DevnetError(f"{START_SCRIPT} is missing")
    if _port_in_use(port):
        raise DevnetError(f"port {port} on 127.0.0.1 is taken: is a devnet already running?")
    cmd = [
        "bash",
        str(START_SCRIPT),
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--pid-file",
        str(pid_file) if pid_file else "",
    ]
    cmd += ["--state", str(state_file)] if state_file else ["--no-state"]
    if block_time_s is not None:
        cmd += ["--block-time", str(block_time_s)]
    if log_file is None:
        cmd.append("--quiet")
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
    rpc_url = f"http://127.0.0.1:{port}"
    with open(log_file or os.devnull, "ab") as out:
        # A session of its own: a Ctrl-C meant for the caller does not kill the node before
        # the caller's own shutdown stops it (and anvil writes its state).
        process = subprocess.Popen(  # noqa: S603 — our own script, fixed arguments
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    devnet = Devnet(process, rpc_url, port, chain_id, state_file, log_file)
    deadline = time.monotonic() + startup_timeout_s
    while True:
        code = process.poll()
        if code is not None:
            raise DevnetError(
                f"anvil exited with code {code} before answering on {rpc_url} "
                f"(is port {port} taken? run 'bash scripts/setup' if anvil is missing)"
                + _log_tail(log_file)
            )
        answered = _rpc_chain_id(rpc_url, timeout=1.0)
        if answered is not None:
            if answered != chain_id or process.poll() is not None:
                devnet.stop()
                raise DevnetError(
                    f"another node (chain id {answered}) already listens on {rpc_url}"
                )
            return devnet
        if time.monotonic() > deadline:
            devnet.stop()
            raise DevnetError(
                f"anvil did not answer on {rpc_url} within {startup_timeout_s} s"
                + _log_tail(log_file)
            )
        time.sleep(0.05)
