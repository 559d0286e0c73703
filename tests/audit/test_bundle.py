"""Proof bundles: built with ``build_bundle`` from an anchored journal, verified step by
step, and every single-field alteration rejected at the step that must catch it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from audit.bundle import (
    FORMAT,
    build_bundle,
    parse_bundle,
    verify_bundle,
    verify_bundle_offline,
    verify_bundle_on_chain,
)
from audit.cli import main
from audit.errors import BundleError, ContractMismatchError
from chain.devnet import free_port
from ledger.entries import format_at, make_entry, parse_at
from ledger.merkle import MemoryTree
from ledger.store.checkpoints import AnchoredCheckpoint
from ledger.store.journal import Store
from tests.audit.conftest import Anchored

Bundle = dict[str, Any]


def bundle_for(store: Store, checkpoint: AnchoredCheckpoint, seq: int) -> Bundle:
    return build_bundle(
        entry=store.entry(seq),
        inclusion_proof=store.inclusion_proof(seq, checkpoint.tree_size),
        checkpoint_index=checkpoint.checkpoint_index,
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash,
        chain_id=checkpoint.chain_id,
        contract=checkpoint.contract,
        tx_hash=checkpoint.tx_hash,
        block_number=checkpoint.block_number,
    )


@pytest.fixture(scope="module")
def bundles(anchored_sqlite: tuple[Anchored, Store]) -> list[Bundle]:
    """A bundle for every anchored entry, against the first checkpoint that holds it."""
    anchored, store = anchored_sqlite
    found = []
    for seq in range(anchored.sizes[-1]):
        checkpoint = next(c for c in anchored.checkpoints if c.tree_size > seq)
        found.append(bundle_for(store, checkpoint, seq))
    return found


@pytest.fixture
def anchored(anchored_sqlite: tuple[Anchored, Store]) -> Anchored:
    return anchored_sqlite[0]


def test_every_bundle_of_an_anchored_journal_verifies(
    anchored: Anchored, bundles: list[Bundle]
) -> None:
    for bundle in bundles:
        steps = verify_bundle(bundle, anchored.client, contract=anchored.contract)
        assert [s.name for s in steps] == [
            "format",
            "entry",
            "leaf_hash",
            "inclusion",
            "chain",
            "contract",
            "checkpoint",
            "anchor_tx",
            "contract_call",
        ]


def test_a_bundle_against_a_later_checkpoint_verifies_too(
    anchored_sqlite: tuple[Anchored, Store],
) -> None:
    anchored, store = anchored_sqlite
    bundle = bundle_for(store, anchored.checkpoints[-1], 0)
    assert len(verify_bundle(bundle, anchored.client)) == 9


def test_a_bundle_is_exactly_the_documented_format(bundles: list[Bundle]) -> None:
    bundle = bundles[5]
    assert list(bundle) == [
        "format",
        "entry",
        "leaf_hash",
        "checkpoint",
        "inclusion_proof",
        "anchor",
    ]
    assert bundle["format"] == FORMAT == "shanlian-proof/v1"
    assert list(bundle["checkpoint"]) == ["index", "tree_size", "root_hash"]
    assert list(bundle["anchor"]) == ["chain_id", "contract", "tx_hash", "block_number"]
    assert json.loads(json.dumps(bundle)) == bundle
    for value in [bundle["leaf_hash"], bundle["anchor"]["contract"], *bundle["inclusion_proof"]]:
        assert value == value.lower()
        assert value.startswith("0x")


# -- every single-field alteration, and the step that must reject it ---------------------


def flip(value: str) -> str:
    """A hash with its last hex digit changed."""
    return value[:-1] + ("0" if value[-1] != "0" else "1")


def later(at: str) -> str:
    return format_at(parse_at(at) + timedelta(seconds=1))


Mutation = Callable[[Bundle, Anchored], None]


def at(path: tuple[str | int, ...], change: Callable[[Any], Any]) -> Mutation:
    def mutate(bundle: Bundle, _: Anchored) -> None:
        target: Any = bundle
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = change(target[path[-1]])

    return mutate


def other_checkpoint(bundle: Bundle, anchored: Anchored) -> None:
    index = bundle["checkpoint"]["index"]
    bundle["checkpoint"]["index"] = (
        index + 1 if index + 1 < len(anchored.checkpoints) else index - 1
    )


def other_anchor_tx(bundle: Bundle, anchored: Anchored) -> None:
    index = bundle["checkpoint"]["index"]
    other = anchored.checkpoints[index + 1 if index + 1 < len(anchored.checkpoints) else index - 1]
    bundle["anchor"]["tx_hash"] = "0x" + other.tx_hash.hex()
    bundle["anchor"]["block_number"] = other.block_number


def add_field(bundle: Bundle, _: Anchored) -> None:
    bundle["entry"]["note"] = "x"


def drop_last(proof: list[str]) -> list[str]:
    return proof[:-1]


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "format": (at(("format",), lambda _: "shanlian-proof/v2"), "format"),
    "entry.v": (at(("entry", "v"), lambda _: 2), "entry"),
    "entry.seq": (at(("entry", "seq"), lambda v: v + 1), "leaf_hash"),
    "entry.kind": (at(("entry", "kind"), lambda _: "donation.refunded"), "entry"),
    "entry.at": (at(("entry", "at"), later), "leaf_hash"),
    "entry.actor": (at(("entry", "actor"), lambda _: "charity:ch_other"), "leaf_hash"),
    "entry.extra field": (
        at(("entry", "note"), lambda _: "x")
        if False
        else (lambda b, a: b["entry"].__setitem__("note", "x")),
        "entry",
    ),
    "entry.body.amount": (at(("entry", "body", "amount"), lambda v: v + 1), "leaf_hash"),
    "entry.body.channel": (at(("entry", "body", "channel"), lambda _: "cash"), "leaf_hash"),
    "entry.body.charity_id": (at(("entry", "body", "charity_id"), lambda v: v + "x"), "leaf_hash"),
    "entry.body.currency": (at(("entry", "body", "currency"), lambda _: "USD"), "leaf_hash"),
    "entry.body.donation_id": (
        at(("entry", "body", "donation_id"), lambda v: v + "x"),
        "leaf_hash",
    ),
    "entry.body.donor_commitment": (at(("entry", "body", "donor_commitment"), flip), "leaf_hash"),
    "entry.body.paid_at": (at(("entry", "body", "paid_at"), later), "leaf_hash"),
    "entry.body.paid_at not normalized": (
        at(("entry", "body", "paid_at"), lambda v: v.replace(".000Z", "Z")),
        "entry",
    ),
    "entry.body.payment_ref_hash": (at(("entry", "body", "payment_ref_hash"), flip), "leaf_hash"),
    "entry.body.project_id": (at(("entry", "body", "project_id"), lambda _: None), "leaf_hash"),
    "leaf_hash": (at(("leaf_hash",), flip), "leaf_hash"),
    "checkpoint.index": (other_checkpoint, "checkpoint"),
    "checkpoint.tree_size": (at(("checkpoint", "tree_size"), lambda v: v * 2), "inclusion"),
    "checkpoint.root_hash": (at(("checkpoint", "root_hash"), flip), "inclusion"),
    "inclusion_proof one missing": (at(("inclusion_proof",), drop_last), "inclusion"),
    "inclusion_proof one extra": (
        at(("inclusion_proof",), lambda p: [*p, "0x" + "00" * 32]),
        "inclusion",
    ),
    "anchor.chain_id": (at(("anchor", "chain_id"), lambda v: v + 1), "chain"),
    "anchor.contract": (at(("anchor", "contract"), lambda _: "0x" + "12" * 20), "contract"),
    "anchor.tx_hash": (at(("anchor", "tx_hash"), flip), "anchor_tx"),
    "anchor.tx_hash of another checkpoint": (other_anchor_tx, "anchor_tx"),
    "anchor.block_number": (at(("anchor", "block_number"), lambda v: v + 1), "anchor_tx"),
}


def donation_bundle(bundles: list[Bundle], anchored: Anchored) -> Bundle:
    """A donation's bundle with a proof of several hashes, earmarked to a project."""
    return copy.deepcopy(bundles[anchored.seqs["donation"]])


def rejected_at(bundle: Bundle, anchored: Anchored) -> str:
    with pytest.raises(BundleError) as caught:
        verify_bundle(bundle, anchored.client, contract=None)
    return caught.value.step


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_a_bundle_with_one_field_altered_is_rejected_at_the_step_that_checks_it(
    anchored: Anchored, bundles: list[Bundle], name: str
) -> None:
    mutate, step = MUTATIONS[name]
    bundle = donation_bundle(bundles, anchored)
    mutate(bundle, anchored)
    assert rejected_at(bundle, anchored) == step


def test_a_tree_size_the_proof_happens_to_fit_is_caught_by_the_checkpoint_on_chain(
    anchored: Anchored, bundles: list[Bundle]
) -> None:
    # Leaf 7 of 12 and of 13 has an audit path of the same shape, so the proof alone
    # cannot tell the sizes apart: the tree size must come from the chain (DESIGN §4).
    bundle = donation_bundle(bundles, anchored)
    assert (bundle["entry"]["seq"], bundle["checkpoint"]["tree_size"]) == (7, 12)
    bundle["checkpoint"]["tree_size"] = 13
    assert len(verify_bundle_offline(bundle)) == 4
    assert rejected_at(bundle, anchored) == "checkpoint"


def test_each_element_of_the_inclusion_proof_is_checked(
    anchored: Anchored, bundles: list[Bundle]
) -> None:
    original = donation_bundle(bundles, anchored)
    assert len(original["inclusion_proof"]) >= 3
    for i in range(len(original["inclusion_proof"])):
        bundle = copy.deepcopy(original)
        bundle["inclusion_proof"][i] = flip(bundle["inclusion_proof"][i])
        assert rejected_at(bundle, anchored) == "inclusion", i


def test_a_bundle_naming_another_contract_than_the_trusted_one_is_rejected(
    anchored: Anchored, bundles: list[Bundle]
) -> None:
    with pytest.raises(ContractMismatchError) as caught:
        verify_bundle_on_chain(bundles[0], anchored.client, contract="0x" + "34" * 20)
    assert caught.value.step == "contract"
    assert caught.value.actual == anchored.contract.lower()


# -- without a chain -------------------------------------------------------------------


def test_offline_verification_checks_entry_hash_and_path_with_no_chain_at_all() -> None:
    entries = [
        make_entry(
            "charity.registered",
            {"charity_id": f"ch_{i}", "name": f"n{i}", "registration_no": "r", "signer": None},
            seq=i,
            at="2026-11-26T10:00:00.000Z",
            actor="platform",
        )
        for i in range(13)
    ]
    tree = MemoryTree.from_leaf_hashes(e.leaf_hash for e in entries)
    for size in (1, 7, 13):
        for entry in entries[:size]:
            bundle = build_bundle(
                entry=entry,
                inclusion_proof=tree.inclusion_proof(entry.seq, size),
                checkpoint_index=0,
                tree_size=size,
                root_hash=tree.root(size),
                chain_id=31337,
                contract="0x" + "AB" * 20,
                tx_hash=b"\x01" * 32,
                block_number=3,
            )
            assert bundle["anchor"]["contract"] == "0x" + "ab" * 20
            assert [s.name for s in verify_bundle_offline(bundle)] == [
                "format",
                "entry",
                "leaf_hash",
                "inclusion",
            ]
            assert parse_bundle(bundle).seq == entry.seq


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("anchor"), "anchor"),
        (lambda b: b.update(extra=1), "extra"),
        (lambda b: b["checkpoint"].update(tree_size=0), "checkpoint.tree_size"),
        (lambda b: b["checkpoint"].update(index=True), "checkpoint.index"),
        (lambda b: b["checkpoint"].update(index=2**70), "checkpoint.index"),
        (lambda b: b["anchor"].update(contract="0x12"), "anchor.contract"),
        (lambda b: b.update(leaf_hash=b["leaf_hash"].upper()), "leaf_hash"),
        (lambda b: b["inclusion_proof"].append("0x00"), "inclusion_proof[3]"),
    ],
)
def test_a_malformed_bundle_is_rejected_at_the_format_step_naming_the_field(
    bundles: list[Bundle], anchored: Anchored, change: Callable[[Bundle], Any], field: str
) -> None:
    bundle = donation_bundle(bundles, anchored)
    bundle["inclusion_proof"] = bundle["inclusion_proof"][:3]
    change(bundle)
    with pytest.raises(BundleError) as caught:
        verify_bundle_offline(bundle)
    assert caught.value.step == "format"
    assert caught.value.message.startswith(field + ":")


# -- the command ------------------------------------------------------------------------

ANVIL_ONLY = pytest.mark.parametrize(
    "anchored_sqlite", [pytest.param("anvil", marks=pytest.mark.anvil)], indirect=True
)


@ANVIL_ONLY
def test_the_verify_command_explains_each_step_and_exits_by_the_verdict(
    anchored: Anchored, bundles: list[Bundle], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rpc = anchored.client.rpc_url
    assert rpc is not None
    good = tmp_path / "good.json"
    good.write_text(json.dumps(bundles[3]))
    assert main(["verify", str(good), "--rpc", rpc, "--contract", anchored.contract]) == 0
    out = capsys.readouterr().out
    for step in ("entry", "leaf_hash", "inclusion", "checkpoint", "anchor_tx", "contract_call"):
        assert f"  ok      {step}" in out
    assert out.splitlines()[-1].startswith("VERIFIED: entry 3 ")

    bad_bundle = copy.deepcopy(bundles[3])
    bad_bundle["checkpoint"]["root_hash"] = flip(bad_bundle["checkpoint"]["root_hash"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_bundle))
    assert main(["verify", str(bad), "--rpc", rpc]) == 1
    assert "REJECTED at step inclusion" in capsys.readouterr().out

    down = f"http://127.0.0.1:{free_port()}"
    assert main(["verify", str(good), "--rpc", down]) == 2
    assert "cannot reach the node" in capsys.readouterr().err
