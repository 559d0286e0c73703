"""Proof bundles that carry the log key's signed checkpoint (ADR 0031), and those that don't."""

from __future__ import annotations

from typing import Any

import pytest

from audit.bundle import build_bundle, verify_bundle_offline
from audit.errors import BundleError, SignedCheckpointError
from ledger.entries import make_entry
from ledger.merkle import MemoryTree
from ledger.signed_note import CheckpointBody, Signer

LOG = Signer.generate("give.example.org/tlog")
ENTRIES = [
    make_entry(
        "charity.registered",
        {"charity_id": f"ch_{i}", "name": f"n{i}", "registration_no": "r", "signer": None},
        seq=i,
        at="2026-11-26T10:00:00.000Z",
        actor="platform",
    )
    for i in range(9)
]
TREE = MemoryTree.from_leaf_hashes(e.leaf_hash for e in ENTRIES)


def bundle(seq: int = 4, size: int = 9, note: str | None = None) -> dict[str, Any]:
    return build_bundle(
        entry=ENTRIES[seq],
        inclusion_proof=TREE.inclusion_proof(seq, size),
        checkpoint_index=0,
        tree_size=size,
        root_hash=TREE.root(size),
        chain_id=31337,
        contract="0x" + "ab" * 20,
        tx_hash=b"\x01" * 32,
        block_number=3,
        checkpoint_note=note,
    )


def signed(size: int = 9, signer: Signer = LOG) -> str:
    return signer.sign(CheckpointBody(signer.name, size, TREE.root(size)).text())


def test_a_bundle_with_the_signed_checkpoint_verifies_with_the_log_key() -> None:
    steps = verify_bundle_offline(bundle(note=signed()), log_key=LOG.verifier)
    assert [s.name for s in steps][-1] == "signed_checkpoint"
    assert "signature verified" in steps[-1].detail


def test_without_the_log_key_the_note_is_compared_but_its_signature_not_checked() -> None:
    steps = verify_bundle_offline(bundle(note=signed()))
    assert steps[-1].name == "signed_checkpoint"
    assert "unchecked" in steps[-1].detail


def test_an_old_bundle_without_a_note_still_verifies_as_before() -> None:
    assert [s.name for s in verify_bundle_offline(bundle())] == [
        "format",
        "entry",
        "leaf_hash",
        "inclusion",
    ]
    assert list(bundle()) == [
        "format",
        "entry",
        "leaf_hash",
        "checkpoint",
        "inclusion_proof",
        "anchor",
    ]


def test_asking_for_the_log_key_refuses_a_bundle_without_a_note() -> None:
    with pytest.raises(SignedCheckpointError, match="no checkpoint signed"):
        verify_bundle_offline(bundle(), log_key=LOG.verifier)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (signed(size=8), "tree size 8"),  # another checkpoint of the same log
        (signed(signer=Signer.generate("give.example.org/tlog")), "not signed by"),
        (signed().replace("give.example.org/tlog\n9", "give.example.org/tlog\n8"), "verify"),
        ("no note", "blank line"),
    ],
)
def test_a_wrong_note_is_refused_at_its_step(note: str, message: str) -> None:
    with pytest.raises(SignedCheckpointError, match=message) as caught:
        verify_bundle_offline(bundle(note=note), log_key=LOG.verifier)
    assert caught.value.step == "signed_checkpoint"


def test_a_note_that_is_not_text_is_a_format_error() -> None:
    document = bundle()
    document["checkpoint_note"] = 7
    with pytest.raises(BundleError) as caught:
        verify_bundle_offline(document)
    assert caught.value.step == "format"
