"""``TransactionSender``: a chain seen with a signing account — fees, signing, sending, receipts.

The base of ``chain.client.ChainClient`` and of the contracts' writes
(``chain.ledger_anchor.LedgerAnchorWrites``, ``chain.charity_registry.CharityRegistryWrites``):
each contract's module builds its calls and sends them through ``_send``/``_sent``, so one
place quotes the EIP-1559 fees within ``CHAIN_MAX_FEE_PER_GAS``, signs with the local key or
the external signer (ADR 0038), sends the raw transaction and waits until it is final. A
transaction that fails comes back as its typed ``chain.errors`` exception, decoded by
replaying it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import TimeExhausted, Web3Exception
from web3.types import BlockIdentifier, TxParams, TxReceipt, Wei

from chain.accounts import checksum_address
from chain.artifacts import Artifact
from chain.embedded import EmbeddedChain
from chain.errors import (
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    FeeAboveCapError,
    ReceiptTimeoutError,
    SpendingLimitError,
    TransactionError,
    UnknownRevertError,
)
from chain.node import Finality, Node, TxOutcome
from chain.remote_signer import RemoteSigner

GAS_MARGIN = 1.2
"""Gas limit = estimate × this: the estimate is exact for our calls; the margin is slack."""

TransactionSigner = LocalAccount | RemoteSigner
"""What signs the client's transactions: a key in this process (from a keystore, or raw in
development), or an external signer that holds it (ADR 0038)."""


@dataclass(frozen=True)
class FeeQuote:
    """What a transaction sent now would offer, by EIP-1559, and whether the cap allows it.

    Attributes:
        base_fee: the next block's base fee, wei a unit of gas (0 on a chain without one).
        max_fee_per_gas: what the transaction offers at most: twice the base fee plus the
            tip (room for six full blocks of rises), never above the cap.
        max_priority_fee_per_gas: the tip offered to the block's producer.
        cap: ``CHAIN_MAX_FEE_PER_GAS``, or None when there is none.
    """

    base_fee: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    cap: int | None

    @property
    def over_cap(self) -> bool:
        """The base fee alone is above the cap: a transaction could not be included."""
        return self.cap is not None and self.base_fee > self.cap


class TransactionSender(Node):
    """One chain and a signing account: what every transaction needs, whatever it calls."""

    def __init__(
        self,
        w3: Web3,
        account: TransactionSigner,
        *,
        chain_id: int,
        rpc_url: str | None,
        embedded: EmbeddedChain | None = None,
        confirmations: int = 1,
        poll_interval_s: float = 0.01,
        receipt_timeout_s: float = 120.0,
        max_fee_per_gas: int | None = None,
        max_priority_fee_per_gas: int | None = None,
        finality: Finality = "auto",
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
            max_fee_per_gas: the fee cap, wei a unit of gas (None: no cap).
            max_priority_fee_per_gas: the tip, wei a unit of gas (None: the node's).
            finality: which block counts as final (``Node.settled_block``).
        """
        super().__init__(w3, chain_id=chain_id, rpc_url=rpc_url, embedded=embedded)
        self.account = account
        self.confirmations = confirmations
        self.poll_interval_s = poll_interval_s
        self.receipt_timeout_s = receipt_timeout_s
        self.max_fee_per_gas = max_fee_per_gas
        self.max_priority_fee_per_gas = max_priority_fee_per_gas
        self.finality: Finality = finality

    @property
    def address(self) -> str:
        """The signing account's address."""
        return str(self.account.address)

    # -- transactions -------------------------------------------------------------------

    def call(self, function: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """``eth_call`` any contract function from the signing account; a revert raises
        its typed error."""
        with self._calling(f"calling {function.fn_name}"):
            return function.call({"from": self.account.address}, block_identifier=block)

    def base_fee(self) -> int:
        """The next block's base fee, wei a unit of gas (0 on a chain without EIP-1559).

        ``eth_feeHistory`` names the next block's; a node without it, the latest block's.
        """
        try:
            with self._calling("reading the fee history"):
                fees = self.w3.eth.fee_history(1, "latest").get("baseFeePerGas") or []
            if fees:
                return int(fees[-1])
        except ChainUnavailableError:
            raise
        except (ChainError, Web3Exception, NotImplementedError, ValueError):
            pass  # no eth_feeHistory here: the latest block's base fee will do
        with self._calling("reading the base fee"):
            block = self.w3.eth.get_block("latest")
        return int(block.get("baseFeePerGas", 0))

    def fee_quote(self) -> FeeQuote:
        """The EIP-1559 fees a transaction sent now would offer, within the cap."""
        base = self.base_fee()
        tip = self.max_priority_fee_per_gas
        if tip is None:
            with self._calling("reading the suggested tip"):
                tip = int(self.w3.eth.max_priority_fee)
        cap = self.max_fee_per_gas
        if cap is not None:
            tip = min(tip, cap)
        max_fee = 2 * base + tip
        if cap is not None:
            max_fee = min(max_fee, cap)
        return FeeQuote(
            base_fee=base, max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip, cap=cap
        )

    def transaction_cost(self, tx_hash: bytes) -> int:
        """What a mined transaction cost its sender, in wei: gas used × effective gas price.

        Raises:
            TransactionError: the chain holds no such transaction.
        """
        receipt = self.receipt(tx_hash)
        if receipt is None:
            raise TransactionError(f"no transaction 0x{tx_hash.hex()} on chain", tx_hash)
        price = receipt.get("effectiveGasPrice")
        if price is None:
            with self._calling("reading a transaction"):
                price = self.w3.eth.get_transaction(Hash32(tx_hash)).get("gasPrice", 0)
        return int(receipt["gasUsed"]) * int(price or 0)

    def _params(self) -> TxParams:
        """Sender, nonce, chain and EIP-1559 fees of a transaction sent now.

        Raises:
            FeeAboveCapError: the base fee is above ``CHAIN_MAX_FEE_PER_GAS``.
        """
        quote = self.fee_quote()
        if quote.over_cap:
            assert quote.cap is not None
            raise FeeAboveCapError(quote.base_fee, quote.cap)
        params: TxParams = {
            "from": self.account.address,
            "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
            "chainId": self.chain_id,
        }
        if quote.base_fee:  # an EIP-1559 chain; without a base fee, web3 sets gasPrice
            params["maxFeePerGas"] = Wei(quote.max_fee_per_gas)
            params["maxPriorityFeePerGas"] = Wei(quote.max_priority_fee_per_gas)
        return params

    def _send(
        self,
        function: ContractFunction | ContractConstructor,
        what: str,
        *,
        max_cost: int | None = None,
    ) -> bytes:
        """Estimate, sign and send ``function`` as a transaction; return its hash.

        A call that would revert raises its typed error here, before anything is sent.

        Args:
            function: the contract call, or a constructor to deploy.
            what: how errors name it.
            max_cost: the most, in wei, it may cost at worst (gas limit × max fee per
                gas); None: no limit.

        Raises:
            FeeAboveCapError: the base fee is above the cap; nothing sent.
            SpendingLimitError: it could cost more than ``max_cost``; nothing sent.
            SignerError: the external signer refused or signed something else.
        """
        with self._calling(what):
            params = self._params()
            gas = function.estimate_gas(params)
            params["gas"] = int(gas * GAS_MARGIN) + 10_000
            tx = function.build_transaction(params)
            price = int(tx.get("maxFeePerGas", tx.get("gasPrice", 0)))
            worst = int(tx["gas"]) * price
            if max_cost is not None and worst > max_cost:
                raise SpendingLimitError(worst, max_cost, what)
            signed = self.account.sign_transaction(cast(dict[str, Any], tx))
            return bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))

    def _sent(self, function: ContractFunction, what: str) -> TxOutcome:
        return self._outcome(self.wait_for_receipt(self._send(function, what)))

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

    def _outcome(self, receipt: TxReceipt) -> TxOutcome:
        return TxOutcome(
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            block_hash=bytes(receipt["blockHash"]),
            gas_used=int(receipt["gasUsed"]),
        )

    def pending_transactions(self) -> int:
        """How many transactions of the signing account the node holds unmined."""
        with self._calling("reading the account's nonces"):
            address = self.account.address
            pending = self.w3.eth.get_transaction_count(address, "pending")
            mined = self.w3.eth.get_transaction_count(address, "latest")
        return int(pending) - int(mined)

    # -- deployment and roles -----------------------------------------------------------

    def deploy_contract(self, artifact: Artifact, *args: Any) -> tuple[str, TxOutcome]:
        """Deploy any compiled contract with constructor ``args``; return its address.

        Raises:
            ContractRevertError: the constructor reverted.
        """
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        tx_hash = self._send(factory.constructor(*args), f"deploying {artifact.name}")
        receipt = self.wait_for_receipt(tx_hash)
        address = receipt["contractAddress"]
        if address is None:
            raise TransactionError(f"deploying {artifact.name} created no contract", tx_hash)
        return checksum_address(address), self._outcome(receipt)

    def grant_role(self, contract: Contract, role: bytes, account: str) -> TxOutcome:
        """Grant ``role`` on ``contract`` to ``account``; the signer must be its admin.

        Raises:
            AccessControlUnauthorizedAccountError: the signer is not the role's admin.
        """
        function = contract.functions.grantRole(role, checksum_address(account))
        return self._sent(function, "granting a role")

    def revoke_role(self, contract: Contract, role: bytes, account: str) -> TxOutcome:
        """Revoke ``role`` on ``contract`` from ``account``; the signer must be its admin.

        Raises:
            AccessControlUnauthorizedAccountError: the signer is not the role's admin.
        """
        function = contract.functions.revokeRole(role, checksum_address(account))
        return self._sent(function, "revoking a role")
