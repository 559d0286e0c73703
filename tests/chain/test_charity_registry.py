"""CharityRegistry on both chains: registering, revoking, reading, and every revert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chain.client import REGISTRAR_ROLE, ChainClient, encode_charity_id
from chain.devnet import dev_private_key
from chain.errors import (
    AccessControlUnauthorizedAccountError,
    CharityRegistryAlreadyRegisteredError,
    CharityRegistryAlreadyRevokedError,
    CharityRegistryInvalidIdError,
    CharityRegistryUnknownCharityError,
)
from tests.chain.conftest import mined_receipt, send_unchecked

METADATA = bytes.fromhex("5d" * 32)
SIGNER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def registry_events(client: ChainClient, name: str) -> list[Any]:
    event = getattr(client.charity_registry.events, name)()
    return list(event.get_logs(from_block=0, to_block="latest"))


def test_register_records_the_charity_and_emits_charity_registered(client: ChainClient) -> None:
    outcome = client.register_charity("ch_01JDX4", SIGNER, METADATA)

    [event] = registry_events(client, "CharityRegistered")
    assert dict(event["args"]) == {
        "charityId": encode_charity_id("ch_01JDX4"),
        "signer": SIGNER,
        "metadataHash": METADATA,
    }
    assert event["transactionHash"] == outcome.tx_hash
    charity = client.charity("ch_01JDX4")
    assert (charity.signer, charity.metadata_hash, charity.revoked_at) == (SIGNER, METADATA, None)
    assert charity.registered_at == client.w3.eth.get_block(outcome.block_number)["timestamp"]
    assert charity.active
    assert client.is_charity_active("ch_01JDX4")


def test_a_charity_without_a_signer_has_none(client: ChainClient) -> None:
    client.register_charity("ch_nosig", None, METADATA)
    assert client.charity("ch_nosig").signer is None


def test_an_id_is_registered_once(client: ChainClient) -> None:
    client.register_charity("ch_a", SIGNER, METADATA)
    with pytest.raises(CharityRegistryAlreadyRegisteredError) as error:
        client.register_charity("ch_a", None, bytes(32))
    assert error.value.charity_id == encode_charity_id("ch_a")
    assert client.charity("ch_a").signer == SIGNER


def test_the_zero_id_is_refused(client: ChainClient) -> None:
    function = client.charity_registry.functions.registerCharity(bytes(32), SIGNER, METADATA)
    with pytest.raises(CharityRegistryInvalidIdError) as error:
        client.call(function)
    assert error.value.charity_id == bytes(32)


def test_revoke_marks_the_charity_and_emits_charity_revoked(client: ChainClient) -> None:
    client.register_charity("ch_b", SIGNER, METADATA)
    outcome = client.revoke_charity("ch_b")

    [event] = registry_events(client, "CharityRevoked")
    assert dict(event["args"]) == {"charityId": encode_charity_id("ch_b")}
    charity = client.charity("ch_b")
    revoked_at = client.w3.eth.get_block(outcome.block_number)["timestamp"]
    assert charity.revoked_at == revoked_at
    assert not charity.active
    assert not client.is_charity_active("ch_b")
    # The record stays: its signer still checks the entries signed before.
    assert (charity.signer, charity.metadata_hash) == (SIGNER, METADATA)

    with pytest.raises(CharityRegistryAlreadyRevokedError) as error:
        client.revoke_charity("ch_b")
    assert (error.value.charity_id, error.value.revoked_at) == (
        encode_charity_id("ch_b"),
        revoked_at,
    )
    with pytest.raises(CharityRegistryAlreadyRegisteredError):
        client.register_charity("ch_b", SIGNER, METADATA)


def test_unknown_charities_are_refused(client: ChainClient) -> None:
    with pytest.raises(CharityRegistryUnknownCharityError) as error:
        client.charity("ch_nobody")
    assert error.value.charity_id == encode_charity_id("ch_nobody")
    with pytest.raises(CharityRegistryUnknownCharityError):
        client.revoke_charity("ch_nobody")
    assert not client.is_charity_active("ch_nobody")


def test_only_the_registrar_registers_and_revokes(
    client: ChainClient, outsider: ChainClient
) -> None:
    with pytest.raises(AccessControlUnauthorizedAccountError) as error:
        outsider.register_charity("ch_c", SIGNER, METADATA)
    assert (error.value.account, error.value.needed_role) == (outsider.address, REGISTRAR_ROLE)
    client.register_charity("ch_c", SIGNER, METADATA)
    with pytest.raises(AccessControlUnauthorizedAccountError) as error:
        outsider.revoke_charity("ch_c")
    assert error.value.account == outsider.address
    assert client.is_charity_active("ch_c")


def test_an_admin_can_grant_the_registrar_role(client: ChainClient) -> None:
    registrar = client.with_account(dev_private_key(3))
    assert not client.has_role(client.charity_registry, REGISTRAR_ROLE, registrar.address)
    client.grant_role(client.charity_registry, REGISTRAR_ROLE, registrar.address)
    registrar.register_charity("ch_d", None, METADATA)
    assert client.is_charity_active("ch_d")


def test_a_reverted_registration_emits_nothing(
    client: ChainClient, all_logs: Callable[[], list[Any]]
) -> None:
    client.register_charity("ch_e", SIGNER, METADATA)
    before = all_logs()
    function = client.charity_registry.functions.registerCharity(
        encode_charity_id("ch_e"), SIGNER, METADATA
    )
    tx_hash = send_unchecked(client, function)
    receipt = mined_receipt(client, tx_hash)
    assert (receipt["status"], receipt["logs"]) == (0, [])
    assert all_logs() == before
    with pytest.raises(CharityRegistryAlreadyRegisteredError):
        client.wait_for_receipt(tx_hash)


@pytest.mark.parametrize("bad", ["", "x" * 33, "ch_\x00", "慈善" * 6])
def test_charity_ids_must_fit_in_32_bytes(bad: str) -> None:
    with pytest.raises(ValueError, match="1 to 32 UTF-8 bytes"):
        encode_charity_id(bad)


# -- the signer history (ADR 0037) -------------------------------------------------------------

NEW_SIGNER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
ENTRY = bytes.fromhex("7e" * 32)


def test_change_signer_keeps_the_history_in_events_and_the_signer_now_in_storage(
    client: ChainClient,
) -> None:
    client.register_charity("ch_rot", SIGNER, METADATA)
    outcome = client.change_signer("ch_rot", NEW_SIGNER, ENTRY)
    [event] = registry_events(client, "CharitySignerChanged")
    assert dict(event["args"]) == {
        "charityId": encode_charity_id("ch_rot"),
        "previousSigner": SIGNER,
        "signer": NEW_SIGNER,
        "entryHash": ENTRY,
    }
    assert event["transactionHash"] == outcome.tx_hash
    assert client.charity("ch_rot").signer == NEW_SIGNER
    client.change_signer("ch_rot", None, bytes.fromhex("7f" * 32))  # revoked: no signer
    assert client.charity("ch_rot").signer is None
    history = [r for r in client.signer_history() if r.charity_id == "ch_rot"]
    assert [(r.signer, r.entry_hash) for r in history] == [
        (SIGNER.lower(), METADATA),
        (NEW_SIGNER.lower(), ENTRY),
        (None, bytes.fromhex("7f" * 32)),
    ]
    assert [r.block_number for r in history] == sorted(r.block_number for r in history)


def test_only_the_registrar_changes_a_registered_charitys_signer(
    client: ChainClient, outsider: ChainClient
) -> None:
    with pytest.raises(CharityRegistryUnknownCharityError):
        client.change_signer("ch_nobody", NEW_SIGNER, ENTRY)
    client.register_charity("ch_rot2", SIGNER, METADATA)
    with pytest.raises(AccessControlUnauthorizedAccountError) as error:
        outsider.change_signer("ch_rot2", NEW_SIGNER, ENTRY)
    assert (error.value.account, error.value.needed_role) == (outsider.address, REGISTRAR_ROLE)
    assert client.charity("ch_rot2").signer == SIGNER
    assert registry_events(client, "CharitySignerChanged") == []
