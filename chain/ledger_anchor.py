"""The LedgerAnchor contract: its checkpoints, read and confirmed, and the anchor call.

``LedgerAnchorReads`` holds every read of the contract; ``chain.reader.ChainReader`` (and
so ``ChainClient``) has them. ``LedgerAnchorWrites`` holds its writes (a base of
``ChainClient``, sent through ``chain.transactions.TransactionSender``, which signs).
Reads take a ``block``, so that one audit reads one snapshot while the operator keeps
anchoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception
from web3.types import BlockIdentifier, TxReceipt

from chain.errors import (
    CheckpointLogError,
    LedgerAnchorNoCheckpointError,
    LedgerAnchorUnknownRootError,
    TransactionError,
    UnknownCheckpointError,
)
from chain.node import Node, TxOutcome, check_hash
from chain.transactions import TransactionSender

UINT64_MAX = 2**64 - 1
ANCHORER_ROLE = Web3.keccak(text="ANCHORER_ROLE")
"""keccak-256 of the role's name, as OpenZeppelin's AccessControl derives it."""


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
class AnchorTransaction:
    """A transaction as a verifier sees it: where it is, and what it anchored.

    Attributes:
        tx_hash: the transaction.
        block_number: the block its receipt names.
        succeeded: its status is 1.
        canonical: that block of the canonical chain holds it (no reorg took it out).
        anchored: the ``CheckpointAnchored`` logs of the attached LedgerAnchor in it, as
            (index, tree size, root hash).
    """

    tx_hash: bytes
    block_number: int
    succeeded: bool
    canonical: bool
    anchored: list[tuple[int, int, bytes]]


def anchor_function(
    contract: Contract, tree_size: int, root_hash: bytes, consistency_proof: Sequence[bytes]
) -> ContractFunction:
    """``anchor(tree_size, root_hash, consistency_proof)``, its arguments checked.

    Raises:
        ValueError: a size or hash out of shape.
    """
    if not 0 < tree_size <= UINT64_MAX:
        raise ValueError(f"tree size {tree_size} is not in 1 … 2**64 - 1")
    check_hash("root hash", root_hash)
    for i, h in enumerate(consistency_proof):
        check_hash(f"consistency proof hash {i}", h)
    return contract.functions.anchor(
        tree_size, bytes(root_hash), [bytes(h) for h in consistency_proof]
    )


def anchored_in(contract: Contract, receipt: TxReceipt) -> list[tuple[int, int, bytes]]:
    """The ``CheckpointAnchored`` logs ``contract`` emitted in ``receipt``: (index, size, root)."""
    event = contract.events.CheckpointAnchored()
    anchored: list[tuple[int, int, bytes]] = []
    for log in receipt["logs"]:
        if str(log["address"]).lower() != str(contract.address).lower():
            continue
        try:
            args = event.process_log(log)["args"]
        except (Web3Exception, ValueError, LookupError):
            continue  # another event of the contract
        anchored.append((int(args["index"]), int(args["treeSize"]), bytes(args["rootHash"])))
    return anchored


class LedgerAnchorReads(Node):
    """The reads of the attached LedgerAnchor (a base of ``ChainReader``)."""

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
        check_hash("root hash", root_hash)
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
        check_hash("leaf hash", leaf_hash)
        for i, h in enumerate(proof):
            check_hash(f"inclusion proof hash {i}", h)
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

    def anchor_transaction(self, tx_hash: bytes) -> AnchorTransaction | None:
        """Where ``tx_hash`` is, whether it succeeded, and the checkpoints the attached
        LedgerAnchor anchored in it; None when the chain holds no such transaction.

        Raises:
            ChainError: the node fails.
        """
        receipt = self.receipt(tx_hash)
        if receipt is None:
            return None
        block_number = int(receipt["blockNumber"])
        with self._calling(f"reading block {block_number}"):
            block = self.w3.eth.get_block(block_number)
        return AnchorTransaction(
            tx_hash=bytes(tx_hash),
            block_number=block_number,
            succeeded=int(receipt["status"]) == 1,
            canonical=bytes(block["hash"]) == bytes(receipt["blockHash"]),
            anchored=anchored_in(self.ledger_anchor, receipt),
        )


class LedgerAnchorWrites(TransactionSender):
    """The writes to the attached LedgerAnchor (a base of ``ChainClient``): anchoring a
    checkpoint, checked first, then sent and waited for.
    """

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
