"""The chain package's settings, from ``CHAIN_*`` environment variables (or ``.env``).

Read once through the cached ``get_settings()``; tests build a ``ChainSettings`` of
their own, or call ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
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
        anchorer_private_key: key that signs anchors and registrations, raw
            (``CHAIN_ANCHORER_PRIVATE_KEY``); development only, production refuses it.
            Unset with no keystore and no signer, the well-known devnet key serves on the
            embedded chain and on chain id 31337 only.
        anchorer_keystore: an encrypted keystore (Web3 Secret Storage, mode 0600) holding
            that key instead (``CHAIN_ANCHORER_KEYSTORE``; ``shanlian keys anchorer
            create`` writes one). Its password: ``anchorer_keystore_password_file`` (a
            0600 file, ``CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE``) or
            ``anchorer_keystore_password`` (``CHAIN_ANCHORER_KEYSTORE_PASSWORD``).
        anchorer_signer_url: an external JSON-RPC signer that holds the key instead
            (``CHAIN_ANCHORER_SIGNER_URL``: web3signer, Clef, a node with an unlocked
            account), signing as ``anchorer_address`` (``CHAIN_ANCHORER_ADDRESS``) with
            ``anchorer_signer_method`` (``eth_signTransaction``, or Clef's
            ``account_signTransaction``).
        max_fee_per_gas: the most a unit of gas may cost (``CHAIN_MAX_FEE_PER_GAS``, wei):
            while the base fee is above it nothing is sent, and anchoring waits. Unset:
            no cap (the node's suggestion, twice the base fee plus the tip).
        max_priority_fee_per_gas: the tip a unit of gas (``CHAIN_MAX_PRIORITY_FEE_PER_GAS``,
            wei); unset: the node's suggestion, at most the cap.
        finality: which block counts as final for checkpoints and reads
            (``CHAIN_FINALITY``): ``finalized`` or ``safe`` — the chain's own tags, or
            ``confirmations`` blocks on top where the node has none — or ``depth``,
            ``confirmations`` blocks always. ``auto`` (the default): ``finalized`` on a
            real chain, ``depth`` on a devnet, whose tags are made up.
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
    anchorer_keystore: Path | None = None
    anchorer_keystore_password_file: Path | None = None
    anchorer_keystore_password: SecretStr | None = None
    anchorer_signer_url: str | None = None
    anchorer_address: str | None = None
    anchorer_signer_method: Literal["eth_signTransaction", "account_signTransaction"] = (
        "eth_signTransaction"
    )
    max_fee_per_gas: Annotated[int, Field(gt=0)] | None = None
    max_priority_fee_per_gas: Annotated[int, Field(ge=0)] | None = None
    finality: Literal["auto", "finalized", "safe", "depth"] = "auto"
    ledger_anchor_address: str | None = None
    charity_registry_address: str | None = None
    poll_interval_s: Annotated[float, Field(gt=0)] | None = None
    receipt_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    request_timeout_s: Annotated[float, Field(gt=0)] = 10.0

    @field_validator(
        "rpc_url",
        "ledger_anchor_address",
        "charity_registry_address",
        "anchorer_signer_url",
        "anchorer_address",
    )
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _one_anchorer_key(self) -> ChainSettings:
        keys = self.by_variable("anchorer_private_key", "anchorer_keystore", "anchorer_signer_url")
        sources = [name for name, value in keys.items() if value is not None]
        if len(sources) > 1:
            raise ValueError(
                f"set one way to sign, not {' and '.join(sources)}: the anchorer has one key"
            )
        if self.anchorer_signer_url and not self.anchorer_address:
            raise ValueError(
                "CHAIN_ANCHORER_SIGNER_URL needs CHAIN_ANCHORER_ADDRESS: the address whose key "
                "the signer holds"
            )
        if (
            self.max_fee_per_gas is not None
            and self.max_priority_fee_per_gas is not None
            and self.max_priority_fee_per_gas > self.max_fee_per_gas
        ):
            raise ValueError(
                f"CHAIN_MAX_PRIORITY_FEE_PER_GAS ({self.max_priority_fee_per_gas}) is above "
                f"CHAIN_MAX_FEE_PER_GAS ({self.max_fee_per_gas})"
            )
        return self

    def by_variable(self, *fields: str) -> dict[str, Any]:
        """The values of ``fields`` by the environment variables that set them
        (``CHAIN_RPC_URL``…), in order: for messages that say what to set."""
        prefix = self.model_config.get("env_prefix", "")
        return {f"{prefix}{field}".upper(): getattr(self, field) for field in fields}

    @property
    def signs_with(self) -> str:
        """How the anchorer signs: ``keystore``, ``signer``, ``private key`` or ``devnet key``."""
        if self.anchorer_keystore is not None:
            return "keystore"
        if self.anchorer_signer_url is not None:
            return "signer"
        if self.anchorer_private_key is not None:
            return "private key"
        return "devnet key"


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
