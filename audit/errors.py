"""The audit's exceptions: one root, and a typed error per proof-bundle step.

A failing step of ``shanlian verify`` raises a ``BundleError`` subclass whose ``step``
names the step and whose attributes keep the evidence (the hash expected, the hash
calculated, what the chain holds).
"""

from __future__ import annotations

from typing import Any


class AuditError(Exception):
    """Root of every error the audit package raises.

    An error that keeps evidence declares it as attributes and hands it here by name with
    its message: ``super().__init__(message, expected=expected, calculated=calculated)``.
    """

    def __init__(self, *args: object, **evidence: Any) -> None:
        super().__init__(*args)
        for name, value in evidence.items():
            setattr(self, name, value)


class ExportError(AuditError):
    """A journal export (a file or a URL) cannot be read at all.

    Attributes:
        source: the file or URL.
    """

    source: str

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}", source=source)


class ChainReadError(AuditError):
    """The chain cannot be read as the audit needs (no contract at the address, …)."""


class LineError(AuditError):
    """One line of an export is not an entry in canonical form.

    Attributes:
        check: ``json`` (not JSON), ``entry`` (not a valid v1 entry) or ``canonical``
            (valid, but its bytes are not the entry's RFC 8785 form).
        detail: what is wrong, e.g. ``body.amount: must be greater than 0``.
    """

    check: str
    detail: str

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check}: {detail}", check=check, detail=detail)


# -- proof bundles ---------------------------------------------------------------------


class BundleError(AuditError):
    """A proof bundle failed a step of its verification.

    Attributes:
        step: the step that failed (``format``, ``entry``, ``leaf_hash``, ``inclusion``,
            ``chain``, ``contract``, ``checkpoint``, ``anchor_tx``, ``contract_call``).
    """

    step = ""
    message: str

    def __init__(self, message: str, **evidence: Any) -> None:
        super().__init__(f"{self.step}: {message}", message=message, **evidence)


class BundleFieldError(BundleError):
    """A step that failed on one field of the bundle, which it names.

    Attributes:
        field: dotted path of the offending field (inside the entry, for an entry error).
    """

    field_prefix = ""
    """What the field's path is under, as the message names it (``entry.``)."""

    field: str

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{self.field_prefix}{field}: {message}", field=field)


class BundleFormatError(BundleFieldError):
    """The bundle is not a ``shanlian-proof/v1`` document; ``field`` is e.g.
    ``checkpoint.tree_size``."""

    step = "format"


class BundleEntryError(BundleFieldError):
    """The bundle's entry is not a valid v1 entry in its normalized form; ``field`` is
    the offending field inside the entry."""

    step = "entry"
    field_prefix = "entry."


class LeafHashMismatchError(BundleError):
    """SHA-256(0x00 ‖ canonical entry) is not the bundle's ``leaf_hash``.

    Attributes:
        expected: the bundle's ``leaf_hash``.
        calculated: the hash of the entry as given.
    """

    step = "leaf_hash"

    expected: bytes
    calculated: bytes

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        super().__init__(
            f"the entry hashes to 0x{calculated.hex()}, the bundle says 0x{expected.hex()}: "
            "the entry or the leaf hash was changed",
            expected=expected,
            calculated=calculated,
        )


class InclusionProofError(BundleError):
    """The inclusion proof does not lead from the leaf to the checkpoint's root.

    Attributes:
        seq: the leaf index (the entry's ``seq``).
        tree_size: the checkpoint's tree size.
        root_hash: the checkpoint's root.
        calculated: the root the proof leads to, when it has the right shape.
    """

    step = "inclusion"

    seq: int
    tree_size: int
    root_hash: bytes
    calculated: bytes | None

    def __init__(
        self, seq: int, tree_size: int, root_hash: bytes, detail: str, calculated: bytes | None
    ) -> None:
        super().__init__(
            f"leaf {seq} is not shown in the tree of {tree_size} entries with root "
            f"0x{root_hash.hex()}: {detail}",
            seq=seq,
            tree_size=tree_size,
            root_hash=root_hash,
            calculated=calculated,
        )


class BundleChainError(BundleError):
    """The node serves another chain than the bundle's ``anchor.chain_id``.

    Attributes:
        expected: the bundle's chain id (or the one pinned with ``--chain-id``).
        actual: the node's chain id.
    """

    step = "chain"

    expected: int
    actual: int

    def __init__(self, expected: int, actual: int, detail: str = "") -> None:
        super().__init__(
            detail or f"the node serves chain id {actual}, the bundle was anchored on {expected}",
            expected=expected,
            actual=actual,
        )


class ContractMismatchError(BundleError):
    """The bundle names another contract than the one the verifier trusts, or no
    LedgerAnchor of the published build is at that address.

    Attributes:
        expected: the contract the verifier pinned (or the bundle's, for a code check).
        actual: the bundle's contract.
    """

    step = "contract"

    expected: str
    actual: str

    def __init__(self, expected: str, actual: str, detail: str) -> None:
        super().__init__(detail, expected=expected, actual=actual)


class CheckpointMismatchError(BundleError):
    """The contract's checkpoint at the bundle's index is not the bundle's checkpoint.

    Attributes:
        index: the checkpoint index the bundle names.
        field: ``tree_size``, ``root_hash`` or ``index`` (no such checkpoint).
        bundle_value: what the bundle says.
        chain_value: what the contract holds (None when there is no such checkpoint).
    """

    step = "checkpoint"

    index: int
    field: str
    bundle_value: object
    chain_value: object

    def __init__(
        self, index: int, field: str, bundle_value: object, chain_value: object, detail: str
    ) -> None:
        super().__init__(
            detail, index=index, field=field, bundle_value=bundle_value, chain_value=chain_value
        )


class AnchorTransactionError(BundleError):
    """The anchoring transaction is not where the bundle says, or anchored something else.

    Attributes:
        tx_hash: the bundle's ``anchor.tx_hash``.
    """

    step = "anchor_tx"

    tx_hash: bytes

    def __init__(self, tx_hash: bytes, detail: str) -> None:
        super().__init__(f"transaction 0x{tx_hash.hex()}: {detail}", tx_hash=tx_hash)


class ContractCallError(BundleError):
    """The contract's own ``verifyInclusion`` (by ``eth_call``) returned false."""

    step = "contract_call"


class SignedCheckpointError(BundleError):
    """The checkpoint signed by the log key is missing, does not verify, or names another
    tree than the bundle's checkpoint (ADR 0031)."""

    step = "signed_checkpoint"


class CosignatureError(BundleError):
    """The bundle's checkpoint does not carry the witnesses' cosignatures a policy needs,
    or one by a witness's key does not verify (ADR 0035)."""

    step = "cosignatures"
