"""A conformant C2SP tlog-witness for the tests: a real HTTP server, not a product.

No witness implementation installs from the registries this project reaches (PyPI,
Debian, npm; the Go module proxy has filippo.io/torchwood's litewitness, but it needs a
newer Go than Debian's), so the tests run this one. It is written from c2sp.org/
tlog-witness and tlog-cosignature alone and shares no code with the log's side: its own
note parsing, its own RFC 9162 consistency check, its own cosignature/v1 signing.

``POST /add-checkpoint``, per the spec:

- 404 for an origin it does not know; 403 when no signature of the trusted log key
  verifies (or one by it fails); 400 for a malformed body or an old size above the
  checkpoint's;
- 409 (``text/x.tlog.size``, ``<size>\\n``) when the old size is not the size it last
  cosigned;
- 422 when a size-0 checkpoint has a non-empty root, a proof comes with old size 0, the
  roots of equal sizes differ, or the consistency proof does not verify;
- else it records the checkpoint (check and update atomically, under one lock) and
  answers 200 with one cosignature/v1 line.

Knobs for the tests: ``delay_s`` (answer late), ``down`` (drop every connection unread),
``requests`` (what it was asked, in order).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

EMPTY_ROOT = hashlib.sha256(b"").digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def consistent(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: whether ``proof`` shows the tree at ``second`` extends ``first``."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof or first > second:
        return False
    if first & (first - 1) == 0:  # a power of two: the first tree is a subtree
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


@dataclass
class LogKey:
    """A log the witness follows: its origin and Ed25519 key (signed-note type 0x01)."""

    origin: str
    public_key: bytes

    @classmethod
    def from_vkey(cls, vkey: str) -> LogKey:
        name, _, encoded = vkey.split("+", 2)
        raw = base64.b64decode(encoded)
        assert raw[:1] == b"\x01"
        assert len(raw) == 33
        return cls(name, raw[1:])

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(self.origin.encode() + b"\n\x01" + self.public_key).digest()[:4]


class WitnessRefusalError(Exception):
    def __init__(self, status: int, body: str = "", media_type: str = "text/plain") -> None:
        super().__init__(body)
        self.status, self.body, self.media_type = status, body, media_type


@dataclass
class WitnessState:
    size: int
    root: bytes
    note: str


@dataclass
class SpecWitness:
    """A witness: a name, a cosigning key, the logs it follows and its state per log."""

    name: str
    logs: dict[str, LogKey]
    seed: bytes = field(default_factory=lambda: Ed25519PrivateKey.generate().private_bytes_raw())
    state: dict[str, WitnessState] = field(default_factory=dict)
    delay_s: float = 0.0
    down: bool = False
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def public_key(self) -> bytes:
        key = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(self.name.encode() + b"\n\x04" + self.public_key).digest()[:4]

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(b"\x04" + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def cosign(self, text: str, timestamp: int | None = None) -> str:
        """A cosignature/v1 line of the checkpoint ``text``."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)
        raw = self.key_id + timestamp.to_bytes(8, "big") + signature
        return f"\u2014 {self.name} {base64.b64encode(raw).decode()}\n"

    def add_checkpoint(self, body: bytes) -> str:
        """The answer to an add-checkpoint body, or a WitnessRefusalError."""
        try:
            request = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessRefusalError(400, "not UTF-8") from None
        head, separator, note = request.partition("\n\n")
        if not separator:
            raise WitnessRefusalError(400, "no blank line")
        lines = head.split("\n")
        if not lines[0].startswith("old "):
            raise WitnessRefusalError(400, "no old size line")
        old_text = lines[0].removeprefix("old ")
        if not old_text.isdigit() or old_text != str(int(old_text)):
            raise WitnessRefusalError(400, "bad old size")
        old = int(old_text)
        if len(lines) - 1 > 63:
            raise WitnessRefusalError(400, "more than 63 proof lines")
        try:
            proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
        except binascii.Error:
            raise WitnessRefusalError(400, "a proof line is not base64") from None
        if any(len(h) != 32 for h in proof):
            raise WitnessRefusalError(400, "a proof line is not a hash")
        text, signatures = self._open(note)
        origin, size_text, root_text = text.split("\n")[:3]
        if not size_text.isdigit() or size_text != str(int(size_text)):
            raise WitnessRefusalError(400, "bad checkpoint size")
        size, root = int(size_text), base64.b64decode(root_text)
        if old > size:
            raise WitnessRefusalError(400, "old size above the checkpoint's")
        with self._lock:  # check and update atomically (the spec's race)
            known = self.state.get(origin)
            known_size = known.size if known else 0
            if old != known_size:
                raise WitnessRefusalError(409, f"{known_size}\n", "text/x.tlog.size")
            if size == 0 and root != EMPTY_ROOT:
                raise WitnessRefusalError(422, "size 0 with a non-empty root")
            if old == 0 and proof:
                raise WitnessRefusalError(422, "a proof from size 0")
            if known is not None:
                if old == size and root != known.root:
                    raise WitnessRefusalError(422, "same size, another root")
                if not consistent(old, size, known.root, root, proof):
                    raise WitnessRefusalError(422, "the consistency proof does not verify")
            line = self.cosign(text)
            self.state[origin] = WitnessState(size, root, text + "\n" + signatures + line)
        return line

    def _open(self, note: str) -> tuple[str, str]:
        """The checkpoint text and its signature lines, once the log's signature checks."""
        split = note.rfind("\n\n")
        if split < 0 or not note.endswith("\n"):
            raise WitnessRefusalError(400, "not a signed note")
        text, signatures = note[: split + 1], note[split + 2 :]
        origin = text.split("\n", 1)[0]
        log = self.logs.get(origin)
        if log is None:
            raise WitnessRefusalError(404, "unknown log")
        verified = False
        for line in signatures.split("\n")[:-1]:
            if not line.startswith("\u2014 ") or line.count(" ") != 2:
                raise WitnessRefusalError(400, "malformed signature line")
            name, encoded = line[2:].split(" ")
            raw = base64.b64decode(encoded)
            if name != log.origin or raw[:4] != log.key_id:
                continue  # unknown keys are ignored
            try:
                Ed25519PublicKey.from_public_bytes(log.public_key).verify(raw[4:], text.encode())
            except InvalidSignature:
                raise WitnessRefusalError(
                    403, "a signature by the log's key does not verify"
                ) from None
            verified = True
        if not verified:
            raise WitnessRefusalError(403, "no signature by the log's key")
        return text, signatures


class WitnessServer(ThreadingHTTPServer):
    daemon_threads = True
    witness: SpecWitness


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        witness = self.server.witness
        if witness.down:  # as a dead host: the connection closes, nothing answers
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        witness.requests.append(body.decode("utf-8", "replace"))
        if witness.delay_s:
            time.sleep(witness.delay_s)
        if self.path != "/add-checkpoint":
            self._answer(404, "no such endpoint", "text/plain")
            return
        try:
            line = witness.add_checkpoint(body)
        except WitnessRefusalError as refused:
            self._answer(refused.status, refused.body, refused.media_type)
            return
        self._answer(200, line, "text/plain; charset=utf-8")

    def _answer(self, status: int, body: str, media_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class RunningWitness:
    """A SpecWitness served on 127.0.0.1 (a free port) until ``stop``."""

    def __init__(self, witness: SpecWitness) -> None:
        self.witness = witness
        self.server = WitnessServer(("127.0.0.1", 0), _Handler)
        self.server.witness = witness
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
