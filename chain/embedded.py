"""The embedded chain: eth-tester on py-evm, in this process, under Prague rules.

It serves when no ``CHAIN_RPC_URL`` is set, so that shanlian runs with nothing else
installed. It starts empty every time (the service redeploys and re-anchors the journal)
and mines one block per transaction. Its accounts are the devnet's development accounts,
so the same well-known keys work on both.

eth-tester reports a revert as an exception whose message is the Python ``repr`` of the
revert bytes; ``EmbeddedProvider`` turns it back into the JSON-RPC error a real node gives
(code 3, ``data`` = the revert bytes), so web3 and ``chain.client`` see the embedded chain
exactly as they see anvil.
"""

from __future__ import annotations

import ast
import itertools
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from eth.exceptions import TransactionNotFound as EvmTransactionNotFound
from eth.vm.forks.prague import PragueVM
from eth_abi.abi import encode as abi_encode
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.exceptions import TransactionFailed, TransactionNotFound
from eth_utils.abi import function_signature_to_4byte_selector
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

from chain.devnet import DEV_ACCOUNTS, DEV_HD_PATH, DEV_MNEMONIC

BLOCK_GAS_LIMIT = 30_000_000
"""As on anvil. (eth-tester's default, 30,029,122, is mainnet's of 2021.)"""

_ERROR_SELECTOR = function_signature_to_4byte_selector("Error(string)")


def revert_data(exc: BaseException) -> bytes | None:
    """The revert bytes an eth-tester ``TransactionFailed`` stands for, if any.

    eth-tester raises with the raw bytes, with the exception that held them, with their
    ``repr`` (``"b'\\xdb\\xdf…'"``), or, for ``Error(string)``, with the decoded reason.
    """
    arg: Any = exc.args[0] if exc.args else None
    if isinstance(arg, BaseException):
        arg = arg.args[0] if arg.args else None
    if isinstance(arg, bytes):
        return arg
    if not isinstance(arg, str):
        return None
    if arg.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(arg)
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, bytes) else None
    # A reason string eth-tester decoded from Error(string): encode it back.
    return _ERROR_SELECTOR + abi_encode(["string"], [arg])


_MINING = frozenset({"eth_sendTransaction", "eth_sendRawTransaction", "evm_mine"})
"""Requests that mine a block (eth-tester mines one per transaction)."""


class EmbeddedProvider(EthereumTesterProvider):
    """An eth-tester provider that reports reverts as a JSON-RPC node does.

    Requests are served one at a time: eth-tester is not thread-safe, and the anchor
    worker sends while the API and the explorer read.
    """

    _request_ids = itertools.count()

    def __init__(self, tester: EthereumTester) -> None:
        """Serve ``tester``."""
        super().__init__(tester)
        self.lock = threading.RLock()
        self.clock: Callable[[], datetime] | None = None

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Serve one request; a revert becomes ``{"error": {"code": 3, "data": …}}``."""
        with self.lock:
            if self.clock is not None and method in _MINING:
                self._stamp_next_block(self.clock())
            return self._serve(method, params)

    def _stamp_next_block(self, moment: datetime) -> None:
        """Date the block being built ``moment`` (or one second after its parent, if later)."""
        tester = self.ethereum_tester
        assert tester is not None, "the provider serves a tester"
        chain = tester.backend.chain
        parent = chain.get_canonical_head()
        wanted = max(parent.timestamp + 1, int(moment.timestamp()))
        if chain.header.timestamp != wanted:
            chain.header = chain.header.copy(timestamp=wanted)

    def _serve(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        namespace, _, endpoint = method.partition("_")
        request_id = next(self._request_ids)
        assert self.api_endpoints is not None
        try:
            delegator = self.api_endpoints[namespace][endpoint]
        except KeyError:
            return {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": {"code": -32601, "message": f"Unknown RPC Endpoint: {method}"},
            }
        try:
            result = delegator(self.ethereum_tester, params)
        except NotImplementedError:
            return {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": {"code": -32601, "message": f"RPC Endpoint not implemented: {method}"},
            }
        except TransactionFailed as exc:
            data = revert_data(exc)
            if data is None:
                # Not a revert (an invalid instruction, say): no data to hand back.
                return {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "error": {"code": -32000, "message": f"execution failed: {exc}"},
                }
            return {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": {"code": 3, "message": "execution reverted", "data": "0x" + data.hex()},
            }
        return {"jsonrpc": "2.0", "id": request_id, "result": result}


class IndexedBackend(PyEVMBackend):  # type: ignore[misc]
    """py-evm's backend, finding a transaction by py-evm's own hash index.

    eth-tester looks a transaction up by walking every block back from the head, so one
    ``eth_getTransactionReceipt`` of an old (or unknown) hash cost the whole chain, and
    ``eth_getLogs``, which looks up every receipt of its range, the square of it: 30 s
    for 500 blocks. py-evm indexes the hashes of canonical transactions; the head block
    (eth-tester's pending block) is the only one to search.
    """

    def _find_transaction(self, transaction_hash: bytes) -> tuple[Any, Any, int]:
        head = self.chain.get_block()
        for index, transaction in enumerate(head.transactions):
            if transaction.hash == transaction_hash:
                return head, transaction, index
        try:
            number, index = self.chain.chaindb.get_transaction_index(transaction_hash)
        except EvmTransactionNotFound:
            number, index = -1, -1
        if number >= 0:
            block = self.chain.get_canonical_block_by_number(number)
            if index < len(block.transactions):
                transaction = block.transactions[index]
                if transaction.hash == transaction_hash:
                    return block, transaction, index
        raise TransactionNotFound(
            f"No transaction found for transaction hash: 0x{transaction_hash.hex()}"
        )

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        """As eth-tester's, found by the index."""
        block, transaction, index = self._find_transaction(transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        return serialize_transaction(block, transaction, index, is_pending)

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        """As eth-tester's, found by the index."""
        block, transaction, index = self._find_transaction(transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        receipts = block.get_receipts(self.chain.chaindb)
        return serialize_transaction_receipt(
            block, receipts, transaction, index, is_pending, self.chain.get_vm()
        )


class EmbeddedChain:
    """An in-process chain with the development accounts funded.

    Blocks are dated by the wall clock, unless ``clock`` is set: then each new block is
    dated by it (a simulation, such as the demo's months of history, anchors with its own
    dates), and never earlier than one second after its parent.

    Attributes:
        tester: the eth-tester instance (snapshots, mining, time travel for tests).
        provider: the web3 provider that serves it.
    """

    def __init__(self, accounts: int = DEV_ACCOUNTS, *, genesis_at: datetime | None = None) -> None:
        """Start an empty chain at genesis.

        Args:
            accounts: how many development accounts to fund (1 to 10).
            genesis_at: the genesis block's time (default: now).
        """
        self.accounts = accounts
        self.tester = self._new_tester(genesis_at)
        self.provider = EmbeddedProvider(self.tester)

    def _new_tester(self, genesis_at: datetime | None) -> EthereumTester:
        overrides: dict[str, int] = {"gas_limit": BLOCK_GAS_LIMIT}
        if genesis_at is not None:
            overrides["timestamp"] = int(genesis_at.timestamp())
        backend = IndexedBackend.from_mnemonic(
            DEV_MNEMONIC,
            num_accounts=self.accounts,
            hd_path=DEV_HD_PATH,
            genesis_parameters=IndexedBackend.generate_genesis_params(overrides=overrides),
            # py-evm runs nothing newer than Prague; the contracts are built for it.
            vm_configuration=((0, PragueVM),),
        )
        return EthereumTester(backend)

    @property
    def clock(self) -> Callable[[], datetime] | None:
        """What dates new blocks (None: the wall clock)."""
        return self.provider.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime] | None) -> None:
        self.provider.clock = clock

    def restart(self, genesis_at: datetime) -> None:
        """Start over from an empty chain whose genesis is dated ``genesis_at``.

        Everything on the old chain is gone (contracts must be deployed again); every
        ``Web3`` of this chain sees the new one.
        """
        with self.provider.lock:
            self.tester = self._new_tester(genesis_at)
            self.provider.ethereum_tester = self.tester

    @property
    def chain_id(self) -> int:
        """eth-tester's chain id (fixed by eth-tester, not 31337)."""
        chain_id: int = self.tester.backend.chain.chain_id
        return chain_id

    def web3(self) -> Web3:
        """A ``Web3`` connected to this chain."""
        return Web3(self.provider)
