"""A PostgreSQL primary and its hot standby, made for a test run and removed after it.

The machine's own cluster is left alone: ``initdb`` makes a primary in a temporary folder
(replication allowed from loopback), ``pg_basebackup -R`` copies it into a standby that
streams from it, each on a free port. PostgreSQL refuses to run as root, so when the
tests run as root the clusters run as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from chain.devnet import free_port


def _bin() -> Path:
    found = shutil.which("pg_config")
    if found:
        binary = subprocess.run(
            [found, "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if (Path(binary) / "initdb").exists():
            return Path(binary)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    return versions[-1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class Cluster:
    folder: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        subprocess.run(
            _as_postgres(
                [
                    str(_bin() / "pg_ctl"),
                    "-D",
                    str(self.folder),
                    "-l",
                    str(self.log),
                    "-o",
                    f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([str(_bin() / "pg_ctl"), "-D", str(self.folder), "-m", "fast", "stop"]),
            check=False,
            capture_output=True,
        )


@dataclass
class Replicated:
    primary: Cluster
    standby: Cluster

    def database(self, name: str) -> tuple[str, str]:
        """A new database on the primary: (its URL, the standby's URL of the same)."""
        with psycopg.connect(self.primary.url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        base = "postgresql://postgres@127.0.0.1:{}/" + name
        standby_url = base.format(self.standby.port)
        deadline = time.monotonic() + 30
        while True:  # the CREATE DATABASE reaches the standby when it is replayed
            try:
                with psycopg.connect(standby_url):
                    break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        return base.format(self.primary.port), standby_url

    def caught_up(self, timeout_s: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written."""
        with psycopg.connect(self.primary.url, autocommit=True) as connection:
            target = connection.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert target is not None
        deadline = time.monotonic() + timeout_s
        with psycopg.connect(self.standby.url, autocommit=True) as connection:
            while True:
                row = connection.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target[0],)
                ).fetchone()
                if row and row[0]:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError("the standby did not catch up")
                time.sleep(0.02)

    def pause_replay(self) -> None:
        with psycopg.connect(self.standby.url, autocommit=True) as connection:
            connection.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with psycopg.connect(self.standby.url, autocommit=True) as connection:
            connection.execute("SELECT pg_wal_replay_resume()")


@contextmanager
def replicated() -> Iterator[Replicated]:
    """A primary and a streaming hot standby, until the block ends."""
    root = Path(tempfile.mkdtemp(prefix="shanlian-replica-"))
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary = Cluster(root / "primary", free_port(), root / "primary.log")
    standby = Cluster(root / "standby", free_port(), root / "standby.log")
    started: list[Cluster] = []
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(_bin() / "initdb"),
                    "-D",
                    str(primary.folder),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        with open(primary.folder / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        with open(primary.folder / "postgresql.conf", "a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nfsync = off\n")
        primary.start()
        started.append(primary)
        subprocess.run(
            _as_postgres(
                [
                    str(_bin() / "pg_basebackup"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(primary.port),
                    "-U",
                    "postgres",
                    "-D",
                    str(standby.folder),
                    "-R",
                    "-X",
                    "stream",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        standby.start()
        started.append(standby)
        yield Replicated(primary, standby)
    finally:
        for cluster in reversed(started):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
