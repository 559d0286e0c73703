"""C2SP signed notes and tlog checkpoints: the journal's signed tree heads (ADR 0031).

Pure: text and bytes in, values or exceptions out. Follows c2sp.org/signed-note (Ed25519
signatures, the algorithm byte ``0x01``) and c2sp.org/tlog-checkpoint, byte for byte as
Go's ``golang.org/x/mod/sumdb/note`` reads and writes them:

- a checkpoint's text is ``<origin>\\n<tree size>\\n<base64 root hash>\\n``;
- a note is its text, a blank line, then one line per signature,
  ``— <key name> <base64(key id || signature)>\\n`` (U+2014 and a space first);
- the key id is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key);
- a verifier key (vkey) is ``<name>+<key id, 8 hex>+<base64(0x01 ‖ public key)>`` and a
  signer key ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ 32-byte seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = b"\x01"
"""signed-note's signature type of Ed25519."""
ALG_COSIGNATURE_V1 = b"\x04"
"""signed-note's signature type of timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature)."""
COSIGNATURE_V1_HEADER = "cosignature/v1\n"
"""The first line of what a cosignature/v1 signs: domain separation."""
SIGNATURE_PREFIX = "\u2014 "
"""An em dash (U+2014) and a space open every signature line."""
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
MAX_SIGNATURES = 100
"""As Go's note.Open: a note with more signature lines is refused."""
HASH_SIZE = 32
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class NoteError(ValueError):
    """A note, checkpoint or key that is malformed, or a signature that does not verify."""


def valid_key_name(name: str) -> bool:
    """Whether ``name`` may name a key: non-empty, no Unicode space, no ``+``."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, public_key: bytes, algorithm: bytes = ALG_ED25519) -> bytes:
    """The 4-byte key id: SHA-256(name ‖ 0x0A ‖ algorithm ‖ public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + algorithm + public_key).digest()[:4]


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise NoteError(f"{what} is not standard base64") from None


@dataclass(frozen=True)
class _NamedKey:
    """A named Ed25519 public key of one signature type (``algorithm``).

    Attributes:
        name: the key name.
        public_key: the 32-byte Ed25519 public key.
    """

    algorithm: ClassVar[bytes]
    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        """The key id the signature lines carry: SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]."""
        return key_id(self.name, self.public_key, self.algorithm)

    @property
    def vkey(self) -> str:
        """The verifier key text: ``name+keyid+base64(type ‖ public key)``."""
        encoded = base64.b64encode(self.algorithm + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class Verifier(_NamedKey):
    """An Ed25519 verifier key of a signed-note signer (type 0x01); its ``name`` is a
    log's origin."""

    algorithm = ALG_ED25519

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Read a verifier key text.

        Raises:
            NoteError: not ``name+keyid+key``, not Ed25519, or the key id does not match.
        """
        parts = vkey.strip().split("+", 2)  # base64 may hold + too
        if len(parts) != 3 or not valid_key_name(parts[0]):
            raise NoteError("a verifier key reads name+keyid+base64key")
        name, hex_id, encoded = parts
        raw = _b64decode(encoded, "the verifier key")
        if len(raw) != 33 or raw[:1] != ALG_ED25519:
            raise NoteError("the verifier key is not an Ed25519 key (0x01 and 32 bytes)")
        verifier = cls(name, raw[1:])
        if hex_id.lower() != verifier.key_id.hex() or len(hex_id) != 8:
            raise NoteError(f"the verifier key's id {hex_id} is not the id of its key")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``text``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """An Ed25519 signer key of signed notes (a log key).

    Attributes:
        name: the key name (a log's: its origin).
        seed: the 32-byte Ed25519 private key (RFC 8032 seed).
    """

    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A new random key named ``name``.

        Raises:
            NoteError: the name is empty, holds a space or a ``+``.
        """
        if not valid_key_name(name):
            raise NoteError(
                f"{name!r} cannot name a key: it must be non-empty, without spaces or +"
            )
        key = Ed25519PrivateKey.generate()
        return cls(name, key.private_bytes_raw())

    @classmethod
    def parse(cls, text: str) -> Signer:
        """Read a signer key text (``PRIVATE+KEY+name+keyid+base64``, as Go's note reads).

        Raises:
            NoteError: malformed, not Ed25519, or the key id does not match the key.
        """
        text = text.strip()
        parts = text.removeprefix(PRIVATE_KEY_PREFIX).split("+", 2)  # base64 may hold +
        if not text.startswith(PRIVATE_KEY_PREFIX) or len(parts) != 3:
            raise NoteError("a log key reads PRIVATE+KEY+name+keyid+base64key")
        name, hex_id, encoded = parts
        if not valid_key_name(name):
            raise NoteError(f"the log key's name {name!r} is not a valid key name")
        raw = _b64decode(encoded, "the log key")
        if len(raw) != 33 or raw[:1] != ALG_ED25519:
            raise NoteError("the log key is not an Ed25519 key (0x01 and 32 bytes)")
        signer = cls(name, raw[1:])
        if hex_id.lower() != signer.verifier.key_id.hex() or len(hex_id) != 8:
            raise NoteError(f"the log key's id {hex_id} is not the id of its key")
        return signer

    @property
    def text(self) -> str:
        """The signer key text, ``PRIVATE+KEY+name+keyid+base64(0x01 ‖ seed)``: a secret."""
        encoded = base64.b64encode(ALG_ED25519 + self.seed).decode()
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    @property
    def verifier(self) -> Verifier:
        """The matching verifier key."""
        public = (
            Ed25519PrivateKey.from_private_bytes(self.seed)
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
        return Verifier(self.name, public)

    def sign(self, text: str) -> str:
        """The signed note of ``text``: the text, a blank line, this key's signature line.

        Requires text that is non-empty, ends in one newline and holds no blank line.

        Raises:
            NoteError: the text breaks those rules.
        """
        if not text.endswith("\n") or "\n\n" in text or text == "\n":
            raise NoteError("a note's text must end in a newline and hold no blank line")
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(text.encode())
        encoded = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {encoded}\n"


def parse_signature_line(line: str) -> tuple[str, bytes]:
    """The key name and the raw signature (key id first) of a line ``— <name> <base64>``.

    Raises:
        NoteError: not a signature line.
    """
    if not line.startswith(SIGNATURE_PREFIX) or line.count(" ") != 2:
        raise NoteError(f"malformed signature line {line!r}")
    name, encoded = line.removeprefix(SIGNATURE_PREFIX).split(" ")
    raw = _b64decode(encoded, "a signature")
    if len(raw) < 5 or not valid_key_name(name):
        raise NoteError(f"malformed signature line {line!r}")
    return name, raw


def open_note(note: str, verifier: Verifier) -> str:
    """The text of ``note`` once a signature of ``verifier`` over it is checked.

    Signatures by other keys are ignored (c2sp.org/signed-note); a signature line that
    names this key and id but does not verify rejects the note.

    Raises:
        NoteError: malformed, too many signatures, no signature by this key, or a bad one.
    """
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("a signed note is its text, a blank line and signature lines")
    text, lines = note[: split + 1], note[split + 2 :].splitlines()
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    verified = False
    for line in lines:
        name, raw = parse_signature_line(line)
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        if not verifier.verify(text.encode(), raw[4:]):
            raise NoteError(f"the signature by {name} does not verify")
        verified = True
    if not verified:
        raise NoteError(f"the note is not signed by {verifier.name}+{verifier.key_id.hex()}")
    return text


@dataclass(frozen=True)
class CheckpointBody:
    """The text of a C2SP tlog checkpoint.

    Attributes:
        origin: the log's identity (its key name).
        tree_size: entries covered.
        root_hash: the RFC 6962 root at ``tree_size``.
    """

    origin: str
    tree_size: int
    root_hash: bytes

    def text(self) -> str:
        """``<origin>\\n<size>\\n<base64 root>\\n``."""
        root = base64.b64encode(self.root_hash).decode()
        return f"{self.origin}\n{self.tree_size}\n{root}\n"

    @classmethod
    def parse(cls, text: str) -> CheckpointBody:
        """Read a checkpoint's text (extension lines are allowed and ignored).

        Raises:
            NoteError: fewer than three lines, an empty line, a malformed size or root.
        """
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise NoteError("a checkpoint is at least three non-empty lines, each ending in \\n")
        if not _DECIMAL.fullmatch(lines[1]) or int(lines[1]) >= 1 << 64:
            raise NoteError(f"the checkpoint's tree size {lines[1]!r} is not a decimal size")
        root = _b64decode(lines[2], "the checkpoint's root hash")
        if len(root) != HASH_SIZE:
            raise NoteError(f"the checkpoint's root hash has {len(root)} bytes, not {HASH_SIZE}")
        return cls(lines[0], int(lines[1]), root)


def open_checkpoint(note: str, verifier: Verifier) -> CheckpointBody:
    """The checkpoint a signed note carries, once its signature and origin are checked.

    Raises:
        NoteError: the note does not verify, is no checkpoint, or its origin is not the
            key's name.
    """
    body = CheckpointBody.parse(open_note(note, verifier))
    if body.origin != verifier.name:
        raise NoteError(f"the checkpoint's origin {body.origin!r} is not {verifier.name!r}")
    return body


# -- cosignatures (c2sp.org/tlog-cosignature, the Ed25519 cosignature/v1) -------------------


MAX_TIMESTAMP = (1 << 63) - 1
"""A cosignature's timestamp is a u64 that must not exceed 2**63 - 1."""


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: ``cosignature/v1\\ntime <t>\\n`` and the note's text."""
    return f"{COSIGNATURE_V1_HEADER}time {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class CosignerKey(_NamedKey):
    """A witness's key of Ed25519 cosignatures (cosignature/v1, signature type 0x04); its
    ``name`` is the cosigner's (a schema-less URL, e.g. ``witness.example/w1``)."""

    algorithm = ALG_COSIGNATURE_V1

    @classmethod
    def parse(cls, vkey: str) -> CosignerKey:
        """Read a witness's verifier key, strictly.

        Only the canonical text is accepted: a valid key name, the key id in 8 lowercase
        hex digits that are the id of the key, standard base64 of 0x04 and 32 bytes.

        Raises:
            NoteError: anything else (an Ed25519 log key, 0x01, is refused by name).
        """
        parts = vkey.split("+", 2)
        if len(parts) != 3 or not valid_key_name(parts[0]):
            raise NoteError("a witness key reads name+keyid+base64key")
        name, hex_id, encoded = parts
        raw = _b64decode(encoded, "the witness key")
        if raw[:1] == ALG_ED25519:
            raise NoteError(
                "the witness key is a signed-note Ed25519 key (type 0x01); a witness's "
                "cosignature key has type 0x04 (c2sp.org/tlog-cosignature)"
            )
        if len(raw) != 33 or raw[:1] != ALG_COSIGNATURE_V1:
            raise NoteError("the witness key is not a cosignature/v1 key (0x04 and 32 bytes)")
        key = cls(name, raw[1:])
        if hex_id != key.key_id.hex() or base64.b64encode(raw).decode() != encoded:
            raise NoteError(f"the witness key's id {hex_id!r} is not the id of its key")
        return key

    def open(self, text: str, signature: bytes) -> int:
        """The timestamp of this key's cosignature ``signature`` (key id first) of ``text``.

        Requires ``text`` to be a note's text (a checkpoint, ending in a newline).

        Raises:
            NoteError: another key's, malformed, a zero timestamp, or it does not verify.
        """
        if signature[:4] != self.key_id:
            raise NoteError(f"the signature is not by {self.name}+{self.key_id.hex()}")
        if len(signature) != 4 + 8 + 64:
            raise NoteError("a cosignature/v1 is a key id, an 8-byte time and 64 bytes")
        timestamp = int.from_bytes(signature[4:12], "big")
        if timestamp == 0 or timestamp > MAX_TIMESTAMP:
            raise NoteError(f"the cosignature's time {timestamp} is zero or too large")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature[12:], cosigned_message(text, timestamp)
            )
        except (InvalidSignature, ValueError):
            raise NoteError(f"the cosignature by {self.name} does not verify") from None
        return timestamp

    def line(self, signature: bytes) -> str:
        """The note signature line of ``signature`` (key id first), newline included."""
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(signature).decode()}\n"
