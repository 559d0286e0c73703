"""``scripts/setup run|test``: what each mode installs, and the stamp that says which.

The script runs for real, in a copy of the checkout's files it reads; only the tools that
would take minutes and root (pip, apt's dpkg-query) are stand-ins that record their
arguments. A real install of both modes is what ``scripts/test`` (and CI) does anyway.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


class Checkout:
    """A copy of what ``scripts/setup`` reads, with a ``.venv`` whose pip only records."""

    def __init__(self, folder: Path) -> None:
        self.root = folder / "checkout"
        (self.root / "scripts").mkdir(parents=True)
        (self.root / "audit").mkdir()
        shutil.copy(REPO / "scripts" / "setup", self.root / "scripts" / "setup")
        shutil.copy(REPO / "pyproject.toml", self.root / "pyproject.toml")
        shutil.copy(REPO / "audit" / "_scan.c", self.root / "audit" / "_scan.c")
        self.log = folder / "calls.log"
        tools = folder / "bin"
        tools.mkdir()
        venv = self.root / ".venv" / "bin"
        venv.mkdir(parents=True)
        self._tool(venv / "pip", 'echo "pip $*" >> "$CALLS"')
        self._tool(venv / "python", 'echo "python $*" >> "$CALLS"')
        # Every Debian package is installed: the script asks about each one it needs.
        self._tool(
            tools / "dpkg-query",
            'echo "dpkg-query ${@: -1}" >> "$CALLS"; printf "install ok installed"',
        )
        self.env = dict(os.environ) | {
            "PATH": f"{tools}:{os.environ['PATH']}",
            "PYTHON": sys.executable,
            "CALLS": str(self.log),
        }

    @staticmethod
    def _tool(path: Path, body: str) -> None:
        path.write_text(f"#!/usr/bin/env bash\n{body}\n")
        path.chmod(0o755)

    def setup(self, *mode: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        """Run ``scripts/setup MODE``; what it printed, and the calls it made."""
        self.log.write_text("")
        result = subprocess.run(
            ["bash", "scripts/setup", *mode],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return result, self.log.read_text().splitlines()

    def stamp(self) -> str:
        return (self.root / ".venv" / ".installed").read_text().strip()


def installs(calls: list[str]) -> list[str]:
    """What pip was asked to install from the checkout."""
    return [call for call in calls if call.startswith("pip install") and " -e " in call]


def asked(calls: list[str]) -> set[str]:
    """The Debian packages the script checked for."""
    return {call.split()[1] for call in calls if call.startswith("dpkg-query ")}


def test_run_installs_what_running_needs_and_test_adds_the_tools(tmp_path: Path) -> None:
    checkout = Checkout(tmp_path)
    result, calls = checkout.setup()  # no mode: run
    assert result.returncode == 0, result.stderr
    assert installs(calls) == ["pip install -q --disable-pip-version-check -e ."]
    assert {"gcc", "curl", "jq", "fonts-noto-cjk"} <= asked(calls)  # the PDFs' font
    assert not asked(calls) & {"chromium"}
    assert "installing shanlian and the Python packages it runs on" in result.stdout
    assert "MB" in result.stdout
    assert "test tools" not in result.stdout
    assert checkout.stamp().startswith("run ")

    # The runtime install does not fool the test command: it adds the tools.
    result, calls = checkout.setup("test")
    assert result.returncode == 0, result.stderr
    assert installs(calls) == ["pip install -q --disable-pip-version-check -e .[dev]"]
    assert {"gcc", "curl", "jq", "chromium", "fonts-noto-cjk"} <= asked(calls)
    assert "== installing the test tools" in result.stdout
    assert "runs on" not in result.stdout
    assert checkout.stamp().startswith("test ")

    # The test install serves both modes: nothing more to do for either.
    for mode in ("run", "test"):
        result, calls = checkout.setup(mode)
        assert result.returncode == 0, result.stderr
        assert installs(calls) == [], mode
        assert "installing" not in result.stdout, mode


def test_a_changed_pyproject_installs_again_in_the_mode_asked(tmp_path: Path) -> None:
    checkout = Checkout(tmp_path)
    assert checkout.setup("test")[0].returncode == 0
    before = checkout.stamp()
    with (checkout.root / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a pin changed\n")
    _, calls = checkout.setup("run")
    assert installs(calls) == ["pip install -q --disable-pip-version-check -e ."]
    assert checkout.stamp().startswith("run ")
    assert checkout.stamp().split()[1] != before.split()[1]
    _, calls = checkout.setup("test")
    assert installs(calls) == ["pip install -q --disable-pip-version-check -e .[dev]"]


def test_a_stamp_from_before_the_modes_installs_again(tmp_path: Path) -> None:
    checkout = Checkout(tmp_path)
    assert checkout.setup("test")[0].returncode == 0
    # What the script wrote before it knew modes: the hash alone.
    stamp = checkout.root / ".venv" / ".installed"
    stamp.write_text(checkout.stamp().split()[1] + "\n")
    _, calls = checkout.setup("test")
    assert installs(calls) == ["pip install -q --disable-pip-version-check -e .[dev]"]


@pytest.mark.parametrize("mode", ["dev", "all", "Test", ""])
def test_an_unknown_mode_is_refused_before_anything_is_installed(tmp_path: Path, mode: str) -> None:
    checkout = Checkout(tmp_path)
    result, calls = checkout.setup(mode)
    if mode == "":  # an empty word is no mode at all: the default, run
        assert result.returncode == 0
        return
    assert result.returncode == 2
    assert result.stderr == "usage: scripts/setup [run|test]\n"
    assert calls == []
    assert not (checkout.root / ".venv" / ".installed").exists()


def test_missing_debian_packages_are_named_with_their_size_for_the_mode(tmp_path: Path) -> None:
    """Nothing installed: run asks apt for what running needs, test adds the browser's
    packages; each is named, with its rough size and apt's own figures, as it goes."""
    checkout = Checkout(tmp_path)
    tools = tmp_path / "bin"
    Checkout._tool(tools / "dpkg-query", 'echo "dpkg-query ${@: -1}" >> "$CALLS"; exit 1')
    Checkout._tool(
        tools / "apt-get",
        'echo "apt-get $*" >> "$CALLS"\n'
        'if [ "$1" = install ]; then\n'
        '  printf "Reading package lists...\\nNeed to get 9 MB of archives.\\n"\n'
        '  printf "After this operation, 30 MB of additional disk space will be used.\\n"\n'
        '  printf "Get:1 http://deb.debian.org/debian bookworm/main gcc\\n"\n'
        "fi",
    )
    if os.getuid() != 0:  # the script asks sudo for apt: a stand-in that just runs it
        Checkout._tool(tools / "sudo", '"$@"')

    result, calls = checkout.setup("run")
    assert result.returncode == 0, result.stderr
    (install,) = [call for call in calls if call.startswith("apt-get install")]
    wanted = install.split()[4:]
    assert wanted[:4] == ["gcc", "curl", "jq", "fonts-noto-cjk"]
    assert not {"chromium"} & set(wanted)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "== installing Debian packages (apt): gcc (about 100 MB), curl, jq, "
        "fonts-noto-cjk (about 90 MB)"
    )
    assert lines[1:3] == [
        "   Need to get 9 MB of archives.",
        "   After this operation, 30 MB of additional disk space will be used.",
    ]
    assert "Get:1" not in result.stdout

    result, calls = checkout.setup("test")
    assert result.returncode == 0, result.stderr
    (install,) = [call for call in calls if call.startswith("apt-get install")]
    assert {"gcc", "jq", "chromium", "fonts-noto-cjk"} <= set(install.split()[4:])
    assert "chromium (about 360 MB)" in result.stdout
