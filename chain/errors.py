"""The chain package's exceptions: one root, and a typed error per contract custom error.

A node hands back a revert as bytes: a 4-byte selector and ABI-encoded arguments.
``decode_revert`` turns them into the matching ``ContractRevertError`` subclass, so callers
catch ``LedgerAnchorNotGrowingError`` and read ``.current`` and ``.proposed`` instead of
parsing hex.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from chain.settings import redact_url


class ChainError(Exception):
    """Root of every error the chain package raises.

    An error that keeps evidence (what was asked, what the chain holds) declares it as
    attributes and hands it here by name with its message, as the contracts' custom errors
    do with their arguments: ``super().__init__(message, index=index, count=count)``.
    """

    def __init__(self, *args: object, **evidence: Any) -> None:
        super().__init__(*args)
        for name, value in evidence.items():
            setattr(self, name, value)


class ChainConfigError(ChainError):
    """The chain settings are missing or contradict each other."""


class ChainUnavailableError(ChainError):
    """The node cannot be reached, or stopped answering."""


class ChainIdMismatchError(ChainError):
    """The node serves another chain than the one configured.

    Attributes:
        expected: the chain id the settings ask for.
        actual: the chain id the node reports.
        rpc_url: the node's URL.
    """

    expected: int
    actual: int
    rpc_url: str

    def __init__(self, expected: int, actual: int, rpc_url: str) -> None:
        super().__init__(
            f"the node at {redact_url(rpc_url)} serves chain id {actual}, not {expected}: "
            f"is CHAIN_RPC_URL the node for chain id {expected}? "
            f"(If chain {actual} is the one you want, set CHAIN_ID={actual}.)",
            expected=expected,
            actual=actual,
            rpc_url=rpc_url,
        )


class CompilerError(ChainError):
    """The Solidity compiler failed or reported errors."""


class CompilerNotFoundError(CompilerError):
    """No usable Solidity compiler is installed."""


class ArtifactError(ChainError):
    """A compiled artifact in ``contracts/build`` is missing or unusable."""


class DevnetError(ChainError):
    """The local anvil devnet could not be started or stopped."""


class ContractNotDeployedError(ChainError):
    """No contract of the expected build is deployed at an address.

    Attributes:
        contract: the contract's name, e.g. ``LedgerAnchor``.
        address: the address that was checked.
    """

    contract: str
    address: str

    def __init__(self, contract: str, address: str, reason: str) -> None:
        super().__init__(f"{contract} at {address}: {reason}", contract=contract, address=address)


class UnknownCheckpointError(ChainError):
    """No checkpoint has the index asked for (yet).

    Attributes:
        index: the index asked for.
        count: how many checkpoints are anchored.
    """

    index: int
    count: int

    def __init__(self, index: int, count: int) -> None:
        super().__init__(f"no checkpoint {index}: {count} are anchored", index=index, count=count)


class CheckpointLogError(ChainError):
    """The ``CheckpointAnchored`` logs do not match what the LedgerAnchor holds.

    A node that prunes or drops logs, or a search that starts after the deployment block,
    gives this; so would a node that lies about logs, since every log is checked against
    the contract's storage.
    """


class TransactionError(ChainError):
    """A transaction was not mined successfully.

    Attributes:
        tx_hash: the transaction's hash, when it was sent.
    """

    tx_hash: bytes | None

    def __init__(self, message: str, tx_hash: bytes | None = None) -> None:
        super().__init__(message, tx_hash=tx_hash)


class ReceiptTimeoutError(TransactionError):
    """A sent transaction did not appear in a block in time; it may still be mined."""


class ContractRevertError(ChainError):
    """A contract call or transaction reverted.

    Attributes:
        data: the raw revert data (selector and ABI-encoded arguments), possibly empty.
    """

    data: bytes

    def __init__(self, message: str, data: bytes = b"", **evidence: Any) -> None:
        super().__init__(message, data=data, **evidence)


class UnknownRevertError(ContractRevertError):
    """A revert whose data matches no error in the contracts' ABIs (or has no data)."""

    def __init__(self, data: bytes) -> None:
        what = f"unknown error data 0x{data.hex()}" if data else "no revert data"
        super().__init__(f"reverted with {what}", data)


class RevertReasonError(ContractRevertError):
    """A revert with a string reason, ``Error(string)``.

    Attributes:
        reason: the reason string.
    """

    reason: str

    def __init__(self, reason: str, data: bytes) -> None:
        super().__init__(f"reverted: {reason}", data, reason=reason)


class PanicError(ContractRevertError):
    """A Solidity panic, ``Panic(uint256)``: a failed assert, an overflow, … — a bug.

    Attributes:
        code: the panic code (0x11 is an arithmetic overflow, and so on).
    """

    code: int

    def __init__(self, code: int, data: bytes) -> None:
        super().__init__(f"panicked with code 0x{code:02x}", data, code=code)


_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()


CUSTOM_ERRORS: dict[str, type[CustomContractError]] = {}
"""Solidity error name → its Python class (each subclass below adds itself). An ABI error
missing here decodes all the same, as a plain ``CustomContractError``."""


class CustomContractError(ContractRevertError):
    """A revert with one of the contracts' custom errors, arguments decoded.

    A subclass is named after the Solidity error, with ``Error`` after it
    (``LedgerAnchorNotGrowing`` is ``LedgerAnchorNotGrowingError``), and declares its
    arguments as attributes, in snake case (``fromSize`` becomes ``from_size``). It
    enters ``CUSTOM_ERRORS`` by being defined.

    Attributes:
        name: the Solidity error's name, e.g. ``LedgerAnchorNotGrowing``.
        arguments: the decoded arguments by their Solidity names, in ABI order.
    """

    solidity_name: ClassVar[str] = ""
    hint: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.solidity_name = cls.__name__.removesuffix("Error")
        CUSTOM_ERRORS[cls.solidity_name] = cls

    def __init__(
        self, arguments: Mapping[str, Any], data: bytes = b"", *, name: str | None = None
    ) -> None:
        self.name = name or self.solidity_name
        shown = ", ".join(f"{arg}={_show(value)}" for arg, value in arguments.items())
        message = f"{self.name}({shown})"
        super().__init__(
            f"{message}: {self.hint}" if self.hint else message,
            data,
            **{_snake(name): value for name, value in arguments.items()},
        )
        self.arguments = dict(arguments)


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class AccessControlUnauthorizedAccountError(CustomContractError):
    """The sender lacks the role a function needs (OpenZeppelin AccessControl)."""

    hint = "the account lacks the role; an admin must grant it"
    account: str
    needed_role: bytes


class AccessControlBadConfirmationError(CustomContractError):
    """``renounceRole`` was called for another account than the sender."""


class SafeCastOverflowedUintDowncastError(CustomContractError):
    """A value did not fit the narrower integer type it is stored as."""

    bits: int
    value: int


class LedgerAnchorNotGrowingError(CustomContractError):
    """An anchor's tree size is not larger than the latest checkpoint's."""

    hint = "a new checkpoint must cover more entries than the latest one"
    current: int
    proposed: int


class LedgerAnchorProofLengthError(CustomContractError):
    """A consistency proof has the wrong number of hashes for its two tree sizes."""

    hint = "the consistency proof must be computed from the latest anchored tree size"
    from_size: int
    to_size: int
    expected: int
    got: int


class LedgerAnchorInconsistentError(CustomContractError):
    """A consistency proof does not show that the new tree extends the anchored one."""

    hint = "the log at the new size does not extend the anchored checkpoint"
    from_size: int
    to_size: int


class LedgerAnchorUnknownRootError(CustomContractError):
    """No anchored checkpoint has the root hash asked for."""

    root_hash: bytes


class LedgerAnchorZeroRootError(CustomContractError):
    """The first checkpoint's root hash is zero, which no RFC 6962 tree has."""


class LedgerAnchorNoCheckpointError(CustomContractError):
    """The latest checkpoint was asked for before any was anchored."""


class CharityRegistryInvalidIdError(CustomContractError):
    """A charity id of zero."""

    charity_id: bytes


class CharityRegistryAlreadyRegisteredError(CustomContractError):
    """The charity id was registered before; ids are never reused."""

    charity_id: bytes


class CharityRegistryUnknownCharityError(CustomContractError):
    """The charity id was never registered."""

    charity_id: bytes


class CharityRegistryAlreadyRevokedError(CustomContractError):
    """The charity was revoked before."""

    charity_id: bytes
    revoked_at: int


_ERROR_SELECTOR = function_signature_to_4byte_selector("Error(string)")
_PANIC_SELECTOR = function_signature_to_4byte_selector("Panic(uint256)")


def _canonical_type(param: Mapping[str, Any]) -> str:
    """The ABI type of a parameter as it appears in a signature (tuples expanded)."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


class RevertDecoder:
    """Decodes revert data with the custom errors of one or more contract ABIs."""

    def __init__(self, abis: Iterable[Sequence[Mapping[str, Any]]]) -> None:
        """Index the ``error`` entries of ``abis`` by selector.

        Args:
            abis: contract ABIs, as in ``contracts/build/*.json``.
        """
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_canonical_type(p) for p in item["inputs"]]
                names = [p["name"] or f"arg{i}" for i, p in enumerate(item["inputs"])]
                selector = function_signature_to_4byte_selector(
                    f"{item['name']}({','.join(types)})"
                )
                self._errors[selector] = (item["name"], types, names)

    def decode(self, data: bytes) -> ContractRevertError:
        """The typed error for revert ``data``.

        Args:
            data: the revert data: a 4-byte selector and ABI-encoded arguments.

        Returns:
            A ``CustomContractError`` subclass for a custom error of the ABIs,
            ``RevertReasonError`` or ``PanicError`` for Solidity's built-in errors, else
            ``UnknownRevertError``. Never raises.
        """
        selector, payload = data[:4], data[4:]
        try:
            if selector == _ERROR_SELECTOR:
                (reason,) = abi_decode(["string"], payload)
                return RevertReasonError(reason, data)
            if selector == _PANIC_SELECTOR:
                (code,) = abi_decode(["uint256"], payload)
                return PanicError(code, data)
            known = self._errors.get(selector)
            if known is None:
                return UnknownRevertError(data)
            name, types, names = known
            values = abi_decode(types, payload, strict=False)
        except (DecodingError, OverflowError, ValueError):
            return UnknownRevertError(data)
        arguments = {
            arg: to_checksum_address(value) if kind == "address" else value
            for arg, kind, value in zip(names, types, values, strict=True)
        }
        cls = CUSTOM_ERRORS.get(name)
        if cls is None:
            return CustomContractError(arguments, data, name=name)
        return cls(arguments, data)


class KeystoreError(ChainConfigError):
    """An encrypted keystore (Web3 Secret Storage) or its password cannot be used.

    The message names the file and what to do; it never holds the password or the key.
    """


class SignerError(ChainError):
    """An external signer refused, failed, or signed something other than what was asked."""


class FeeAboveCapError(ChainError):
    """The chain's base fee is above the fee cap: nothing was sent; send later.

    Attributes:
        base_fee: the next block's base fee, in wei a unit of gas.
        max_fee: the cap (``CHAIN_MAX_FEE_PER_GAS``), in wei a unit of gas.
    """

    base_fee: int
    max_fee: int

    def __init__(self, base_fee: int, max_fee: int) -> None:
        super().__init__(
            f"the base fee is {base_fee:,} wei a gas, above the cap CHAIN_MAX_FEE_PER_GAS "
            f"({max_fee:,}): nothing was sent; it is sent when the base fee falls under the cap",
            base_fee=base_fee,
            max_fee=max_fee,
        )


class SpendingLimitError(ChainError):
    """A transaction could cost more than the caller allows: nothing was sent.

    Attributes:
        worst_cost: the most it could cost (gas limit × max fee per gas), in wei.
        allowed: what the caller allows, in wei.
    """

    worst_cost: int
    allowed: int

    def __init__(self, worst_cost: int, allowed: int, what: str) -> None:
        super().__init__(
            f"{what}: it could cost up to {worst_cost:,} wei, more than the {allowed:,} wei "
            "left in the budget: nothing was sent",
            worst_cost=worst_cost,
            allowed=allowed,
        )
