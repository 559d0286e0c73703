"""The served transparency log, checked by Go's sumdb packages (tests/tlog/goverify).

A tool no one here wrote decides: ``golang.org/x/mod/sumdb/note`` verifies the signed
checkpoint with the verifier key ``/api/v1/chain`` publishes, and
``golang.org/x/mod/sumdb/tlog`` authenticates the tiles against its root and proves every
entry of the bundles included. Then one byte of a tile, a bundle or the note is changed
on the way (a proxy between the verifier and a real uvicorn server), and it must refuse.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import uvicorn

from chain.client import ChainClient
from chain.devnet import free_port
from chain.embedded import EmbeddedChain
from ledger.signed_note import Verifier, open_checkpoint
from tests.api.conftest import Api, Journal, build_api, close_api

pytestmark = pytest.mark.slow

GOVERIFY = Path(__file__).parents[1] / "tlog" / "goverify"
GOPATH_DEBIAN = Path("/usr/share/gocode")
"""Where Debian's golang-golang-x-mod-dev puts golang.org/x/mod (GOPATH layout)."""


@pytest.fixture(scope="session")
def goverify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go verifier, built offline from Debian's Go and golang.org/x/mod."""
    go = shutil.which("go")
    if go is None or not (GOPATH_DEBIAN / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        pytest.fail("install golang-go and golang-golang-x-mod-dev (scripts/setup test does)")
    work = tmp_path_factory.mktemp("go")
    binary = work / "goverify"
    environment = os.environ | {
        "GO111MODULE": "off",  # GOPATH mode: the packages Debian installed, no network
        "GOPATH": f"{work}:{GOPATH_DEBIAN}",
        "GOCACHE": str(work / "cache"),
        "GOFLAGS": "",
        "GOPROXY": "off",
    }
    subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=GOVERIFY,
        env=environment,
        check=True,
        timeout=300,
    )
    return binary


@dataclass
class ServedLog:
    api: Api
    url: str
    vkey: str
    size: int


@pytest.fixture(scope="module")
def served_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedLog]:
    """600 entries, one anchored checkpoint at 300, the app under uvicorn."""
    folder = tmp_path_factory.mktemp("tlog")
    chain = ChainClient.embedded(chain=EmbeddedChain())
    chain.deploy()
    api = build_api(f"sqlite:///{folder}/journal.db", chain, folder / "evidence")
    journal = Journal(api.store)
    journal.donate(298)
    api.anchor()  # signs the anchored checkpoint, size 300
    for _ in range(3):
        journal.donate(100)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api.client.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    while not server.started:  # a readiness wait, not a timed assertion
        if not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    vkey = httpx.get(f"{url}/api/v1/chain").json()["log_vkey"]
    note = httpx.get(f"{url}/tlog/checkpoint").text
    size = open_checkpoint(note, Verifier.parse(vkey)).tree_size
    assert size == api.store.size() == 600
    yield ServedLog(api, url, vkey, size)
    server.should_exit = True
    thread.join(timeout=30)
    close_api(api)


class Tamperer(ThreadingHTTPServer):
    """A proxy in front of the log that changes one byte of one resource."""

    upstream: str
    path: str | None = None
    offset: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: Tamperer

    def do_GET(self) -> None:
        upstream = httpx.get(self.server.upstream + self.path)
        body = bytearray(upstream.content)
        if self.path == self.server.path and upstream.status_code == 200:
            body[self.server.offset] ^= 0x01
        self.send_response(upstream.status_code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(bytes(body))

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tamperer(served_log: ServedLog) -> Iterator[Tamperer]:
    proxy = Tamperer(("127.0.0.1", 0), _Handler)
    proxy.upstream = served_log.url
    thread = threading.Thread(target=proxy.serve_forever, name="tamperer", daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    thread.join(timeout=10)


def run_goverify(binary: Path, url: str, vkey: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-url", f"{url}/tlog", "-vkey", vkey],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_go_verifies_the_served_checkpoint_tiles_and_entries(
    goverify: Path, served_log: ServedLog
) -> None:
    result = run_goverify(goverify, served_log.url, served_log.vkey)
    assert result.returncode == 0, result.stdout + result.stderr
    origin = Verifier.parse(served_log.vkey).name
    # 3 entry-level tiles (2 full, 1 of 88) and a level-1 tile of 2 hashes.
    assert result.stdout.split()[:5] == [
        "ok",
        f"origin={origin}",
        "size=600",
        result.stdout.split()[3],
        "entries=600",
    ]
    assert result.stdout.split()[5] == "tiles=4"


def test_go_verifies_through_the_untouched_proxy(
    goverify: Path, served_log: ServedLog, tamperer: Tamperer
) -> None:
    """The proxy itself changes nothing unless told to: the rejections below are its byte."""
    tamperer.path = None
    proxy = f"http://127.0.0.1:{tamperer.server_address[1]}"
    result = run_goverify(goverify, proxy, served_log.vkey)
    assert result.returncode == 0, result.stdout + result.stderr


# (resource, byte offset): the first, the last and a middle byte of each kind, and every
# line of the note (origin, size, root, signature).
TAMPERED = [
    ("tile/0/000", 0),
    ("tile/0/000", 4_000),
    ("tile/0/000", 8_191),
    ("tile/0/001", 8_191),
    ("tile/0/002.p/88", 0),
    ("tile/0/002.p/88", 88 * 32 - 1),
    ("tile/1/000.p/2", 0),
    ("tile/1/000.p/2", 63),
    ("tile/entries/000", 0),
    ("tile/entries/000", 1),
    ("tile/entries/000", 2),
    ("tile/entries/001", 20_000),
    ("tile/entries/002.p/88", -1),
    ("checkpoint", 0),
    ("checkpoint", 16),
    ("checkpoint", 30),
    ("checkpoint", -90),
    ("checkpoint", -1),
]


@pytest.mark.parametrize(("resource", "offset"), TAMPERED)
def test_go_rejects_one_changed_byte(
    goverify: Path, served_log: ServedLog, tamperer: Tamperer, resource: str, offset: int
) -> None:
    tamperer.path, tamperer.offset = f"/tlog/{resource}", offset
    try:
        proxy = f"http://127.0.0.1:{tamperer.server_address[1]}"
        result = run_goverify(goverify, proxy, served_log.vkey)
    finally:
        tamperer.path = None
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("rejected:"), result.stdout


def test_go_rejects_another_logs_key(goverify: Path, served_log: ServedLog) -> None:
    from ledger.signed_note import Signer

    stranger = Signer.generate(Verifier.parse(served_log.vkey).name).verifier.vkey
    result = run_goverify(goverify, served_log.url, stranger)
    assert result.returncode == 1
    assert "checkpoint signature" in result.stdout


def test_the_audit_reads_the_whole_journal_from_the_tiles(
    served_log: ServedLog, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit.cli import main

    chain = httpx.get(f"{served_log.url}/api/v1/chain").json()
    arguments = [
        "audit",
        "--journal",
        f"{served_log.url}/tlog",
        "--log-key",
        served_log.vkey,
        "--rpc",
        f"{served_log.url}/api/v1/chain/rpc",
        "--contract",
        chain["ledger_anchor"],
    ]
    assert main(arguments) == 0, capsys.readouterr()
    assert "600" in capsys.readouterr().out


def test_the_audit_refuses_tiles_whose_entries_are_not_the_signed_ones(
    served_log: ServedLog, tamperer: Tamperer, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit.cli import main

    chain = httpx.get(f"{served_log.url}/api/v1/chain").json()
    proxy = f"http://127.0.0.1:{tamperer.server_address[1]}"
    tamperer.path, tamperer.offset = "/tlog/tile/entries/002.p/88", -3
    try:
        code = main(
            [
                "audit",
                "--journal",
                f"{proxy}/tlog",
                "--log-key",
                served_log.vkey,
                "--rpc",
                f"{served_log.url}/api/v1/chain/rpc",
                "--contract",
                chain["ledger_anchor"],
            ]
        )
    finally:
        tamperer.path = None
    assert code == 2
    assert "the log serves other entries than it signed" in capsys.readouterr().err


# -- the cosigned note (ADR 0035) ------------------------------------------------------------


def test_go_verifies_the_witnesses_cosignatures_on_the_checkpoint(
    goverify: Path, tmp_path: Path
) -> None:
    """Go's note.Open, given the log's key and the witnesses' cosignature/v1 keys, checks
    every cosignature the served checkpoint carries; a quorum it cannot meet, or one
    changed byte of a cosignature, and it refuses."""
    from api.witnesses import WitnessWorker
    from chain.devnet import free_port
    from tests.serving import serve
    from tests.tlog.witness import LogKey, RunningWitness, SpecWitness

    witnesses = [RunningWitness(SpecWitness(f"witness.example/w{i}", logs={})) for i in (1, 2)]
    try:
        policy = tmp_path / "policy"
        policy.write_text(
            "".join(f"witness w{i} {w.witness.vkey} {w.url}\n" for i, w in enumerate(witnesses))
            + "group both all w0 w1\nquorum both\n"
        )
        api = build_api(
            f"sqlite:///{tmp_path}/journal.db",
            None,
            tmp_path / "evidence",
            witness_policy_file=policy,
            witness_allow_private=True,
        )
        log, setup = api.services.log, api.services.witnesses
        assert log is not None
        assert setup is not None
        for w in witnesses:
            w.witness.logs[log.origin] = LogKey.from_vkey(log.vkey)
        Journal(api.store).donate(300)
        WitnessWorker(api.store, log, setup, api.services.settings).run_once()
        with serve(api.client.app, free_port(), "uvicorn-witnessed") as url:
            keys = [a for w in witnesses for a in ("-witness", w.witness.vkey)]

            def run(*extra: str) -> subprocess.CompletedProcess[str]:
                command = [str(goverify), "-url", f"{url}/tlog", "-vkey", log.vkey, *extra]
                return subprocess.run(command, capture_output=True, text=True, timeout=120)

            result = run(*keys, "-quorum", "2")
            assert result.returncode == 0, result.stdout + result.stderr
            assert "size=302" in result.stdout
            assert result.stdout.split()[-1] == "cosigned=2"
            stranger = SpecWitness("witness.example/w1", logs={}).vkey
            refused = run(
                "-witness", stranger, "-witness", witnesses[1].witness.vkey, "-quorum", "2"
            )
            assert refused.returncode == 1
            assert "1 verify, 2 needed" in refused.stdout
            note = httpx.get(f"{url}/tlog/checkpoint").text
        # One byte of the last cosignature changed: note.Open refuses the whole note.
        tampered = bytearray(note.encode())
        tampered[-10] = ord("A") if tampered[-10] != ord("A") else ord("B")
        with serve(_static_checkpoint(bytes(tampered), api), free_port(), "tampered") as url:
            command = [str(goverify), "-url", f"{url}/tlog", "-vkey", log.vkey, *keys]
            result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 1
        assert "checkpoint signature" in result.stdout
    finally:
        for w in witnesses:
            w.stop()
        close_api(api)


def _static_checkpoint(note: bytes, api: Api) -> object:
    """The app, but /tlog/checkpoint answers ``note``."""
    inner = api.client.app

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] == "http" and scope["path"] == "/tlog/checkpoint":
            await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
            await send({"type": "http.response.body", "body": note})  # type: ignore[operator]
            return
        await inner(scope, receive, send)  # type: ignore[arg-type]

    return app
