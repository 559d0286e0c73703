"""What the HTTP benchmarks share: wrk, a chain node, fresh databases, server processes.

``bench_http.py`` and ``bench_giving_day.py`` drive ``shanlian serve`` only through its
HTTP API and its command line, with ``wrk`` (a load generator in C, Debian's package,
installed by scripts/setup) running ``wrk_load.lua``; this module starts and watches
the processes and reads ``wrk``'s answers.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SCRIPT = ROOT / "bench" / "wrk_load.lua"
SETTINGS_PREFIXES = ("CHAIN_", "API_", "ANCHOR_", "EXPLORER_", "SHANLIAN_", "MINIMAL_")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- wrk -----------------------------------------------------------------------------------------


def wrk_path() -> str:
    """wrk's path, or exit saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "wrk is not installed: run scripts/setup (it installs Debian's wrk package), "
            "or `apt-get install wrk`"
        )
    return path


def wrk_version() -> str:
    """wrk's own description of itself (its first line of usage)."""
    answer = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, check=False)
    first = (answer.stdout or answer.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "wrk"


@dataclass
class WrkResult:
    """What one wrk run measured (latencies in ms), and the CPU time wrk itself used."""

    requests: int
    seconds: float
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    errors: dict[str, int]
    cpu_s: float
    connections: int

    def count(self, *codes: int) -> int:
        return sum(self.statuses.get(code, 0) for code in codes)

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)

    @property
    def ok_rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def not_ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if not 200 <= code < 300)

    @property
    def socket_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if k != "status")

    @property
    def cpu_share(self) -> float:
        """wrk's CPU use, as a share of one core over the run."""
        return self.cpu_s / self.seconds if self.seconds else 0.0


def run_wrk(
    base: str,
    *,
    connections: int,
    seconds: float,
    options: Mapping[str, object],
    threads: int = 2,
    timeout_s: float = 30.0,
    send_seconds: float | None = None,
    stop: threading.Event | None = None,
) -> WrkResult:
    """Run wrk with ``wrk_load.lua`` against ``base`` and return what it printed.

    With ``send_seconds``, requests are sent for that long only, and wrk runs on to
    take the answers to them: until every thread has had them all, ``stop`` is set, or
    ``seconds`` have passed in all.
    """
    threads = max(1, min(threads, connections))
    extra: dict[str, object] = {"threads": threads}
    marks = Path(tempfile.mkdtemp(prefix="wrk-drained-"))
    if send_seconds is not None:
        extra["send_ms"] = round(send_seconds * 1000)
        extra["drained"] = f"{marks}/"
    arguments = [f"{k}={v}" for k, v in {**options, **extra}.items()]
    command = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        f"{max(1, round(timeout_s))}s",
        "-s",
        str(SCRIPT),
        base,
        "--",
        *arguments,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        deadline = time.monotonic() + seconds + 60
        while process.poll() is None:
            drained = send_seconds is not None and all(
                (marks / str(n)).exists() for n in range(1, threads + 1)
            )
            if drained or (stop is not None and stop.is_set()):
                process.send_signal(signal.SIGINT)  # wrk stops and reports, as at -d's end
                break
            if time.monotonic() > deadline:
                process.kill()
                break
            time.sleep(0.1)
        code = process.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    shutil.rmtree(marks, ignore_errors=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if code != 0 or line is None:
        raise RuntimeError(f"wrk failed ({code}): {stderr.strip()[-500:]} {stdout.strip()[-500:]}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["seconds"],
        rate=data["rate"],
        p50_ms=data["p50_ms"],
        p90_ms=data["p90_ms"],
        p99_ms=data["p99_ms"],
        max_ms=data["max_ms"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        errors=data["errors"],
        cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        connections=connections,
    )


# -- processes -----------------------------------------------------------------------------------


def clean_environment(**settings: str) -> dict[str, str]:
    """This environment without any service settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(SETTINGS_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env | settings


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def rss_bytes(pids: list[int]) -> dict[int, int]:
    """The resident set size of each process (from /proc/PID/status)."""
    sizes = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[pid] = int(line.split()[1]) * 1024
        except OSError:
            continue
    return sizes


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time each process used so far (from /proc/PID/stat)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return used


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two samples, by the processes alive at both."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


@dataclass
class Server:
    """A server process on 127.0.0.1:``port``, its log in ``log``, stopped by its PID."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/healthz", timeout_s: float = 120) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"{self.name} exited ({code}):\n{self.tail()}")
            try:
                if httpx.get(self.base + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer in {timeout_s} s:\n{self.tail()}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        return process_tree(self.process.pid) if self.process else []

    def workers(self) -> set[int]:
        """The worker processes uvicorn started (multiprocessing's, by their command)."""
        found = set()
        for pid in self.pids():
            try:
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.add(pid)
            except OSError:
                continue
        return found

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            for pid in reversed(self.pids()):
                with suppress(ProcessLookupError):
                    os.kill(pid, 9)
            self.process.wait(10)


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for the run (dropped after); its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rpartition("/")[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Chain:
    """An anvil node of the run, and the contracts deployed on it for one service."""

    rpc_url: str
    ledger_anchor: str = ""
    charity_registry: str = ""
    block: int = 0

    def settings(self) -> dict[str, str]:
        return {
            "CHAIN_RPC_URL": self.rpc_url,
            "CHAIN_LEDGER_ANCHOR_ADDRESS": self.ledger_anchor,
            "CHAIN_CHARITY_REGISTRY_ADDRESS": self.charity_registry,
        }


@contextmanager
def anvil(workdir: Path) -> Iterator[str]:
    """The hardhat-free devnet (anvil) on a free port, without a state file; its URL."""
    from chain.devnet import start_devnet

    node = start_devnet(port=free_port(), state_file=None, log_file=workdir / "anvil.log")
    try:
        yield node.rpc_url
    finally:
        node.stop()


def deploy(rpc_url: str, workdir: Path) -> Chain:
    """Fresh contracts on the node, by ``shanlian deploy`` (as an operator would)."""
    answer = subprocess.run(
        [sys.executable, "-m", "api.cli", "deploy"],
        env=clean_environment(CHAIN_RPC_URL=rpc_url),
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    values = dict(
        line.split("=", 1) for line in answer.stdout.splitlines() if line.startswith("CHAIN_")
    )
    block = re.search(r"at block (\d+)", answer.stdout)
    return Chain(
        rpc_url,
        values["CHAIN_LEDGER_ANCHOR_ADDRESS"],
        values["CHAIN_CHARITY_REGISTRY_ADDRESS"],
        int(block.group(1)) if block else 0,
    )


def shanlian_server(
    database_url: str,
    chain: Chain,
    workers: int,
    token: str,
    workdir: Path,
    **settings: str,
) -> Server:
    """``shanlian serve --workers N`` on the database and chain (not started)."""
    port = free_port()
    env = clean_environment(
        SHANLIAN_ADMIN_TOKEN=token,
        API_DATABASE_URL=database_url,
        API_EVIDENCE_DIR=str(workdir / "evidence"),
        API_PUBLIC_URL=f"http://127.0.0.1:{port}",
        **chain.settings(),
        **settings,
    )
    command = [
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return Server("shanlian serve", command, env, port, workdir / f"serve-{workers}.log")


def uvicorn_implementation() -> str:
    """Which event loop and HTTP parser uvicorn picks here ("auto", as both servers run)."""
    import importlib.util

    import uvicorn

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn {uvicorn.__version__}, {loop} loop, {http}"


def shanlian(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``shanlian`` command line."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=dict(env) if env is not None else clean_environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
