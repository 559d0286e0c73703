"""The chain client: deploy, anchor, read checkpoints, verify inclusion, manage charities.

One ``ChainClient`` talks to one chain — a JSON-RPC node (``ChainClient.connect``) or the
embedded in-process chain (``ChainClient.embedded``); ``ChainClient.from_settings`` picks
by ``CHAIN_RPC_URL``. Transactions are signed here with a local key and sent raw, so any
node works. Every revert comes back as a typed ``chain.errors`` exception, decoded from
the revert data with the contracts' ABIs.

Bytes inside: hashes are ``bytes`` of 32, addresses checksummed strings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlparse

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils.address import is_address, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    BlockNotFound,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import BlockIdentifier, FilterParams, LogReceipt, TxParams, TxReceipt

from chain.artifacts import CHARITY_REGISTRY, LEDGER_ANCHOR, Artifact, load_artifact
from chain.devnet import DEV_ACCOUNTS, dev_private_key
from chain.embedded import EmbeddedChain
from chain.errors import (
    ChainConfigError,
    ChainError,
    ChainIdMismatchError,
    ChainUnavailableError,
    CheckpointLogError,
    ContractNotDeployedError,
    ContractRevertError,
    LedgerAnchorNoCheckpointError,
    LedgerAnchorUnknownRootError,
    ReceiptTimeoutError,
    RevertDecoder,
    TransactionError,
    UnknownCheckpointError,
    UnknownRevertError,
)
from chain.settings import DEVNET_CHAIN_ID, ChainSettings, get_settings, redact_url

HASH_SIZE = 32
UINT64_MAX = 2**64 - 1
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
GAS_MARGIN = 1.2
"""Gas limit = estimate × this: the estimate is exact for our calls; the margin is slack."""

ANCHORER_ROLE = Web3.keccak(text="ANCHORER_ROLE")
REGISTRAR_ROLE = Web3.keccak(text="REGISTRAR_ROLE")
DEFAULT_ADMIN_ROLE = bytes(32)


@dataclass(frozen=True)
class Checkpoint:
    """An anchored checkpoint, as ``latestCheckpoint`` and ``checkpointOf`` give it.

    Attributes:
        index: its position among the checkpoints, from 0.
        tree_size: entries in the log.
        root_hash: the log's RFC 6962 root at ``tree_size``.
        anchored_at: timestamp (Unix seconds) of the block that anchored it.
    """

    index: int
    tree_size: int
    root_hash: bytes
    anchored_at: int


@dataclass(frozen=True)
class TxOutcome:
    """A mined, successful transaction.

    Attributes:
        tx_hash: the transaction hash.
        block_number: the block that holds it.
        block_hash: that block's hash.
        gas_used: gas it used.
    """

    tx_hash: bytes
    block_number: int
    block_hash: bytes
    gas_used: int


@dataclass(frozen=True)
class AnchorOutcome(TxOutcome):
    """A mined anchor: the transaction and the checkpoint it anchored.

    Attributes:
        checkpoint_index: the index ``CheckpointAnchored`` gave the checkpoint.
        tree_size: its tree size.
        root_hash: its root hash.
    """

    checkpoint_index: int
    tree_size: int
    root_hash: bytes


@dataclass(frozen=True)
class CheckpointEvent:
    """A ``CheckpointAnchored`` log.

    Attributes:
        index: the checkpoint's index.
        tree_size: its tree size.
        root_hash: its root hash.
        tx_hash: the anchoring transaction.
        block_number: the block that holds it.
        block_hash: that block's hash.
        log_index: the log's position in the block.
    """

    index: int
    tree_size: int
    root_hash: bytes
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    log_index: int


@dataclass(frozen=True)
class Charity:
    """A charity in the on-chain registry.

    Attributes:
        charity_id: the journal's id, e.g. ``ch_…``.
        signer: the address that signs its entries, or None.
        metadata_hash: the hash registered with it.
        registered_at: block timestamp of the registration.
        revoked_at: block timestamp of the revocation, or None while active.
    """

    charity_id: str
    signer: str | None
    metadata_hash: bytes
    registered_at: int
    revoked_at: int | None

    @property
    def active(self) -> bool:
        """Registered and not revoked."""
        return self.revoked_at is None


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


def encode_charity_id(charity_id: str) -> bytes:
    """The ``bytes32`` a charity id is registered under: its UTF-8, right-padded with zeros.

    Reversible by ``decode_charity_id``, so the chain shows the journal's own ids.

    Raises:
        ValueError: the id is empty, longer than 32 bytes in UTF-8, or holds a NUL.
    """
    raw = charity_id.encode("utf-8")
    if not raw or len(raw) > HASH_SIZE or b"\x00" in raw:
        raise ValueError(f"charity id {charity_id!r} must be 1 to 32 UTF-8 bytes, without NUL")
    return raw.ljust(HASH_SIZE, b"\x00")


def decode_charity_id(key: bytes) -> str:
    """The charity id that ``encode_charity_id`` turned into ``key``."""
    return key.rstrip(b"\x00").decode("utf-8")


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be {HASH_SIZE} bytes")


def _is_loopback(rpc_url: str) -> bool:
    host = urlparse(rpc_url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _revert_bytes(data: Any) -> bytes:
    if isinstance(data, dict):  # some nodes nest it: {"data": "0x…"}
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return b""


class ChainClient:
    """A connection to one chain, a signing account, and the two contracts on it.

    Build one with ``connect``, ``embedded`` or ``from_settings``. Contract addresses come
    from the settings, ``deploy()`` or ``attach()``.
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        chain_id: int,
        rpc_url: str | None,
        embedded: EmbeddedChain | None = None,
        confirmations: int = 1,
        poll_interval_s: float = 0.01,
        receipt_timeout_s: float = 120.0,
    ) -> None:
        """Wrap an already connected ``Web3``; prefer the ``connect``/``embedded`` factories.

        Args:
            w3: the connection.
            account: signs every transaction.
            chain_id: the chain's id, as checked on connect.
            rpc_url: the node's URL; None for the embedded chain.
            embedded: the embedded chain, kept alive as long as the client.
            confirmations: blocks, counting the transaction's own, before it is final.
            poll_interval_s: seconds between polls for receipts and blocks.
            receipt_timeout_s: how long to wait for a transaction to be mined.
        """
        self.w3 = w3
        self.account = account
        self.chain_id = chain_id
        self.rpc_url = rpc_url
        self.embedded_chain = embedded
        self.confirmations = confirmations
        self.poll_interval_s = poll_interval_s
        self.receipt_timeout_s = receipt_timeout_s
        self._anchor_artifact = load_artifact(LEDGER_ANCHOR)
        self._registry_artifact = load_artifact(CHARITY_REGISTRY)
        self.decoder = RevertDecoder([self._anchor_artifact.abi, self._registry_artifact.abi])
        self._ledger_anchor: Contract | None = None
        self._charity_registry: Contract | None = None
        self._ledger_anchor_block = 0

    # -- construction -------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        rpc_url: str,
        *,
        chain_id: int = DEVNET_CHAIN_ID,
        private_key: str | bytes | None = None,
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
        provider = Web3.HTTPProvider(
            rpc_url,
            request_kwargs={"timeout": request_timeout_s},
            # Fail fast: the anchor worker has its own back-off while a node is down.
            exception_retry_configuration=None,
        )
        w3 = Web3(provider)
        try:
            actual = w3.eth.chain_id
        except (OSError, Web3Exception) as exc:  # requests' errors are OSErrors
            raise ChainUnavailableError(
                f"cannot reach the node at {redact_url(rpc_url)} ({exc.__class__.__name__}): is it "
                f"running, and is CHAIN_RPC_URL right? ('shanlian devnet' starts a local one)"
            ) from exc
        if actual != chain_id:
            raise ChainIdMismatchError(expected=chain_id, actual=actual, rpc_url=rpc_url)
        account = _signing_account(private_key, devnet=chain_id == DEVNET_CHAIN_ID)
        if poll_interval_s is None:
            poll_interval_s = 0.01 if _is_loopback(rpc_url) else 1.0
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
    def embedded(
        cls,
        *,
        chain: EmbeddedChain | None = None,
        private_key: str | bytes | None = None,
        receipt_timeout_s: float = 10.0,
    ) -> ChainClient:
        """Start (or join) an embedded in-process chain.

        Args:
            chain: an embedded chain to share; None starts a new, empty one.
            private_key: the signing key; None takes development account 0.
            receipt_timeout_s: how long to wait for a receipt (it is mined at once).
        """
        chain = chain or EmbeddedChain()
        return cls(
            chain.web3(),
            _signing_account(private_key, devnet=True),
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
        key = (
            settings.anchorer_private_key.get_secret_value()
            if settings.anchorer_private_key
            else None
        )
        if settings.rpc_url:
            client = cls.connect(
                settings.rpc_url,
                chain_id=settings.chain_id,
                private_key=key,
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
            client = cls.embedded(private_key=key)
        if settings.ledger_anchor_address or settings.charity_registry_address:
            client.attach(
                ledger_anchor=settings.ledger_anchor_address,
                charity_registry=settings.charity_registry_address,
            )
        return client

    def with_account(self, private_key: str | bytes) -> ChainClient:
        """The same chain and contracts, signing with another key.

        The public development keys are accepted only where ``connect`` accepts them.
        """
        other = ChainClient(
            self.w3,
            _signing_account(private_key, devnet=self.is_devnet),
            chain_id=self.chain_id,
            rpc_url=self.rpc_url,
            embedded=self.embedded_chain,
            confirmations=self.confirmations,
            poll_interval_s=self.poll_interval_s,
            receipt_timeout_s=self.receipt_timeout_s,
        )
        other._ledger_anchor = self._ledger_anchor
        other._charity_registry = self._charity_registry
        other._ledger_anchor_block = self._ledger_anchor_block
        return other

    @property
    def is_embedded(self) -> bool:
        """Whether this is the in-process chain (empty at every start)."""
        return self.embedded_chain is not None

    @property
    def is_deployed(self) -> bool:
        """Whether both contracts are known (deployed or attached)."""
        return self._ledger_anchor is not None and self._charity_registry is not None

    @property
    def is_devnet(self) -> bool:
        """The embedded chain or a chain with the devnet's id: development keys allowed."""
        return self.is_embedded or self.chain_id == DEVNET_CHAIN_ID

    @property
    def address(self) -> str:
        """The signing account's address."""
        return str(self.account.address)

    # -- errors and transactions --------------------------------------------------------

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Translate web3's and the transport's exceptions into ``chain.errors``."""
        try:
            yield
        except ContractLogicError as exc:
            raise self.decoder.decode(_revert_bytes(exc.data)) from exc
        except OSError as exc:  # requests' connection errors and timeouts are OSErrors
            raise ChainUnavailableError(
                f"{what}: the node at {redact_url(self.rpc_url or '')} does not answer "
                f"({exc.__class__.__name__})"
            ) from exc
        except Web3RPCError as exc:
            raise ChainError(f"{what}: the node refused: {exc}") from exc

    def _send(self, function: ContractFunction, what: str) -> bytes:
        """Estimate, sign and send ``function`` as a transaction; return its hash.

        A call that would revert raises its typed error here, before anything is sent.
        """
        with self._calling(what):
            params: TxParams = {
                "from": self.account.address,
                "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
                "chainId": self.chain_id,
            }
            gas = function.estimate_gas(params)
            params["gas"] = int(gas * GAS_MARGIN) + 10_000
            tx = function.build_transaction(params)
            signed = self.account.sign_transaction(cast(dict[str, Any], tx))
            return bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))

    def wait_for_receipt(self, tx_hash: bytes, *, confirmations: int | None = None) -> TxReceipt:
        """Wait until ``tx_hash`` is mined and final, and check that it succeeded.

        Args:
            tx_hash: the transaction.
            confirmations: blocks, counting its own, to wait for; the client's by default.

        Returns:
            The receipt, from the canonical chain.

        Raises:
            ReceiptTimeoutError: not mined (or not final) within the receipt timeout.
            ContractRevertError: it reverted (the error is decoded by replaying it).
            TransactionError: it failed without revert data (out of gas, say).
        """
        needed = self.confirmations if confirmations is None else confirmations
        deadline = time.monotonic() + self.receipt_timeout_s
        while True:
            with self._calling("waiting for a receipt"):
                try:
                    receipt = self.w3.eth.wait_for_transaction_receipt(
                        Hash32(tx_hash),
                        timeout=max(0.0, deadline - time.monotonic()),
                        poll_latency=self.poll_interval_s,
                    )
                except TimeExhausted as exc:
                    raise ReceiptTimeoutError(
                        f"transaction 0x{tx_hash.hex()} was not mined within "
                        f"{self.receipt_timeout_s} s; it may still be",
                        tx_hash,
                    ) from exc
                if receipt["status"] != 1:
                    raise self._failure(tx_hash, receipt)
                if self.confirmations_of(tx_hash) >= needed:
                    return receipt
            if time.monotonic() > deadline:
                raise ReceiptTimeoutError(
                    f"transaction 0x{tx_hash.hex()} has not reached {needed} confirmations "
                    f"within {self.receipt_timeout_s} s",
                    tx_hash,
                )
            time.sleep(self.poll_interval_s)

    def _failure(self, tx_hash: bytes, receipt: TxReceipt) -> ChainError:
        """Why a mined transaction failed: replay it on the state before its block."""
        tx = self.w3.eth.get_transaction(Hash32(tx_hash))
        call: TxParams = {"from": tx["from"], "to": tx["to"], "data": tx["input"]}
        if "value" in tx:
            call["value"] = tx["value"]
        try:
            with self._calling("replaying a failed transaction"):
                self.w3.eth.call(call, block_identifier=receipt["blockNumber"] - 1)
        except ContractRevertError as error:
            if not isinstance(error, UnknownRevertError) or error.data:
                return error
        return TransactionError(
            f"transaction 0x{tx_hash.hex()} failed in block {receipt['blockNumber']} "
            f"(gas used {receipt['gasUsed']} of {tx['gas']}) without revert data",
            tx_hash,
        )

    def confirmations_of(self, tx_hash: bytes) -> int:
        """Blocks, counting its own, on top of which ``tx_hash`` sits in the canonical chain.

        0 when it is not (or no longer) in the canonical chain: pending, dropped, or
        removed by a reorg — the anchor worker sends it again then.
        """
        with self._calling("reading a receipt"):
            try:
                receipt = self.w3.eth.get_transaction_receipt(Hash32(tx_hash))
            except TransactionNotFound:
                return 0
            if receipt is None:
                return 0
            block = self.w3.eth.get_block(receipt["blockNumber"])
            if block["hash"] != receipt["blockHash"]:
                return 0
            return int(self.w3.eth.block_number) - int(receipt["blockNumber"]) + 1

    def _outcome(self, receipt: TxReceipt) -> TxOutcome:
        return TxOutcome(
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            block_hash=bytes(receipt["blockHash"]),
            gas_used=int(receipt["gasUsed"]),
        )

    def call(self, function: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """``eth_call`` any contract function; a revert raises its typed error."""
        with self._calling(f"calling {function.fn_name}"):
            return function.call({"from": self.account.address}, block_identifier=block)

    def block_timestamp(self, number: int) -> int:
        """The timestamp (Unix seconds) of block ``number``."""
        with self._calling(f"reading block {number}"):
            return int(self.w3.eth.get_block(number)["timestamp"])

    def block_hash(self, number: int) -> bytes | None:
        """The hash of block ``number``, or None when the chain has no such block (yet)."""
        with self._calling(f"reading block {number}"):
            try:
                return bytes(self.w3.eth.get_block(number)["hash"])
            except BlockNotFound:
                return None

    def pending_transactions(self) -> int:
        """How many transactions of the signing account the node holds unmined."""
        with self._calling("reading the account's nonces"):
            address = self.account.address
            pending = self.w3.eth.get_transaction_count(address, "pending")
            mined = self.w3.eth.get_transaction_count(address, "latest")
        return int(pending) - int(mined)

    def block_number(self) -> int:
        """The number of the latest block."""
        with self._calling("reading the block number"):
            return int(self.w3.eth.block_number)

    def get_logs(self, filter_params: FilterParams) -> list[LogReceipt]:
        """Raw ``eth_getLogs``."""
        with self._calling("reading logs"):
            return list(self.w3.eth.get_logs(filter_params))

    # -- deployment ---------------------------------------------------------------------

    def deploy_contract(self, artifact: Artifact, *args: Any) -> tuple[str, TxOutcome]:
        """Deploy any compiled contract with constructor ``args``; return its address.

        Raises:
            ContractRevertError: the constructor reverted.
        """
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        with self._calling(f"deploying {artifact.name}"):
            params: TxParams = {
                "from": self.account.address,
                "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
                "chainId": self.chain_id,
            }
            constructor = factory.constructor(*args)
            params["gas"] = int(constructor.estimate_gas(params) * GAS_MARGIN) + 10_000
            tx = constructor.build_transaction(params)
            signed = self.account.sign_transaction(cast(dict[str, Any], tx))
            tx_hash = bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))
        receipt = self.wait_for_receipt(tx_hash)
        address = receipt["contractAddress"]
        if address is None:
            raise TransactionError(f"deploying {artifact.name} created no contract", tx_hash)
        return to_checksum_address(address), self._outcome(receipt)

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

    def attach(
        self,
        *,
        ledger_anchor: str | None = None,
        charity_registry: str | None = None,
        check_code: bool = True,
        ledger_anchor_block: int = 0,
    ) -> None:
        """Use already deployed contracts.

        Args:
            ledger_anchor: the LedgerAnchor's address, if it changes.
            charity_registry: the CharityRegistry's address, if it changes.
            check_code: check that the code at each address is this build's.
            ledger_anchor_block: the block the LedgerAnchor was deployed in, where
                ``checkpoint_events`` starts looking (0 if unknown).

        Raises:
            ContractNotDeployedError: no code, or other code, at an address.
        """
        if ledger_anchor is not None:
            self._ledger_anchor = self._contract(self._anchor_artifact, ledger_anchor, check_code)
            self._ledger_anchor_block = ledger_anchor_block
        if charity_registry is not None:
            self._charity_registry = self._contract(
                self._registry_artifact, charity_registry, check_code
            )

    def _contract(self, artifact: Artifact, address: str, check_code: bool) -> Contract:
        if not is_address(address):
            raise ContractNotDeployedError(artifact.name, address, "not an address")
        address = to_checksum_address(address)
        if check_code:
            with self._calling(f"reading the code of {artifact.name}"):
                code = bytes(self.w3.eth.get_code(address))
            if not code:
                raise ContractNotDeployedError(
                    artifact.name,
                    address,
                    f"no contract there on chain {self.chain_id}: deploy first "
                    f"('shanlian deploy'), or fix the address",
                )
            if code != artifact.deployed_bytecode:
                raise ContractNotDeployedError(
                    artifact.name,
                    address,
                    "the code there is not this build's (contracts/build); "
                    "was it deployed from another version?",
                )
        return self.w3.eth.contract(address=address, abi=artifact.abi)

    @property
    def ledger_anchor(self) -> Contract:
        """The LedgerAnchor contract in use.

        Raises:
            ChainConfigError: none deployed or attached yet.
        """
        if self._ledger_anchor is None:
            raise ChainConfigError(
                "no LedgerAnchor: deploy one, or set CHAIN_LEDGER_ANCHOR_ADDRESS"
            )
        return self._ledger_anchor

    @property
    def charity_registry(self) -> Contract:
        """The CharityRegistry contract in use.

        Raises:
            ChainConfigError: none deployed or attached yet.
        """
        if self._charity_registry is None:
            raise ChainConfigError(
                "no CharityRegistry: deploy one, or set CHAIN_CHARITY_REGISTRY_ADDRESS"
            )
        return self._charity_registry

    # -- LedgerAnchor -------------------------------------------------------------------

    def send_anchor(
        self, tree_size: int, root_hash: bytes, consistency_proof: Sequence[bytes]
    ) -> bytes:
        """Send ``anchor(tree_size, root_hash, consistency_proof)``; return the tx hash.

        Does not wait: record the hash, then ``anchor_outcome(tx_hash)``. Checked against
        the chain's current state first (``eth_estimateGas``), so a checkpoint the contract
        would refuse raises here and nothing is sent.

        Args:
            tree_size: entries in the log (1 to 2**64 - 1).
            root_hash: the log's root at ``tree_size``.
            consistency_proof: the RFC 6962 proof from the latest anchored checkpoint's size
                to ``tree_size``; empty for the first checkpoint.

        Raises:
            ValueError: a size or hash out of shape.
            LedgerAnchorNotGrowingError, LedgerAnchorProofLengthError,
            LedgerAnchorInconsistentError, AccessControlUnauthorizedAccountError: the
                contract refuses it.
        """
        if not 0 < tree_size <= UINT64_MAX:
            raise ValueError(f"tree size {tree_size} is not in 1 … 2**64 - 1")
        _check_hash("root hash", root_hash)
        for i, h in enumerate(consistency_proof):
            _check_hash(f"consistency proof hash {i}", h)
        function = self.ledger_anchor.functions.anchor(
            tree_size, bytes(root_hash), [bytes(h) for h in consistency_proof]
        )
        return self._send(function, f"anchoring tree size {tree_size}")

    def check_anchor(
        self, tree_size: int, root_hash: bytes, consistency_proof: Sequence[bytes]
    ) -> None:
        """Ask the contract, by ``eth_call``, whether it would accept this anchor now.

        Raises:
            The typed error ``anchor`` would revert with (see ``send_anchor``).
        """
        self.call(
            self.ledger_anchor.functions.anchor(
                tree_size, bytes(root_hash), [bytes(h) for h in consistency_proof]
            )
        )

    def anchor_outcome(self, tx_hash: bytes, *, confirmations: int | None = None) -> AnchorOutcome:
        """Wait for an anchor transaction and read the checkpoint it anchored.

        Raises:
            See ``wait_for_receipt``.
        """
        receipt = self.wait_for_receipt(tx_hash, confirmations=confirmations)
        events = self.ledger_anchor.events.CheckpointAnchored().process_receipt(receipt)
        if len(events) != 1:
            raise TransactionError(
                f"transaction 0x{tx_hash.hex()} anchored {len(events)} checkpoints, not 1",
                tx_hash,
            )
        args = events[0]["args"]
        outcome = self._outcome(receipt)
        return AnchorOutcome(
            tx_hash=outcome.tx_hash,
            block_number=outcome.block_number,
            block_hash=outcome.block_hash,
            gas_used=outcome.gas_used,
            checkpoint_index=int(args["index"]),
            tree_size=int(args["treeSize"]),
            root_hash=bytes(args["rootHash"]),
        )

    def anchor(
        self,
        tree_size: int,
        root_hash: bytes,
        consistency_proof: Sequence[bytes],
        *,
        confirmations: int | None = None,
    ) -> AnchorOutcome:
        """Anchor a checkpoint and wait until it is final: ``send_anchor`` + ``anchor_outcome``.

        Raises:
            See ``send_anchor`` and ``wait_for_receipt``.
        """
        tx_hash = self.send_anchor(tree_size, root_hash, consistency_proof)
        return self.anchor_outcome(tx_hash, confirmations=confirmations)

    def checkpoint_count(self, block: BlockIdentifier = "latest") -> int:
        """How many checkpoints are anchored."""
        with self._calling("reading the checkpoint count"):
            return int(self.ledger_anchor.functions.checkpointCount().call(block_identifier=block))

    def checkpoint_of(self, root_hash: bytes, block: BlockIdentifier = "latest") -> Checkpoint:
        """The anchored checkpoint whose root is ``root_hash``: one ``eth_call`` of
        ``checkpointOf``, answered from the contract's storage.

        Raises:
            LedgerAnchorUnknownRootError: no checkpoint has that root.
            ValueError: ``root_hash`` is not 32 bytes.
        """
        _check_hash("root hash", root_hash)
        with self._calling(f"reading the checkpoint of root 0x{bytes(root_hash).hex()}"):
            index, tree_size, anchored_at = self.ledger_anchor.functions.checkpointOf(
                bytes(root_hash)
            ).call(block_identifier=block)
        return Checkpoint(int(index), int(tree_size), bytes(root_hash), int(anchored_at))

    def checkpoint_at(self, index: int, block: BlockIdentifier = "latest") -> Checkpoint:
        """The checkpoint number ``index``.

        The contract keeps checkpoints under their root hash (docs/adr/0005), so this reads
        the ``CheckpointAnchored`` log of that index, then checks it against the contract's
        storage with ``checkpointOf``.

        Raises:
            UnknownCheckpointError: no such checkpoint (yet).
            CheckpointLogError: the log is missing or disagrees with the contract.
        """
        count = self.checkpoint_count(block)
        if not 0 <= index < count:
            raise UnknownCheckpointError(index, count)
        events = self.checkpoint_events(to_block=block, index=index)
        if not events:
            raise CheckpointLogError(
                f"checkpoint {index} is anchored but no CheckpointAnchored log of it was found "
                f"from block {self._ledger_anchor_block}: does the node keep logs?"
            )
        return self.confirm_event(events[-1], block)

    def checkpoints(self, block: BlockIdentifier = "latest") -> list[Checkpoint]:
        """Every anchored checkpoint, by index: the ``CheckpointAnchored`` logs, each checked
        against the contract's storage (``checkpointOf``).

        Raises:
            CheckpointLogError: a log is missing, repeated, or disagrees with the contract.
        """
        count = self.checkpoint_count(block)
        if count == 0:
            return []
        events: dict[int, CheckpointEvent] = {}
        for event in self.checkpoint_events(to_block=block):
            if event.index in events:
                raise CheckpointLogError(
                    f"two CheckpointAnchored logs for checkpoint {event.index}"
                )
            events[event.index] = event
        missing = [index for index in range(count) if index not in events]
        if missing:
            raise CheckpointLogError(
                f"{count} checkpoints are anchored but the CheckpointAnchored logs of "
                f"{len(missing)} were not found from block {self._ledger_anchor_block} "
                f"(first: {missing[0]}): does the node keep logs?"
            )
        if len(events) != count:
            raise CheckpointLogError(
                f"{len(events)} CheckpointAnchored logs for {count} anchored checkpoints"
            )
        return [self.confirm_event(events[index], block) for index in range(count)]

    def confirm_event(
        self, event: CheckpointEvent, block: BlockIdentifier = "latest"
    ) -> Checkpoint:
        """The checkpoint of a ``CheckpointAnchored`` log, once ``checkpointOf`` (the
        contract's storage) confirms its index and tree size.

        Raises:
            CheckpointLogError: the contract holds no such root, or holds it as another
                checkpoint.
        """
        try:
            checkpoint = self.checkpoint_of(event.root_hash, block)
        except LedgerAnchorUnknownRootError:
            raise CheckpointLogError(
                f"the CheckpointAnchored log of checkpoint {event.index} names root "
                f"0x{event.root_hash.hex()}, which the contract does not hold"
            ) from None
        if (checkpoint.index, checkpoint.tree_size) != (event.index, event.tree_size):
            raise CheckpointLogError(
                f"the CheckpointAnchored log says checkpoint {event.index} has tree size "
                f"{event.tree_size}; the contract says root 0x{event.root_hash.hex()} is "
                f"checkpoint {checkpoint.index} of tree size {checkpoint.tree_size}"
            )
        return checkpoint

    def latest_checkpoint(self, block: BlockIdentifier = "latest") -> Checkpoint | None:
        """The most recent checkpoint, or None before the first."""
        try:
            with self._calling("reading the latest checkpoint"):
                index, tree_size, root_hash, anchored_at = (
                    self.ledger_anchor.functions.latestCheckpoint().call(block_identifier=block)
                )
        except LedgerAnchorNoCheckpointError:
            return None
        return Checkpoint(int(index), int(tree_size), bytes(root_hash), int(anchored_at))

    def verify_inclusion(
        self,
        tree_size: int,
        leaf_index: int,
        leaf_hash: bytes,
        proof: Sequence[bytes],
        block: BlockIdentifier = "latest",
    ) -> bool:
        """Ask the contract (one ``eth_call``) whether a leaf is in an anchored checkpoint.

        Args:
            tree_size: the anchored checkpoint's tree size: the root the proof leads to must
                be the root of an anchored checkpoint of this size.
            leaf_index: the leaf's index (the entry's ``seq``).
            leaf_hash: SHA-256(0x00 ‖ leaf bytes).
            proof: the RFC 6962 inclusion proof at ``tree_size``.

        Raises:
            ValueError: a hash out of shape.
        """
        _check_hash("leaf hash", leaf_hash)
        for i, h in enumerate(proof):
            _check_hash(f"inclusion proof hash {i}", h)
        if not (0 <= leaf_index <= UINT64_MAX and 0 <= tree_size <= UINT64_MAX):
            return False
        with self._calling(f"verifying leaf {leaf_index} in the anchored tree of {tree_size}"):
            return bool(
                self.ledger_anchor.functions.verifyInclusion(
                    tree_size, leaf_index, bytes(leaf_hash), [bytes(h) for h in proof]
                ).call(block_identifier=block)
            )

    def checkpoint_events(
        self,
        from_block: BlockIdentifier | None = None,
        to_block: BlockIdentifier = "latest",
        *,
        index: int | None = None,
    ) -> list[CheckpointEvent]:
        """The ``CheckpointAnchored`` logs in a block range, oldest first.

        Args:
            from_block: the first block to search; by default the LedgerAnchor's deployment
                block when this client deployed or was told it, else 0.
            to_block: the last block to search.
            index: only the log of this checkpoint index (its indexed topic).
        """
        start = self._ledger_anchor_block if from_block is None else from_block
        filters = {} if index is None else {"argument_filters": {"index": index}}
        with self._calling("reading CheckpointAnchored logs"):
            logs = self.ledger_anchor.events.CheckpointAnchored().get_logs(
                from_block=start, to_block=to_block, **filters
            )
        return [
            CheckpointEvent(
                index=int(log["args"]["index"]),
                tree_size=int(log["args"]["treeSize"]),
                root_hash=bytes(log["args"]["rootHash"]),
                tx_hash=bytes(log["transactionHash"]),
                block_number=int(log["blockNumber"]),
                block_hash=bytes(log["blockHash"]),
                log_index=int(log["logIndex"]),
            )
            for log in logs
        ]

    # -- roles --------------------------------------------------------------------------

    def has_role(self, contract: Contract, role: bytes, account: str) -> bool:
        """Whether ``account`` holds ``role`` (e.g. ``ANCHORER_ROLE``) on ``contract``."""
        with self._calling("reading a role"):
            return bool(contract.functions.hasRole(role, to_checksum_address(account)).call())

    def grant_role(self, contract: Contract, role: bytes, account: str) -> TxOutcome:
        """Grant ``role`` on ``contract`` to ``account``; the signer must be its admin.

        Raises:
            AccessControlUnauthorizedAccountError: the signer is not the role's admin.
        """
        function = contract.functions.grantRole(role, to_checksum_address(account))
        tx_hash = self._send(function, "granting a role")
        return self._outcome(self.wait_for_receipt(tx_hash))

    def revoke_role(self, contract: Contract, role: bytes, account: str) -> TxOutcome:
        """Revoke ``role`` on ``contract`` from ``account``; the signer must be its admin.

        Raises:
            AccessControlUnauthorizedAccountError: the signer is not the role's admin.
        """
        function = contract.functions.revokeRole(role, to_checksum_address(account))
        tx_hash = self._send(function, "revoking a role")
        return self._outcome(self.wait_for_receipt(tx_hash))

    # -- CharityRegistry ----------------------------------------------------------------

    def register_charity(
        self, charity_id: str, signer: str | None, metadata_hash: bytes
    ) -> TxOutcome:
        """Register a charity, and wait until final.

        Args:
            charity_id: the journal's id (``ch_…``), at most 32 UTF-8 bytes.
            signer: the address that signs its entries, or None.
            metadata_hash: e.g. SHA-256 of its canonical ``charity.registered`` entry.

        Raises:
            CharityRegistryAlreadyRegisteredError: the id is taken, even if revoked.
            AccessControlUnauthorizedAccountError: the signer lacks ``REGISTRAR_ROLE``.
        """
        _check_hash("metadata hash", metadata_hash)
        function = self.charity_registry.functions.registerCharity(
            encode_charity_id(charity_id),
            to_checksum_address(signer) if signer else ZERO_ADDRESS,
            bytes(metadata_hash),
        )
        tx_hash = self._send(function, f"registering charity {charity_id}")
        return self._outcome(self.wait_for_receipt(tx_hash))

    def revoke_charity(self, charity_id: str) -> TxOutcome:
        """Revoke a charity, and wait until final.

        Raises:
            CharityRegistryUnknownCharityError: never registered.
            CharityRegistryAlreadyRevokedError: revoked before.
            AccessControlUnauthorizedAccountError: the signer lacks ``REGISTRAR_ROLE``.
        """
        function = self.charity_registry.functions.revokeCharity(encode_charity_id(charity_id))
        tx_hash = self._send(function, f"revoking charity {charity_id}")
        return self._outcome(self.wait_for_receipt(tx_hash))

    def charity(self, charity_id: str, block: BlockIdentifier = "latest") -> Charity:
        """A registered charity.

        Raises:
            CharityRegistryUnknownCharityError: never registered.
        """
        with self._calling(f"reading charity {charity_id}"):
            signer, registered_at, revoked_at, metadata_hash = (
                self.charity_registry.functions.charityOf(encode_charity_id(charity_id)).call(
                    block_identifier=block
                )
            )
        return Charity(
            charity_id=charity_id,
            signer=None if int(signer, 16) == 0 else to_checksum_address(signer),
            metadata_hash=bytes(metadata_hash),
            registered_at=int(registered_at),
            revoked_at=int(revoked_at) or None,
        )

    def is_charity_active(self, charity_id: str) -> bool:
        """Whether a charity is registered and not revoked."""
        with self._calling(f"reading charity {charity_id}"):
            return bool(
                self.charity_registry.functions.isActive(encode_charity_id(charity_id)).call()
            )


def _signing_account(private_key: str | bytes | None, *, devnet: bool) -> LocalAccount:
    """The account for ``private_key``; the development key only on a devnet."""
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
    if not devnet and _is_development_key(bytes(account.key)):
        raise ChainConfigError(
            "CHAIN_ANCHORER_PRIVATE_KEY is one of the public development keys: "
            "anyone could sign with it; use a key of your own on this chain"
        )
    return account


def _is_development_key(key: bytes) -> bool:
    return any(key == dev_private_key(i) for i in range(DEV_ACCOUNTS))
