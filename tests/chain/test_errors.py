"""Revert decoding: every custom error of the ABIs has its typed Python error."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_tester.exceptions import TransactionFailed
from eth_utils.abi import function_signature_to_4byte_selector

from chain.artifacts import CHARITY_REGISTRY, LEDGER_ANCHOR, load_artifact
from chain.embedded import revert_data
from chain.errors import (
    CUSTOM_ERRORS,
    AccessControlUnauthorizedAccountError,
    ChainError,
    ContractRevertError,
    CustomContractError,
    LedgerAnchorProofLengthError,
    PanicError,
    RevertDecoder,
    RevertReasonError,
    UnknownRevertError,
)

ABIS = [load_artifact(LEDGER_ANCHOR).abi, load_artifact(CHARITY_REGISTRY).abi]


def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


@pytest.fixture
def decoder() -> RevertDecoder:
    return RevertDecoder(ABIS)


def test_every_error_in_the_abis_has_a_typed_python_error() -> None:
    in_abis = {item["name"] for abi in ABIS for item in abi if item["type"] == "error"}
    assert in_abis <= set(CUSTOM_ERRORS)
    for name, cls in CUSTOM_ERRORS.items():
        assert issubclass(cls, CustomContractError)
        assert issubclass(cls, ChainError)
        assert cls.__name__ == f"{name}Error"


def test_a_custom_error_decodes_to_its_class_with_its_arguments(decoder: RevertDecoder) -> None:
    data = selector("LedgerAnchorProofLength(uint64,uint64,uint256,uint256)") + encode(
        ["uint64", "uint64", "uint256", "uint256"], [7, 9, 3, 2]
    )
    error = decoder.decode(data)
    assert isinstance(error, LedgerAnchorProofLengthError)
    assert (error.from_size, error.to_size, error.expected, error.got) == (7, 9, 3, 2)
    assert error.arguments == {"fromSize": 7, "toSize": 9, "expected": 3, "got": 2}
    assert error.data == data
    assert str(error).startswith("LedgerAnchorProofLength(fromSize=7, toSize=9, expected=3, got=2)")


def test_addresses_are_checksummed_and_bytes_kept(decoder: RevertDecoder) -> None:
    account = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    role = bytes(range(32))
    data = selector("AccessControlUnauthorizedAccount(address,bytes32)") + encode(
        ["address", "bytes32"], [account, role]
    )
    error = decoder.decode(data)
    assert isinstance(error, AccessControlUnauthorizedAccountError)
    assert (error.account, error.needed_role) == (account, role)


def test_an_error_missing_from_the_python_classes_still_decodes() -> None:
    abi = [{"type": "error", "name": "Brandnew", "inputs": [{"name": "n", "type": "uint8"}]}]
    error = RevertDecoder([abi]).decode(selector("Brandnew(uint8)") + encode(["uint8"], [5]))
    assert type(error) is CustomContractError
    assert (error.name, error.arguments) == ("Brandnew", {"n": 5})


def test_builtin_errors_decode(decoder: RevertDecoder) -> None:
    reason = decoder.decode(selector("Error(string)") + encode(["string"], ["nope"]))
    assert isinstance(reason, RevertReasonError)
    assert reason.reason == "nope"
    panic = decoder.decode(selector("Panic(uint256)") + encode(["uint256"], [0x11]))
    assert isinstance(panic, PanicError)
    assert panic.code == 0x11


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01\x02",
        bytes.fromhex("deadbeef") + bytes(32),
        # A known selector with arguments cut short.
        selector("LedgerAnchorNotGrowing(uint64,uint64)") + bytes(31),
        selector("Error(string)") + b"\xff" * 40,
    ],
)
def test_undecodable_data_is_an_unknown_revert(decoder: RevertDecoder, data: bytes) -> None:
    error = decoder.decode(data)
    assert isinstance(error, UnknownRevertError)
    assert isinstance(error, ContractRevertError)
    assert error.data == data


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (TransactionFailed(b"\xdb\xdf\x976" + bytes(4)), b"\xdb\xdf\x976" + bytes(4)),
        (TransactionFailed(repr(b"\x06\xe3\xfb)")), b"\x06\xe3\xfb)"),
        (TransactionFailed(Exception(b"\x01\x02")), b"\x01\x02"),
        (
            TransactionFailed("nope"),
            selector("Error(string)") + encode(["string"], ["nope"]),
        ),
        (TransactionFailed(None), None),
        (TransactionFailed("b'not python"), None),
    ],
)
def test_eth_tester_failures_give_back_their_revert_bytes(
    failure: TransactionFailed, expected: bytes | None
) -> None:
    assert revert_data(failure) == expected
