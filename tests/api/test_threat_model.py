"""What a thief of the anchorer's key can and cannot do (docs/security.md's threat model).

The other lines of the threat model are backed by the tests the table names; these are
the ones no other test showed: the key cannot give itself more power, the admin takes it
away, and anchoring a forged extension of the journal stops the operator's anchoring and
fails every audit instead of rewriting anything.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.anchoring import AnchorSettings, AnchorWorker, JournalDivergedError
from audit.auditor import run_audit
from chain.client import ANCHORER_ROLE, DEFAULT_ADMIN_ROLE, REGISTRAR_ROLE, ChainClient
from chain.devnet import dev_private_key
from chain.errors import AccessControlUnauthorizedAccountError
from ledger.merkle import MemoryTree, leaf_hash
from tests.api.conftest import Journal

NOW = AnchorSettings(interval_s=0, poll_s=0.05, backoff_max_s=0.2)


def test_the_anchorer_key_cannot_grant_roles_and_the_admin_takes_its_own_away(
    chain_client: ChainClient,
) -> None:
    admin = chain_client
    thief = admin.with_account(dev_private_key(1))
    for contract, role in (
        (admin.ledger_anchor, ANCHORER_ROLE),
        (admin.charity_registry, REGISTRAR_ROLE),
    ):
        admin.grant_role(contract, role, thief.address)
        # The anchorer's key holds no admin role: it cannot hand its power on, or keep it.
        for granted in (role, DEFAULT_ADMIN_ROLE):
            with pytest.raises(AccessControlUnauthorizedAccountError):
                thief.grant_role(contract, granted, admin.with_account(dev_private_key(2)).address)
        with pytest.raises(AccessControlUnauthorizedAccountError):
            thief.revoke_role(contract, DEFAULT_ADMIN_ROLE, admin.address)
    thief.anchor(1, b"\x05" * 32, [])
    # The admin revokes the stolen key: from the next block on it anchors nothing.
    admin.revoke_role(admin.ledger_anchor, ANCHORER_ROLE, thief.address)
    admin.revoke_role(admin.charity_registry, REGISTRAR_ROLE, thief.address)
    with pytest.raises(AccessControlUnauthorizedAccountError):
        thief.send_anchor(2, b"\x06" * 32, [b"\x05" * 32])
    with pytest.raises(AccessControlUnauthorizedAccountError):
        thief.register_charity("ch_forged", None, b"\x07" * 32)
    assert admin.checkpoint_count() == 1


def test_a_forged_extension_anchored_with_a_stolen_key_stops_anchoring_and_fails_the_audit(
    sqlite_journal: Journal, chain_client: ChainClient
) -> None:
    """The thief anchors a tree that extends the anchored one with leaves the journal does
    not hold (the contract checks consistency, not truth): the operator's worker refuses to
    anchor over it, and an audit of the real journal fails — loudly, not quietly."""
    store = sqlite_journal.store
    sqlite_journal.donate(3)
    worker = AnchorWorker(store, chain_client, NOW)
    anchored = worker.anchor_now()
    assert anchored is not None
    size = store.size()
    forged = MemoryTree.from_leaf_hashes(
        [*(store.leaf_hash(i) for i in range(size)), leaf_hash(b'{"forged":true}')]
    )
    chain_client.anchor(size + 1, forged.root(size + 1), forged.consistency_proof(size, size + 1))
    sqlite_journal.donate(1)
    with pytest.raises(
        JournalDivergedError, match=r"checkpoint 1 on chain .* does not match the journal"
    ):
        AnchorWorker(store, chain_client, NOW).anchor_now()
    assert chain_client.checkpoint_count() == 2
    report = run_audit(
        list(store.leaves()), chain_client, contract=chain_client.ledger_anchor.address
    )
    assert not report.ok


# -- the document ---------------------------------------------------------------------------

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"
CITED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`((?:, `::\w+`)*)")
SIGNATURES = "tests/api/test_signatures.py"
"""ADR 0037's tests, on the branch that builds charity signatures until it is merged."""


def threat_model_lines() -> list[str]:
    text = SECURITY.read_text("utf-8")
    section = text.split("## The threat model", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "`tests/" in line]


def test_every_line_of_the_threat_model_names_tests_that_exist() -> None:
    lines = threat_model_lines()
    assert len(lines) >= 20
    root = SECURITY.parents[1]
    for line in lines:
        cited = CITED.findall(line.rsplit(" | ", 1)[1])
        assert cited, line
        for path, first, more in cited:
            names = [first, *re.findall(r"`::(\w+)`", more)]
            file = root / path
            if path == SIGNATURES and not file.exists():
                assert "ADR 0037" in line, line  # said to hold once charities sign
                continue
            source = file.read_text("utf-8")
            for name in names:
                assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{path}::{name}"
