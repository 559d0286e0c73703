"""``ChainClient``: a ``ChainReader`` with a signing account — deploy, anchor, register.

One ``ChainClient`` talks to one chain — a JSON-RPC node (``ChainClient.connect``) or the
embedded in-process chain (``ChainClient.embedded``); ``ChainClient.from_settings`` picks
by ``CHAIN_RPC_URL``. Transactions are signed here with a local key and sent raw, so any
node works. Every revert comes back as a typed ``chain.errors`` exception, decoded from
the revert data with the contracts' ABIs. The reads are ``ChainReader``'s; the contracts'
calls are built in their modules (``chain.ledger_anchor``, ``chain.charity_registry``).

Bytes inside: hashes are ``bytes`` of 32, addresses checksummed strings.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import TimeExhausted, Web3Exception
from web3.types import BlockIdentifier, TxParams, TxReceipt, Wei

from chain.accounts import checksum_address, is_development_key, signing_account
from chain.artifacts import Artifact
from chain.charity_registry import (
    REGISTRAR_ROLE,
    Charity,
    change_signer_function,
    decode_charity_id,
    encode_charity_id,
    register_function,
    revoke_function,
)
from chain.embedded import EmbeddedChain
from chain.errors import (
    ChainConfigError,
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    FeeAboveCapError,
    ReceiptTimeoutError,
    SpendingLimitError,
    TransactionError,
    UnknownRevertError,
)
from chain.keystore import load_keystore, settings_password
from chain.ledger_anchor import (
    ANCHORER_ROLE,
    AnchorOutcome,
    Checkpoint,
    CheckpointEvent,
    anchor_function,
)
from chain.node import Finality, TxOutcome, http_web3, is_loopback
from chain.reader import ChainReader
from chain.remote_signer import RemoteSigner
from chain.settings import DEVNET_CHAIN_ID, ChainSettings, get_settings

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
    "decode_charity_id",
    "encode_charity_id",
]

GAS_MARGIN = 1.2
"""Gas limit = estimate × this: the estimate is exact for our calls; the margin is slack."""
DEFAULT_ADMIN_ROLE = bytes(32)
CLIENT_HINT = "is it running, and is CHAIN_RPC_URL right? ('shanlian devnet' starts a local one)"

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


class ChainClient(ChainReader):
    """A connection to one chain, a signing account, and the two contracts on it.

    Build one with ``connect``, ``embedded`` or ``from_settings``. Contract addresses come
    from the settings, ``deploy()`` or ``attach()``.
    """

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
        """The same chain and contracts, signing with another key.

        The public development keys are accepted only where ``connect`` accepts them.
        """
        other = ChainClient(
            self.w3,
            signing_account(private_key, devnet=self.is_devnet),
            chain_id=self.chain_id,
            rpc_url=self.rpc_url,
            embedded=self.embedded_chain,
            confirmations=self.confirmations,
            poll_interval_s=self.poll_interval_s,
            receipt_timeout_s=self.receipt_timeout_s,
            max_fee_per_gas=self.max_fee_per_gas,
            max_priority_fee_per_gas=self.max_priority_fee_per_gas,
            finality=self.finality,
        )
        self._share_contracts(other)
        return other

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

    def _send(self, function: ContractFunction, what: str, *, max_cost: int | None = None) -> bytes:
        """Estimate, sign and send ``function`` as a transaction; return its hash.

        A call that would revert raises its typed error here, before anything is sent.

        Args:
            function: the contract call.
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

    # -- deployment ---------------------------------------------------------------------

    def deploy_contract(self, artifact: Artifact, *args: Any) -> tuple[str, TxOutcome]:
        """Deploy any compiled contract with constructor ``args``; return its address.

        Raises:
            ContractRevertError: the constructor reverted.
        """
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        with self._calling(f"deploying {artifact.name}"):
            params = self._params()
            constructor = factory.constructor(*args)
            params["gas"] = int(constructor.estimate_gas(params) * GAS_MARGIN) + 10_000
            tx = constructor.build_transaction(params)
            signed = self.account.sign_transaction(cast(dict[str, Any], tx))
            tx_hash = bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))
        receipt = self.wait_for_receipt(tx_hash)
        address = receipt["contractAddress"]
        if address is None:
            raise TransactionError(f"deploying {artifact.name} created no contract", tx_hash)
        return checksum_address(address), self._outcome(receipt)

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

    # -- roles --------------------------------------------------------------------------

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

    # -- LedgerAnchor -------------------------------------------------------------------

    def send_anchor(
        self,
        tree_size: int,
        root_hash: bytes,
        consistency_proof: Sequence[bytes],
        *,
        max_cost: int | None = None,
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
            max_cost: the most, in wei, the transaction may cost at worst (the budget
                left); None: no limit.

        Raises:
            FeeAboveCapError, SpendingLimitError: nothing was sent (see ``_send``).
            ValueError: a size or hash out of shape.
            LedgerAnchorNotGrowingError, LedgerAnchorProofLengthError,
            LedgerAnchorInconsistentError, AccessControlUnauthorizedAccountError: the
                contract refuses it.
        """
        function = anchor_function(self.ledger_anchor, tree_size, root_hash, consistency_proof)
        return self._send(function, f"anchoring tree size {tree_size}", max_cost=max_cost)

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
        function = register_function(self.charity_registry, charity_id, signer, metadata_hash)
        return self._sent(function, f"registering charity {charity_id}")

    def revoke_charity(self, charity_id: str) -> TxOutcome:
        """Revoke a charity, and wait until final.

        Raises:
            CharityRegistryUnknownCharityError: never registered.
            CharityRegistryAlreadyRevokedError: revoked before.
            AccessControlUnauthorizedAccountError: the signer lacks ``REGISTRAR_ROLE``.
        """
        function = revoke_function(self.charity_registry, charity_id)
        return self._sent(function, f"revoking charity {charity_id}")

    def change_signer(self, charity_id: str, signer: str | None, entry_hash: bytes) -> TxOutcome:
        """Record a charity's new signer (ADR 0037), and wait until final.

        Args:
            charity_id: the journal's id.
            signer: the new signer, or None (it signs nothing from now on).
            entry_hash: the leaf hash of its ``charity.signer_changed`` entry.

        Raises:
            CharityRegistryUnknownCharityError: never registered.
            AccessControlUnauthorizedAccountError: the signer lacks ``REGISTRAR_ROLE``.
        """
        function = change_signer_function(self.charity_registry, charity_id, signer, entry_hash)
        return self._sent(function, f"changing the signer of charity {charity_id}")
