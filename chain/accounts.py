"""Addresses and signing keys: the only place outside web3 that knows their shapes.

Callers outside ``chain`` never import ``eth_account`` or ``eth_utils``: they check and
checksum addresses and derive an address from a key here.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import is_address as _is_address
from eth_utils.address import to_checksum_address

from chain.devnet import DEV_ACCOUNTS, dev_private_key
from chain.errors import ChainConfigError
from chain.settings import DEVNET_CHAIN_ID

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def is_address(value: object) -> bool:
    """Whether ``value`` is an address: 0x and 40 hex digits (a mixed-case one checksummed)."""
    return isinstance(value, str) and bool(_is_address(value))


def checksum_address(value: str) -> ChecksumAddress:
    """``value`` as an EIP-55 checksummed address.

    Raises:
        ValueError: ``value`` is not an address.
    """
    return to_checksum_address(value)


def address_of_key(private_key: str | bytes) -> str:
    """The checksummed address a private key signs as.

    Raises:
        ValueError: not a private key (64 hex digits, or 32 bytes).
    """
    return str(Account.from_key(private_key).address)


def signing_account(private_key: str | bytes | None, *, devnet: bool) -> LocalAccount:
    """The account for ``private_key``; the development key only on a devnet.

    Args:
        private_key: the key; None takes development account 0 (a devnet only).
        devnet: whether the chain is a devnet, where the public development keys may sign.

    Raises:
        ChainConfigError: no key off a devnet, a malformed key, or a public development
            key off a devnet.
    """
    dev_key = dev_private_key(0)
    if private_key is None:
        if not devnet:
            raise ChainConfigError(
                "set CHAIN_ANCHORER_PRIVATE_KEY: without it only a devnet (chain id "
                f"{DEVNET_CHAIN_ID}) or the embedded chain can be used"
            )
        private_key = dev_key
    try:
        account: LocalAccount = Account.from_key(private_key)
    except (ValueError, TypeError) as exc:
        raise ChainConfigError(
            "CHAIN_ANCHORER_PRIVATE_KEY is not a valid private key (64 hex digits)"
        ) from exc
    if not devnet and is_development_key(bytes(account.key)):
        raise ChainConfigError(
            "CHAIN_ANCHORER_PRIVATE_KEY is one of the public development keys: "
            "anyone could sign with it; use a key of your own on this chain"
        )
    return account


def is_development_key(key: bytes) -> bool:
    """Whether ``key`` is one of the devnet's public development keys."""
    return any(key == dev_private_key(i) for i in range(DEV_ACCOUNTS))
