"""A newcomer's terminal: `shanlian serve` as `scripts/run` starts it, and the README's
walkthrough run exactly as written against it, from a second terminal.

The server runs as a real process on the embedded defaults (a SQLite file, the embedded
chain), with a small demo data set; what it prints is read as the newcomer reads it.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from chain.devnet import free_port

REPO = Path(__file__).resolve().parents[2]
BOX_TOP = "┌─ shanlian is ready "
BOX_BOTTOM = "└─ Ctrl-C stops it "
GUARD_S = 300
"""How long to wait for a line before calling the server hung (a guard, not a measure)."""


@dataclass
class Serving:
    """A ``shanlian serve`` process and what it has printed so far (stdout and stderr)."""

    process: subprocess.Popen[str]
    base: str
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def start_reading(self) -> None:
        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        threading.Thread(target=read, daemon=True).start()

    def read_box(self) -> tuple[list[str], list[str]]:
        """What came before the box, and the box itself (its lines, top to bottom)."""
        start = len(self.lines)
        while True:
            try:
                line = self._queue.get(timeout=GUARD_S)
            except queue.Empty:
                pytest.fail(f"no box after {GUARD_S} s; printed: {self.lines[start:]}")
            if line is None:
                pytest.fail(f"serve exited without its box: {self.lines[start:]}")
            self.lines.append(line)
            if line.startswith(BOX_BOTTOM):
                break
        printed = self.lines[start:]
        top = max(i for i, text in enumerate(printed) if text.startswith(BOX_TOP))
        return printed[:top], printed[top:]

    def stop(self) -> str:
        """Ctrl-C, and what it printed after the box; its exit status must be 0."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=GUARD_S)
        rest = []
        while (line := self._queue.get(timeout=GUARD_S)) is not None:
            rest.append(line)
        assert self.process.returncode == 0, rest
        return "\n".join(rest)


def serve(folder: Path, *args: str) -> Serving:
    """``shanlian serve`` on a SQLite file in ``folder``, as a newcomer's shell runs it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAIN_", "API_", "SHANLIAN_"))}
    env |= {
        "API_DATABASE_URL": f"sqlite:///{folder}/shanlian.db",
        "API_EVIDENCE_DIR": f"{folder}/evidence",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    serving = Serving(process, f"http://127.0.0.1:{port}")
    serving.start_reading()
    return serving


@dataclass
class Started:
    serving: Serving
    before: list[str]
    box: list[str]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """``serve --demo`` (a small demo) read up to the end of its box."""
    serving = serve(tmp_path_factory.mktemp("serve"), "--demo", "--donations", "40")
    try:
        before, box = serving.read_box()
        yield Started(serving, before, box)
    finally:
        if serving.process.poll() is None:
            serving.process.kill()
            serving.process.wait()


def boxed(box: list[str], heading: str) -> list[str]:
    """The indented lines under ``heading`` in the box."""
    inside = [line.removeprefix("│ ") for line in box[1:-1]]
    start = next(i for i, line in enumerate(inside) if line.startswith(heading)) + 1
    values = []
    for line in inside[start:]:
        if not line.startswith("    "):
            break
        values.append(line.strip())
    return values


def test_serve_prints_the_token_and_receipts_last_in_a_box_once_it_answers(
    started: Started,
) -> None:
    serving, box = started.serving, started.box
    assert box[0].startswith(BOX_TOP)
    assert box[-1].startswith(BOX_BOTTOM)
    assert all(line == "│" or line.startswith("│ ") for line in box[1:-1]), box
    # The box is printed once the server answers: no waiting, no retry.
    assert httpx.get(f"{serving.base}/healthz", timeout=10).status_code == 200
    (token,) = boxed(box, "platform token (generated for this run")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    receipts = boxed(box, "donors' receipts")
    assert len(receipts) == 3
    assert all(url.startswith(f"{serving.base}/donations/dn_") for url in receipts)
    assert all(re.search(r"#s=[0-9a-f]{32}$", url) for url in receipts)
    # Each printed once, in the box only.
    everything = "\n".join(serving.lines)
    for value in (token, *receipts):
        assert everything.count(value) == 1, value
    assert sum(line.startswith(BOX_TOP) for line in serving.lines) == 1
    assert f"│ API       {serving.base}/api/v1   (OpenAPI docs: {serving.base}/docs)" in box
    rpc = f"{serving.base}/api/v1/chain/rpc"
    assert f"│           JSON-RPC for `shanlian verify --rpc`: {rpc}" in box
    # The token it shows is the platform's.
    answer = httpx.post(
        f"{serving.base}/api/v1/anchor", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text


def test_serve_is_quiet_by_default(started: Started) -> None:
    """Before the box: what the demo recorded, in a few lines; no log records, no note
    about the chain (nothing was on it before this first start)."""
    before = [line for line in started.before if line.strip()]
    assert before[0].startswith("Recording the demo data set (40 donations")
    assert before[-1].startswith("Loaded ")
    assert len(before) <= 3, before  # the announcement, the progress bar, the summary
    assert not [line for line in before if re.match(r"(DEBUG|INFO|WARNING) ", line)]
    assert not [line for line in started.box if "note:" in line]


def test_the_readme_walkthrough_runs_as_written(started: Started, tmp_path: Path) -> None:
    serving = started.serving
    readme = (REPO / "README.md").read_text("utf-8")
    block = readme.split("<!-- walkthrough -->\n```sh\n", 1)[1].split("\n```\n", 1)[0]
    (token,) = boxed(started.box, "platform token (generated for this run")
    # What a reader does: put the token from the box where the README says, in a
    # second terminal, in the checkout (the walkthrough uses docs/examples/invoice.pdf
    # and .venv/bin/shanlian). Here the server listens on a port of its own.
    assert "T=3q2Z…   # the platform token from the box\n" in block
    script = block.replace("T=3q2Z…", f"T={token}").replace("http://127.0.0.1:8000", serving.base)
    assert (REPO / ".venv" / "bin" / "shanlian").exists(), "it calls .venv/bin/shanlian"
    checkout = tmp_path / "checkout"  # the checkout, as far as the walkthrough reads it
    checkout.mkdir()
    for name in ("docs", ".venv"):
        (checkout / name).symlink_to(REPO / name)
    env = dict(os.environ) | {"PYTHONPATH": str(REPO)}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert '"code":' not in output, output  # no problem document along the way
    assert re.search(r'"id":"ch_[0-9a-z]+"', output), output
    assert re.search(rf"^{serving.base}/donations/dn_[0-9a-z]+#s=[0-9a-f]{{32}}$", output, re.M)
    assert re.search(r'"id":"db_[0-9a-z]+"', output), output
    assert "VERIFIED: entry" in output, output
    assert (checkout / "proof.json").exists()


def test_nothing_but_the_box_follows_it(started: Started) -> None:
    """The box stays the last thing on the screen: requests, anchoring and Ctrl-C print
    nothing more by default."""
    assert started.serving.stop() == ""


@pytest.mark.slow
def test_a_restart_on_the_embedded_chain_is_said_once_plainly(tmp_path: Path) -> None:
    first = serve(tmp_path, "--demo", "--donations", "20")
    try:
        _, box = first.read_box()
        receipts = boxed(box, "donors' receipts")
    finally:
        first.stop()
    again = serve(tmp_path, "--demo")
    try:
        before, box = again.read_box()
    finally:
        after = again.stop()
    assert [line for line in before if line.strip()] == []  # nothing to record, no warning
    assert after == ""
    notes = [line for line in box if line.startswith("│ note:")]
    assert len(notes) == 1
    said = " ".join(line.removeprefix("│").strip() for line in box if line.startswith("│ "))
    assert "the embedded chain lives inside this process, so it started empty again" in said
    assert "entries are kept and anchored on it anew" in said
    assert "proof bundles saved before this start point at the previous run's chain" in said
    # The same donors' receipts again: they still open and verify (the journal is kept).
    assert boxed(box, "donors' receipts") == [
        url.replace(first.base, again.base) for url in receipts
    ]
    assert not [line for line in again.lines if "WARNING" in line]


def test_verbose_serve_logs_every_step_and_request(tmp_path: Path) -> None:
    serving = serve(tmp_path, "-v")
    try:
        before, _ = serving.read_box()
        assert httpx.get(f"{serving.base}/healthz", timeout=10).status_code == 200
    finally:
        after = serving.stop()
    assert [line for line in before if line.startswith("INFO alembic.runtime.migration:")]
    assert '"GET /healthz HTTP/1.1" 200' in after
