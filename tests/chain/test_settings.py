"""CHAIN_* settings: read from the environment once, validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chain.settings import DEVNET_CHAIN_ID, ChainSettings, get_settings


def test_defaults_are_the_embedded_chain_and_the_devnet_id() -> None:
    settings = ChainSettings(_env_file=None)
    assert settings.rpc_url is None
    assert settings.chain_id == DEVNET_CHAIN_ID == 31337
    assert settings.confirmations == 1
    assert settings.anchorer_private_key is None


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAIN_RPC_URL", "http://127.0.0.1:9545")
    monkeypatch.setenv("CHAIN_ID", "8453")
    monkeypatch.setenv("CHAIN_CONFIRMATIONS", "12")
    monkeypatch.setenv("CHAIN_ANCHORER_PRIVATE_KEY", "0x" + "11" * 32)
    monkeypatch.setenv("CHAIN_LEDGER_ANCHOR_ADDRESS", "")
    settings = ChainSettings(_env_file=None)
    assert (settings.rpc_url, settings.chain_id, settings.confirmations) == (
        "http://127.0.0.1:9545",
        8453,
        12,
    )
    assert settings.ledger_anchor_address is None  # empty means unset
    assert settings.anchorer_private_key is not None
    assert "11" * 32 not in repr(settings)  # the key never shows in logs


@pytest.mark.parametrize(
    ("name", "value"), [("CHAIN_CONFIRMATIONS", "0"), ("CHAIN_ID", "0"), ("CHAIN_ID", "x")]
)
def test_nonsense_is_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        ChainSettings(_env_file=None)


def test_get_settings_reads_once_until_the_cache_is_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    get_settings.cache_clear()
    try:
        monkeypatch.setenv("CHAIN_ID", "10")
        assert get_settings().chain_id == 10
        monkeypatch.setenv("CHAIN_ID", "11")
        assert get_settings().chain_id == 10
        get_settings.cache_clear()
        assert get_settings().chain_id == 11
    finally:
        get_settings.cache_clear()
