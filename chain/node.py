"""What every view of a chain shares: the connection, its errors, blocks, and contract code.

``Node`` is the base of ``chain.reader.ChainReader`` (and so of ``ChainClient``): one
``Web3`` connection to one chain, the two contracts attached to it, and the reads that no
contract owns — blocks, receipts, logs, the code at an address. The contracts' own reads are
in their modules (``chain.ledger_anchor``, ``chain.charity_registry``).

Every web3 or transport exception is translated here (``_calling``) into ``chain.errors``;
a revert comes back as its typed error, decoded with the contracts' ABIs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from eth_typing import Hash32
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    BlockNotFound,
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import BlockIdentifier, FilterParams, LogReceipt, TxReceipt

from chain.accounts import checksum_address, is_address
from chain.artifacts import CHARITY_REGISTRY, LEDGER_ANCHOR, Artifact, load_artifact
from chain.embedded import EmbeddedChain
from chain.errors import (
    ChainConfigError,
    ChainError,
    ChainIdMismatchError,
    ChainUnavailableError,
    ContractNotDeployedError,
    RevertDecoder,
)
from chain.settings import DEVNET_CHAIN_ID, redact_url

HASH_SIZE = 32
Finality = Literal["auto", "finalized", "safe", "depth"]
"""Which block counts as final (``CHAIN_FINALITY``; ``Node.settled_block``)."""
METHOD_NOT_FOUND = -32601
"""JSON-RPC's code for a method the endpoint does not offer."""


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
class SettledBlock:
    """The newest block taken as final, and why.

    Attributes:
        number: the block.
        basis: ``finalized`` or ``safe`` (the node's own tag), or ``depth`` (``depth``
            blocks on top, counting its own, of the latest).
        depth: the confirmations counted when ``basis`` is ``depth``.
        fallback: the node has no ``finalized``/``safe`` block: ``depth`` stands in.
    """

    number: int
    basis: Literal["finalized", "safe", "depth"]
    depth: int
    fallback: bool = False

    def describe(self) -> str:
        """How reports name it: ``finalized``, ``safe`` or ``latest - N``."""
        if self.basis != "depth":
            return self.basis
        text = "latest" if self.depth <= 1 else f"latest - {self.depth - 1}"
        return f"{text} (the node has no finalized block)" if self.fallback else text


@dataclass(frozen=True)
class ContractCode:
    """Whether the code at an address is the published build of a contract.

    Attributes:
        name: ``LedgerAnchor`` or ``CharityRegistry``.
        address: the checksummed address.
        checked: the node answered ``eth_getCode`` (a read-only proxy may not offer it).
        present: any code is there at all (True when not ``checked``).
        published_build: the code is exactly ``contracts/build``'s deployed bytecode
            (False when not ``checked``).
    """

    name: str
    address: str
    checked: bool
    present: bool
    published_build: bool


def check_hash(name: str, value: bytes) -> None:
    """Refuse a hash that is not 32 bytes.

    Raises:
        ValueError: naming ``name``.
    """
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be {HASH_SIZE} bytes")


def is_loopback(rpc_url: str) -> bool:
    """Whether ``rpc_url`` is a node on this machine."""
    host = urlparse(rpc_url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def http_web3(
    rpc_url: str, *, chain_id: int | None, request_timeout_s: float, hint: str
) -> tuple[Web3, int]:
    """A ``Web3`` on the JSON-RPC node at ``rpc_url`` and the chain id it answers with.

    Args:
        rpc_url: the node's HTTP(S) URL.
        chain_id: the chain id the node must report; None accepts the node's.
        request_timeout_s: HTTP timeout of one request.
        hint: what to check when the node does not answer, for the message.

    Raises:
        ChainUnavailableError: the node does not answer.
        ChainIdMismatchError: the node serves another chain.
    """
    provider = Web3.HTTPProvider(
        rpc_url,
        request_kwargs={"timeout": request_timeout_s},
        # Fail fast: the anchor worker has its own back-off while a node is down.
        exception_retry_configuration=None,
    )
    w3 = Web3(provider)
    try:
        actual = int(w3.eth.chain_id)
    except (OSError, Web3Exception) as exc:  # requests' errors are OSErrors
        raise ChainUnavailableError(
            f"cannot reach the node at {redact_url(rpc_url)} ({exc.__class__.__name__}): {hint}"
        ) from exc
    if chain_id is not None and actual != chain_id:
        raise ChainIdMismatchError(expected=chain_id, actual=actual, rpc_url=rpc_url)
    return w3, actual


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


def _method_not_found(exc: Web3Exception) -> bool:
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, dict) else None
    return isinstance(error, dict) and error.get("code") == METHOD_NOT_FOUND


def _in_use(contract: Contract | None, name: str, setting: str) -> Contract:
    """``contract``, unless none is deployed or attached yet (``ChainConfigError``)."""
    if contract is None:
        raise ChainConfigError(f"no {name}: deploy one, or set {setting}")
    return contract


class Node:
    """One chain, seen through one ``Web3`` connection, and the contracts attached on it."""

    def __init__(
        self,
        w3: Web3,
        *,
        chain_id: int,
        rpc_url: str | None,
        embedded: EmbeddedChain | None = None,
    ) -> None:
        """Wrap an already connected ``Web3``; prefer the factories of the subclasses.

        Args:
            w3: the connection.
            chain_id: the chain's id, as checked on connect.
            rpc_url: the node's URL; None for the embedded chain.
            embedded: the embedded chain, kept alive as long as this.
        """
        self.w3 = w3
        self.chain_id = chain_id
        self.rpc_url = rpc_url
        self.embedded_chain = embedded
        self._anchor_artifact = load_artifact(LEDGER_ANCHOR)
        self._registry_artifact = load_artifact(CHARITY_REGISTRY)
        self.decoder = RevertDecoder([self._anchor_artifact.abi, self._registry_artifact.abi])
        self._ledger_anchor: Contract | None = None
        self._charity_registry: Contract | None = None
        self._ledger_anchor_block = 0

    def _share_contracts(self, other: Node) -> None:
        other._ledger_anchor = self._ledger_anchor
        other._charity_registry = self._charity_registry
        other._ledger_anchor_block = self._ledger_anchor_block

    @property
    def is_embedded(self) -> bool:
        """Whether this is the in-process chain (empty at every start)."""
        return self.embedded_chain is not None

    @property
    def is_devnet(self) -> bool:
        """The embedded chain or a chain with the devnet's id: development keys allowed."""
        return self.is_embedded or self.chain_id == DEVNET_CHAIN_ID

    @property
    def is_deployed(self) -> bool:
        """Whether both contracts are known (deployed or attached)."""
        return self._ledger_anchor is not None and self._charity_registry is not None

    # -- errors -------------------------------------------------------------------------

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

    # -- contracts ----------------------------------------------------------------------

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
        address = checksum_address(address)
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

    def contract_code(self, name: str, address: str, block: BlockIdentifier) -> ContractCode:
        """Read the code at ``address`` at ``block`` and compare it with the published
        build of ``name``; a node that does not offer ``eth_getCode`` leaves it unchecked.

        Raises:
            ValueError: ``address`` is not an address.
            ChainUnavailableError: the node fails.
        """
        if not is_address(address):
            raise ValueError(f"{address!r} is not an address (0x and 40 hex digits)")
        checksummed = checksum_address(address)
        try:
            code = bytes(self.w3.eth.get_code(checksummed, block_identifier=block))
        except Web3Exception as exc:
            if _method_not_found(exc):
                return ContractCode(
                    name, checksummed, checked=False, present=True, published_build=False
                )
            raise ChainUnavailableError(f"reading the code of {name}: {exc}") from exc
        except OSError as exc:
            raise ChainUnavailableError(f"reading the code of {name}: {exc}") from exc
        return ContractCode(
            name=name,
            address=checksummed,
            checked=True,
            present=bool(code),
            published_build=code == load_artifact(name).deployed_bytecode,
        )

    @property
    def ledger_anchor(self) -> Contract:
        """The LedgerAnchor contract in use.

        Raises:
            ChainConfigError: none deployed or attached yet.
        """
        return _in_use(self._ledger_anchor, "LedgerAnchor", "CHAIN_LEDGER_ANCHOR_ADDRESS")

    @property
    def charity_registry(self) -> Contract:
        """The CharityRegistry contract in use.

        Raises:
            ChainConfigError: none deployed or attached yet.
        """
        return _in_use(self._charity_registry, "CharityRegistry", "CHAIN_CHARITY_REGISTRY_ADDRESS")

    def has_role(self, contract: Contract, role: bytes, account: str) -> bool:
        """Whether ``account`` holds ``role`` (e.g. ``ANCHORER_ROLE``) on ``contract``."""
        with self._calling("reading a role"):
            return bool(contract.functions.hasRole(role, checksum_address(account)).call())

    def call(self, function: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """``eth_call`` any contract function; a revert raises its typed error."""
        with self._calling(f"calling {function.fn_name}"):
            return function.call(block_identifier=block)

    # -- blocks, receipts, logs ---------------------------------------------------------

    def block_number(self) -> int:
        """The number of the latest block."""
        with self._calling("reading the block number"):
            return int(self.w3.eth.block_number)

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

    def receipt(self, tx_hash: bytes) -> TxReceipt | None:
        """The receipt of ``tx_hash``, or None when the chain holds no such transaction."""
        with self._calling(f"reading the receipt of 0x{tx_hash.hex()}"):
            try:
                return self.w3.eth.get_transaction_receipt(Hash32(tx_hash))
            except TransactionNotFound:
                return None

    def confirmations_of(self, tx_hash: bytes) -> int:
        """Blocks, counting its own, on top of which ``tx_hash`` sits in the canonical chain.

        0 when it is not (or no longer) in the canonical chain: pending, dropped, or
        removed by a reorg — the anchor worker sends it again then.
        """
        receipt = self.receipt(tx_hash)
        if receipt is None:
            return 0
        with self._calling("reading a receipt"):
            block = self.w3.eth.get_block(receipt["blockNumber"])
            if block["hash"] != receipt["blockHash"]:
                return 0
            return int(self.w3.eth.block_number) - int(receipt["blockNumber"]) + 1

    def finality_basis(self, finality: Finality, confirmations: int = 1) -> str:
        """How ``settled_block`` will choose, in words, without asking the node."""
        if finality == "auto":
            finality = "depth" if self.is_devnet else "finalized"
        depth = f"{confirmations} confirmation{'s' if confirmations > 1 else ''}"
        if finality == "depth":
            return depth
        return f"{finality} (where the node has no {finality} block: {depth})"

    def settled_block(self, finality: Finality, confirmations: int = 1) -> SettledBlock:
        """The newest block taken as final: the node's ``finalized`` (or ``safe``) block
        where it has one, else the latest less ``confirmations - 1``.

        Args:
            finality: ``finalized`` or ``safe``: that tag, falling back to depth on a node
                without it; ``depth``: always depth; ``auto``: depth on a devnet (its tags
                are made up: anvil's ``finalized`` is the latest less 64), else
                ``finalized``.
            confirmations: blocks, counting its own, for depth.

        Raises:
            ChainUnavailableError: the node does not answer.
        """
        confirmations = max(1, confirmations)
        if finality == "auto":
            finality = "depth" if self.is_devnet else "finalized"
        if finality in ("finalized", "safe"):
            try:
                with self._calling(f"reading the {finality} block"):
                    block = self.w3.eth.get_block(finality)
                return SettledBlock(int(block["number"]), finality, 0)
            except ChainUnavailableError:
                raise
            except (ChainError, Web3Exception, BlockNotFound, ValueError):
                latest = self.block_number()
                return SettledBlock(
                    max(0, latest - confirmations + 1), "depth", confirmations, fallback=True
                )
        latest = self.block_number()
        return SettledBlock(max(0, latest - confirmations + 1), "depth", confirmations)

    def get_logs(self, filter_params: FilterParams) -> list[LogReceipt]:
        """Raw ``eth_getLogs``."""
        with self._calling("reading logs"):
            return list(self.w3.eth.get_logs(filter_params))
