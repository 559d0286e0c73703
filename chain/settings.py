"""The chain package's settings, from ``CHAIN_*`` environment variables (or ``.env``).

Read once through the cached ``get_settings()``; tests build a ``ChainSettings`` of
their own, or call ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import functools
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVNET_CHAIN_ID = 31337
"""Chain id of the hardhat-free devnet (anvil's and Hardhat's default)."""


class ChainSettings(BaseSettings):
    """Where the chain is and who signs for the platform.

    Attributes:
        rpc_url: JSON-RPC endpoint of an EVM node (``CHAIN_RPC_URL``); unset, the embedded
            in-process chain serves, empty at every start.
        chain_id: the chain id the node must report (``CHAIN_ID``); checked on connect.
            Ignored by the embedded chain, which has its own.
        confirmations: blocks, counting the one that holds a transaction, before it is
            final (``CHAIN_CONFIRMATIONS``); 1 means "mined". The embedded chain mines
            only when a transaction arrives, so it always uses 1.
        anchorer_private_key: key that signs anchors and registrations
            (``CHAIN_ANCHORER_PRIVATE_KEY``). Unset, the well-known devnet key serves on
            the embedded chain and on chain id 31337 only.
        ledger_anchor_address: the deployed LedgerAnchor (``CHAIN_LEDGER_ANCHOR_ADDRESS``).
        charity_registry_address: the deployed CharityRegistry
            (``CHAIN_CHARITY_REGISTRY_ADDRESS``).
        poll_interval_s: seconds between receipt polls (``CHAIN_POLL_INTERVAL_S``); unset,
            10 ms for the embedded chain and loopback nodes, 1 s otherwise.
        receipt_timeout_s: how long to wait for a transaction to be mined.
        request_timeout_s: HTTP timeout of one JSON-RPC request.
    """

    model_config = SettingsConfigDict(
        env_prefix="CHAIN_", env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    rpc_url: str | None = None
    chain_id: Annotated[int, Field(gt=0, validation_alias=AliasChoices("CHAIN_ID", "chain_id"))] = (
        DEVNET_CHAIN_ID
    )
    confirmations: Annotated[int, Field(ge=1)] = 1
    anchorer_private_key: SecretStr | None = None
    ledger_anchor_address: str | None = None
    charity_registry_address: str | None = None
    poll_interval_s: Annotated[float, Field(gt=0)] | None = None
    receipt_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    request_timeout_s: Annotated[float, Field(gt=0)] = 10.0

    @field_validator("rpc_url", "ledger_anchor_address", "charity_registry_address")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None


def redact_url(url: str) -> str:
    """``scheme://host[:port]`` of a URL, for messages and logs: node URLs often carry an
    API key in their path, query or user part."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "(a JSON-RPC endpoint)"
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    return f"{parts.scheme}://{host}"


@functools.cache
def get_settings() -> ChainSettings:
    """The process's chain settings, read from the environment once."""
    return ChainSettings()
