"""``ChainClient``: a ``ChainReader`` with a signing account — deploy, anchor, register.

One ``ChainClient`` talks to one chain — a JSON-RPC node (``ChainClient.connect``) or the
embedded in-process chain (``ChainClient.embedded``); ``ChainClient.from_settings`` picks
by ``CHAIN_RPC_URL``. This module builds clients and deploys the contracts; the rest is in
the client's bases: the reads are ``ChainReader``'s, signing and sending is
``chain.transactions.TransactionSender``'s, and each contract's writes are in its module
(``chain.ledger_anchor.LedgerAnchorWrites``, ``chain.charity_registry.CharityRegistryWrites``).
Every revert comes back as a typed ``chain.errors`` exception.

Bytes inside: hashes are ``bytes`` of 32, addresses checksummed strings.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from chain.accounts import is_development_key, signing_account
from chain.charity_registry import (
    REGISTRAR_ROLE,
    Charity,
    CharityRegistryWrites,
    decode_charity_id,
    encode_charity_id,
)
from chain.embedded import EmbeddedChain
from chain.errors import ChainConfigError
from chain.keystore import load_keystore, settings_password
from chain.ledger_anchor import (
    ANCHORER_ROLE,
    AnchorOutcome,
    Checkpoint,
    CheckpointEvent,
    LedgerAnchorWrites,
)
from chain.node import TxOutcome, http_web3, is_loopback
from chain.reader import ChainReader
from chain.remote_signer import RemoteSigner
from chain.settings import DEVNET_CHAIN_ID, ChainSettings, get_settings
from chain.transactions import FeeQuote, TransactionSigner

# The names callers have always imported from here; each is defined in its own module.
__all__ = [
    "ANCHORER_ROLE",
    "DEFAULT_ADMIN_ROLE",
    "REGISTRAR_ROLE",
    "AnchorOutcome",
    "ChainClient",
    "Charity",
    "Checkpoint",
    "CheckpointEvent",
    "Deployment",
    "FeeQuote",
    "TransactionSigner",
    "TxOutcome",
    "anchorer_signer",
    "decode_charity_id",
    "encode_charity_id",
]

DEFAULT_ADMIN_ROLE = bytes(32)
CLIENT_HINT = "is it running, and is CHAIN_RPC_URL right? ('shanlian devnet' starts a local one)"


def anchorer_signer(settings: ChainSettings) -> TransactionSigner | None:
    """The anchorer's signer the settings name: a keystore, an external signer, a raw key;
    None for the devnet's key.

    Raises:
        KeystoreError: the keystore or its password cannot be used.
        SignerError: the external signer's settings are wrong.
        ChainConfigError: a malformed raw key.
    """
    if settings.anchorer_keystore is not None:
        return load_keystore(settings.anchorer_keystore, settings_password(settings))
    if settings.anchorer_signer_url is not None:
        assert settings.anchorer_address is not None  # the settings require it
        return RemoteSigner(
            settings.anchorer_signer_url,
            settings.anchorer_address,
            method=settings.anchorer_signer_method,
            request_timeout_s=max(30.0, settings.request_timeout_s),
        )
    if settings.anchorer_private_key is not None:
        return signing_account(settings.anchorer_private_key.get_secret_value(), devnet=True)
    return None


def _checked_signer(signer: TransactionSigner, *, devnet: bool) -> TransactionSigner:
    if isinstance(signer, LocalAccount) and not devnet and is_development_key(bytes(signer.key)):
        raise ChainConfigError(
            "the anchorer's key is one of the public development keys: anyone could sign "
            "with it; use a key of your own on this chain"
        )
    return signer


@dataclass(frozen=True)
class Deployment:
    """Where the contracts were deployed.

    Attributes:
        chain_id: the chain.
        ledger_anchor: the LedgerAnchor's address.
        charity_registry: the CharityRegistry's address.
        block_number: the block of the last deployment transaction.
    """

    chain_id: int
    ledger_anchor: str
    charity_registry: str
    block_number: int


class ChainClient(ChainReader, LedgerAnchorWrites, CharityRegistryWrites):
    """A connection to one chain, a signing account, and the two contracts on it.

    Build one with ``connect``, ``embedded`` or ``from_settings``. Contract addresses come
    from the settings, ``deploy()`` or ``attach()``.
    """

    # -- construction -------------------------------------------------------------------

    @classmethod
    def connect(  # type: ignore[override]  # a client needs a key and a chain id
        cls,
        rpc_url: str,
        *,
        chain_id: int = DEVNET_CHAIN_ID,
        private_key: str | bytes | None = None,
        signer: TransactionSigner | None = None,
        confirmations: int = 1,
        poll_interval_s: float | None = None,
        receipt_timeout_s: float = 120.0,
        request_timeout_s: float = 10.0,
    ) -> ChainClient:
        """Connect to a JSON-RPC node and check that it serves ``chain_id``.

        Args:
            rpc_url: the node's HTTP(S) URL.
            chain_id: the chain id the node must report.
            private_key: the signing key; None takes development account 0, which only a
                devnet (chain id 31337) accepts.
            signer: signs instead of ``private_key`` (a keystore's account, an external
                signer).
            confirmations: blocks, counting the transaction's own, before it is final.
            poll_interval_s: seconds between polls; None is 10 ms on a loopback node, 1 s
                elsewhere.
            receipt_timeout_s: how long to wait for a transaction to be mined.
            request_timeout_s: HTTP timeout of one request.

        Raises:
            ChainUnavailableError: the node does not answer.
            ChainIdMismatchError: the node serves another chain.
            ChainConfigError: no key for a chain that is not a devnet, or the public
                development key for one.
        """
        w3, _ = http_web3(
            rpc_url, chain_id=chain_id, request_timeout_s=request_timeout_s, hint=CLIENT_HINT
        )
        devnet = chain_id == DEVNET_CHAIN_ID
        account = (
            signing_account(private_key, devnet=devnet)
            if signer is None
            else _checked_signer(signer, devnet=devnet)
        )
        if poll_interval_s is None:
            poll_interval_s = 0.01 if is_loopback(rpc_url) else 1.0
        return cls(
            w3,
            account,
            chain_id=chain_id,
            rpc_url=rpc_url,
            confirmations=confirmations,
            poll_interval_s=poll_interval_s,
            receipt_timeout_s=receipt_timeout_s,
        )

    @classmethod
    def embedded(  # type: ignore[override]  # a client may start its own chain
        cls,
        *,
        chain: EmbeddedChain | None = None,
        private_key: str | bytes | None = None,
        signer: TransactionSigner | None = None,
        receipt_timeout_s: float = 10.0,
    ) -> ChainClient:
        """Start (or join) an embedded in-process chain.

        Args:
            chain: an embedded chain to share; None starts a new, empty one.
            private_key: the signing key; None takes development account 0.
            signer: signs instead of ``private_key``.
            receipt_timeout_s: how long to wait for a receipt (it is mined at once).
        """
        chain = chain or EmbeddedChain()
        return cls(
            chain.web3(),
            signing_account(private_key, devnet=True) if signer is None else signer,
            chain_id=chain.chain_id,
            rpc_url=None,
            embedded=chain,
            confirmations=1,
            poll_interval_s=0.005,
            receipt_timeout_s=receipt_timeout_s,
        )

    @classmethod
    def from_settings(cls, settings: ChainSettings | None = None) -> ChainClient:
        """The client the settings describe: ``CHAIN_RPC_URL``'s node, else the embedded chain.

        Contract addresses in the settings are attached (and their code checked).

        Raises:
            ChainError: see ``connect`` and ``attach``.
        """
        settings = settings or get_settings()
        signer = anchorer_signer(settings)
        if settings.rpc_url:
            client = cls.connect(
                settings.rpc_url,
                chain_id=settings.chain_id,
                signer=signer,
                confirmations=settings.confirmations,
                poll_interval_s=settings.poll_interval_s,
                receipt_timeout_s=settings.receipt_timeout_s,
                request_timeout_s=settings.request_timeout_s,
            )
        else:
            if settings.ledger_anchor_address or settings.charity_registry_address:
                raise ChainConfigError(
                    "contract addresses are set but CHAIN_RPC_URL is not: the embedded chain "
                    "starts empty, so there is nothing at those addresses; set CHAIN_RPC_URL "
                    "or unset CHAIN_LEDGER_ANCHOR_ADDRESS / CHAIN_CHARITY_REGISTRY_ADDRESS"
                )
            client = cls.embedded(signer=signer)
        client.max_fee_per_gas = settings.max_fee_per_gas
        client.max_priority_fee_per_gas = settings.max_priority_fee_per_gas
        client.finality = settings.finality
        if settings.ledger_anchor_address or settings.charity_registry_address:
            client.attach(
                ledger_anchor=settings.ledger_anchor_address,
                charity_registry=settings.charity_registry_address,
            )
        return client

    def with_account(self, private_key: str | bytes) -> ChainClient:
        """The same chain, contracts and settings, signing with another key.

        The public development keys are accepted only where ``connect`` accepts them.
        """
        other = copy.copy(self)
        other.account = signing_account(private_key, devnet=self.is_devnet)
        return other

    # -- deployment ---------------------------------------------------------------------

    def deploy(
        self,
        *,
        admin: str | None = None,
        anchorer: str | None = None,
        registrar: str | None = None,
    ) -> Deployment:
        """Deploy LedgerAnchor and CharityRegistry, and use them from now on.

        Args:
            admin: gets ``DEFAULT_ADMIN_ROLE`` on both; the signing account by default.
            anchorer: gets ``ANCHORER_ROLE``; the signing account by default.
            registrar: gets ``REGISTRAR_ROLE``; the signing account by default.
        """
        admin = admin or self.address
        anchor_address, anchor_outcome = self.deploy_contract(
            self._anchor_artifact, admin, anchorer or self.address
        )
        registry_address, outcome = self.deploy_contract(
            self._registry_artifact, admin, registrar or self.address
        )
        self.attach(
            ledger_anchor=anchor_address,
            charity_registry=registry_address,
            ledger_anchor_block=anchor_outcome.block_number,
        )
        return Deployment(
            chain_id=self.chain_id,
            ledger_anchor=anchor_address,
            charity_registry=registry_address,
            block_number=outcome.block_number,
        )
