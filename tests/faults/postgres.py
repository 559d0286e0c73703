"""A PostgreSQL server of the fault tests' own, so that restarting it disturbs nobody.

The machine's shared server (127.0.0.1:5432) serves other tests; these ones stop and
restart theirs. ``PgCluster.create`` runs ``initdb`` into a temporary folder (as the
``postgres`` OS user when we are root: PostgreSQL refuses to run as root), listening on
a free port of 127.0.0.1 only, trust authentication, no Unix socket outside its folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from chain.devnet import free_port

SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 200
shared_buffers = 32MB
fsync = off
full_page_writes = off
log_min_messages = warning
"""
"""The server's settings. ``fsync = off``: the faults here kill processes, not the machine,
so what a process wrote is in the operating system's cache either way."""


def _bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (Debian keeps them off PATH)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if versions:
        return versions[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL's initdb is not installed (apt-get install postgresql)")
    return Path(initdb).parent


@dataclass
class PgCluster:
    """A PostgreSQL server in a folder of its own, started and stopped by ``pg_ctl``.

    Attributes:
        root: the temporary folder (data directory, socket, log).
        port: the TCP port on 127.0.0.1.
    """

    root: Path
    port: int

    @classmethod
    def create(cls) -> PgCluster:
        """``initdb`` a new cluster in a fresh temporary folder and start it."""
        root = Path(tempfile.mkdtemp(prefix="shanlian-pg-"))
        cluster = cls(root, free_port())
        try:
            if os.geteuid() == 0:
                shutil.chown(root, "postgres", "postgres")
            root.chmod(0o700)
            cluster._run(
                "initdb",
                "-D",
                str(cluster.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
            with (cluster.data / "postgresql.conf").open("a") as conf:
                conf.write(SETTINGS.format(port=cluster.port, socket_dir=cluster.root))
            cluster.start()
        except BaseException:
            cluster.destroy()
            raise
        return cluster

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def admin_url(self) -> str:
        """The superuser's URL (the tests play operator and tamperer with it)."""
        return self.url("postgres")

    def url(self, database: str, user: str = "postgres") -> str:
        """The URL of ``database`` on this server, as ``user``."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(_bin_dir() / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr.strip()}\n"
                f"{self.log_tail()}"
            )

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log, for error messages."""
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back and disconnect every session;
        ``immediate``: quit at once, as a crash does, and recover from the WAL at start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop the server under whatever load it has, and start it again."""
        self.stop(mode)
        self.start()

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str, owner: str = "postgres") -> str:
        """Create database ``name`` and return its URL."""
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server (if it runs) and delete its folder."""
        try:
            if self.is_running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
