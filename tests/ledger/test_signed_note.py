"""C2SP signed notes and checkpoints, against Go's sumdb/note test vector and mutations."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ledger.signed_note import (
    CheckpointBody,
    NoteError,
    Signer,
    Verifier,
    key_id,
    open_checkpoint,
    open_note,
)

# The example of golang.org/x/mod/sumdb/note's documentation (note.go, example_test.go).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgK"
    "vqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signing_gives_gos_note_byte_for_byte() -> None:
    signer = Signer.parse(GO_SKEY)
    assert signer.text == GO_SKEY
    assert signer.verifier.vkey == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE


def test_go_note_opens_with_its_vkey() -> None:
    assert open_note(GO_NOTE, Verifier.parse(GO_VKEY)) == GO_TEXT


def test_key_id_is_sha256_of_name_newline_alg_and_key() -> None:
    verifier = Verifier.parse(GO_VKEY)
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + verifier.public_key).digest()
    assert key_id("PeterNeumann", verifier.public_key) == digest[:4] == bytes.fromhex("c74f20a3")


def test_signatures_of_unknown_keys_are_ignored() -> None:
    other = Signer.generate("witness.example/w1")
    cosigned = GO_NOTE + other.sign(GO_TEXT).split("\n\n")[1]
    assert open_note(cosigned, Verifier.parse(GO_VKEY)) == GO_TEXT
    assert open_note(cosigned, other.verifier) == GO_TEXT


@pytest.mark.parametrize("position", [0, 10, len(GO_TEXT) - 2, len(GO_TEXT) + 20, -5])
def test_a_changed_byte_is_refused(position: int) -> None:
    data = bytearray(GO_NOTE.encode())
    data[position] ^= 0x01
    with pytest.raises(NoteError):
        open_note(data.decode(errors="replace"), Verifier.parse(GO_VKEY))


def test_a_note_without_the_keys_signature_is_refused() -> None:
    with pytest.raises(NoteError, match="not signed by"):
        open_note(GO_NOTE, Signer.generate("PeterNeumann").verifier)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not Ed25519
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+!!!",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(vkey)


def test_a_key_name_may_not_hold_spaces_or_plus() -> None:
    for name in ("", "a b", "a+b"):
        with pytest.raises(NoteError):
            Signer.generate(name)


def test_checkpoint_text_is_origin_size_and_base64_root() -> None:
    root = bytes(range(32))
    body = CheckpointBody("give.example.org/tlog", 20852163, root)
    assert body.text() == (f"give.example.org/tlog\n20852163\n{base64.b64encode(root).decode()}\n")
    assert CheckpointBody.parse(body.text()) == body


@pytest.mark.parametrize(
    "text",
    [
        "origin\n12\n",
        "origin\n012\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",
        "origin\n1\n" + base64.b64encode(bytes(32)).decode(),
        "\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        CheckpointBody.parse(text)


def test_a_checkpoint_of_another_origin_is_refused() -> None:
    signer = Signer.generate("give.example.org/tlog")
    note = signer.sign(CheckpointBody("other.example/tlog", 1, bytes(32)).text())
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(note, signer.verifier)
    good = signer.sign(CheckpointBody("give.example.org/tlog", 1, bytes(32)).text())
    assert open_checkpoint(good, signer.verifier).tree_size == 1
