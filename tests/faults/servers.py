"""API processes (``python -m tests.faults.server``) started, watched and killed by a test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chain.artifacts import REPO_ROOT
from chain.devnet import free_port

SETTINGS_PREFIXES = ("CHAIN_", "API_", "ANCHOR_", "EXPLORER_", "SHANLIAN_")


def clean_environment(**settings: str) -> dict[str, str]:
    """The test process's environment without any of the service's settings, plus ``settings``.

    The service's settings come from each test, never from the shell the tests run in.
    """
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(SETTINGS_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env | settings


@dataclass
class ApiServer:
    """One API process, on 127.0.0.1 at ``port``, stopped by its PID.

    Its stdout lines (see ``tests.faults.server``) are kept in ``lines``, across restarts,
    for ``wait_for_line``; its log (stderr) goes to ``log_file``.
    """

    name: str
    port: int
    database_url: str
    env: dict[str, str]
    workdir: Path
    worker: bool = True
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, extra_env: Mapping[str, str] | None = None, timeout_s: float = 60.0) -> None:
        """Start the process and wait until ``/healthz`` answers."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "tests.faults.server",
            "--port",
            str(self.port),
            "--db",
            self.database_url,
            "--worker" if self.worker else "--no-worker",
        ]
        with self.log_file.open("a") as log:
            log.write(f"== start {' '.join(command[3:])}\n")
            log.flush()
            self.process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=self.env | dict(extra_env or {}),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                bufsize=1,
            )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        self.wait_until_ready(timeout_s)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_until_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.name} did not answer in {timeout_s} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def wait_for_line(self, prefix: str, *, since: int = 0, timeout_s: float = 60.0) -> str:
        """Block until the process prints a line starting with ``prefix``, at or after
        ``lines[since]`` (``since=len(server.lines)``: a new one); return it."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = next((x for x in self.lines[since:] if x.startswith(prefix)), None)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.name} printed no {prefix!r} line:\n{self.log_tail()}"
                    )
                self._changed.wait(remaining)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as a crash or the OOM killer would."""
        assert self.process is not None
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (uvicorn shuts down, the worker stops), SIGKILL if it takes too long."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(10)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def new_server(
    name: str, database_url: str, env: dict[str, str], workdir: Path, *, worker: bool
) -> ApiServer:
    """An API server on a free port (not started)."""
    return ApiServer(name, free_port(), database_url, env, workdir / name, worker=worker)
