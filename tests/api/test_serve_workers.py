"""``shanlian serve --workers N``: several uvicorn processes on one journal and one chain.

The real thing: ``python -m api.cli serve --workers 2`` on PostgreSQL with an anvil node,
driven over HTTP. Which process serves a connection is made certain by stopping the
other one (SIGSTOP) while the connection is opened and answered; the anchoring leader
is found through PostgreSQL's lock table and the process that owns its connection.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from api.cli import main
from chain.artifacts import REPO_ROOT
from chain.client import ChainClient
from chain.devnet import Devnet, free_port
from ledger.store.checkpoints import LEADER_LOCK_KEY
from tests.factories import paid_now

SETTINGS_PREFIXES = ("CHAIN_", "API_", "ANCHOR_", "EXPLORER_", "SHANLIAN_")


class Served:
    """A ``shanlian serve --workers 2`` process tree and what it printed."""

    def __init__(self, command: list[str], env: dict[str, str], port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def children(self) -> set[int]:
        """The worker processes: this process's children started by multiprocessing."""
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid == self.process.pid and b"spawn_main" in cmdline:
                found.add(int(entry.name))
        return found

    def wait_for(self, what: str, check: object, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while not callable(check) or not check():
            if self.process.poll() is not None:
                pytest.fail(f"serve exited ({self.process.returncode}):\n" + "\n".join(self.lines))
            if time.monotonic() > deadline:
                pytest.fail(f"{what} within {timeout_s} s:\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.1)

    def token(self) -> str:
        """The generated token, from the box the parent prints once a worker answers."""
        self.wait_for(
            "the box", lambda: any("platform token (generated" in line for line in self.lines)
        )
        marker = next(i for i, line in enumerate(self.lines) if "platform token (generated" in line)
        return self.lines[marker + 1].strip("│ \n")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def socket_owner(port: int, pids: set[int]) -> int | None:
    """Which of ``pids`` holds a TCP socket with ``port`` at one of its ends: the process
    that made a connection from ``port``, or that accepted one from it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if port in (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)):
                inodes.add(fields[9])
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return pid
        except OSError:
            continue
    return None


def leader(database_url: str, pids: set[int]) -> int | None:
    """The process whose database session holds the anchoring leader's advisory lock."""
    key = LEADER_LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as connection:
        row = connection.execute(
            "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s "
            "AND l.objid::bigint = %s AND l.objsubid = 1",
            (key >> 32, key & 0xFFFF_FFFF),
        ).fetchone()
    return None if row is None else socket_owner(row[0], pids)


def client_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    port: int = stream.get_extra_info("client_addr")[1]
    return port


@pytest.fixture
def served(anvil: Devnet, pg_database: str, tmp_path: Path) -> Iterator[Served]:
    chain = ChainClient.connect(anvil.rpc_url)
    chain.deploy()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(SETTINGS_PREFIXES)}
    env |= {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "API_DATABASE_URL": pg_database,
        "API_EVIDENCE_DIR": str(tmp_path / "evidence"),
        "CHAIN_RPC_URL": anvil.rpc_url,
        "CHAIN_LEDGER_ANCHOR_ADDRESS": chain.ledger_anchor.address,
        "CHAIN_CHARITY_REGISTRY_ADDRESS": chain.charity_registry.address,
        "ANCHOR_INTERVAL_S": "0.2",
        "ANCHOR_POLL_S": "0.2",
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", str(port)]
    server = Served(command, env, port)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.postgres
@pytest.mark.anvil
@pytest.mark.slow
def test_two_worker_processes_take_donations_into_one_gapless_journal_and_anchor_in_turn(
    served: Served, pg_database: str
) -> None:
    def healthy() -> bool:
        try:
            return httpx.get(f"{served.base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    served.wait_for("two worker processes", lambda: len(served.children()) == 2)
    served.wait_for("an answer on /healthz", healthy)
    token = served.token()  # generated once, in the parent
    auth = {"Authorization": f"Bearer {token}"}
    first, second = sorted(served.children())

    # Connections opened while one process is stopped are the other's (keep-alive keeps
    # them there): set A is served by the second process, set B by the first.
    def connections_of(serving: int, stopped: int) -> list[tuple[httpx.Client, int]]:
        os.kill(stopped, signal.SIGSTOP)
        try:
            opened = []
            for _ in range(3):
                client = httpx.Client(
                    base_url=served.base,
                    headers=auth,
                    timeout=60,
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                )
                answer = client.get("/healthz")
                assert answer.status_code == 200
                port = client_port(answer)
                assert socket_owner(port, {first, second}) == serving
                opened.append((client, port))
            return opened
        finally:
            os.kill(stopped, signal.SIGCONT)

    by_second = connections_of(second, first)
    by_first = connections_of(first, second)
    clients = by_second + by_first

    client0 = clients[0][0]
    charity = client0.post(
        "/api/v1/charities",
        json={"name": "两个进程基金会", "registration_no": "53100000500099999Q"},
    )
    assert charity.status_code == 201, charity.text
    charity_id = charity.json()["id"]
    project = client0.post(
        f"/api/v1/charities/{charity_id}/projects",
        json={"title": "workers", "goal_amount": 10**9, "currency": "CNY"},
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    acknowledged: dict[str, int] = {}

    def donate(client: httpx.Client, port: int, count: int) -> list[tuple[str, int]]:
        done = []
        for n in range(count):
            answer = client.post(
                "/api/v1/donations",
                headers={"Idempotency-Key": uuid.uuid4().hex},
                json={
                    "charity_id": charity_id,
                    "project_id": project_id,
                    "amount": 100 + n,
                    "currency": "CNY",
                    "channel": "card",
                    "paid_at": paid_now(),
                    "payment_ref": f"PAY-{uuid.uuid4().hex}",
                },
            )
            assert answer.status_code == 201, answer.text
            assert client_port(answer) == port  # the same connection, the same process
            done.append((answer.json()["id"], answer.json()["seq"]))
        return done

    with ThreadPoolExecutor(len(clients)) as pool:
        for done in pool.map(lambda c: donate(c[0], c[1], 12), clients):
            acknowledged.update(done)
    for client, _ in clients:
        client.close()

    size = httpx.get(f"{served.base}/healthz").json()["entries"]
    assert size == 2 + 6 * 12
    seqs = sorted([charity.json()["seq"], project.json()["seq"], *acknowledged.values()])
    assert seqs == list(range(seqs[0], seqs[0] + size))  # every answer its own seq, no gap
    lines = httpx.get(f"{served.base}/api/v1/entries", params={"limit": 10_000}).text.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["seq"] for e in entries] == seqs
    received = [e["body"]["donation_id"] for e in entries if e["kind"] == "donation.received"]
    assert sorted(received) == sorted(acknowledged)  # each acknowledged donation once

    # The anchor worker runs in both processes; one leads (PostgreSQL's advisory lock).
    def anchored(expected: int) -> bool:
        latest = httpx.get(f"{served.base}/api/v1/checkpoints/latest")
        return latest.status_code == 200 and latest.json()["tree_size"] == expected

    served.wait_for(f"a checkpoint of all {size} entries", lambda: anchored(size))
    leading = leader(pg_database, {first, second})
    assert leading in {first, second}

    # Stop the leader: the other process takes the lead and anchors what comes next.
    os.kill(leading, signal.SIGTERM)
    served.wait_for("the leader's exit", lambda: leading not in served.children())
    with httpx.Client(base_url=served.base, headers=auth, timeout=60) as client:
        answer = client.post(
            "/api/v1/donations",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "charity_id": charity_id,
                "amount": 500,
                "currency": "CNY",
                "channel": "card",
                "paid_at": paid_now(),
                "payment_ref": f"PAY-{uuid.uuid4().hex}",
            },
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["seq"] == seqs[-1] + 1
    served.wait_for("a checkpoint after the leader stopped", lambda: anchored(size + 1))
    successor = leader(pg_database, served.children())
    assert successor is not None
    assert successor != leading


def test_workers_on_sqlite_are_refused_before_anything_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "journal.db"
    code = main(["--database", f"sqlite:///{database}", "serve", "--workers", "2"])
    assert code == 2
    error = capsys.readouterr().err
    assert "--workers 2 needs PostgreSQL" in error
    assert "one process at a time" in error
    assert not database.exists()


@pytest.mark.postgres
@pytest.mark.parametrize("workers", ["2", "8"])
def test_workers_on_the_embedded_chain_are_refused(
    pg_database: str, workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--database", pg_database, "serve", "--workers", workers])
    assert code == 2
    error = capsys.readouterr().err
    assert f"--workers {workers} needs a chain node (CHAIN_RPC_URL" in error
    assert "embedded chain lives inside one process" in error
    with psycopg.connect(pg_database.replace("+psycopg", "")) as connection:
        assert connection.execute("SELECT count(*) FROM entry").fetchone() == (0,)


@pytest.mark.parametrize("workers", ["0", "-1", "65", "two", "1.5", ""])
def test_a_worker_count_out_of_range_is_a_usage_error(
    workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--workers", workers])
    assert exit_.value.code == 2
    assert "--workers" in capsys.readouterr().err


@pytest.mark.parametrize("made_tcp", [True, False])
def test_connections_accepted_from_the_shared_socket_get_tcp_nodelay(made_tcp: bool) -> None:
    """Without it an answer written in two parts waits for the client's delayed ACK."""
    import asyncio
    import socket

    import uvicorn

    from api.cli.serve import _tcp_listener

    config = uvicorn.Config("api.app:app_from_environment", host="127.0.0.1", port=0)
    listener = _tcp_listener(config) if made_tcp else config.bind_socket()
    accepted: list[int] = []

    class Record(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        server = await asyncio.get_running_loop().create_server(Record, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        while not accepted:
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(accept_one())
    assert accepted == ([1] if made_tcp else [0])  # uvicorn's own socket: no TCP_NODELAY
