"""Charity signatures: EIP-712 typed data of the journal's fund-use entries (ADR 0037).

A charity signs the entries of its fund use with the key registered as its ``signer``
(``charity.registered``, ``charity.signer_changed``, and the CharityRegistry on chain).
What it signs is EIP-712 typed data, so that any Ethereum wallet can sign it
(``eth_signTypedData_v4``) and any EIP-712 library can check it:

- the domain: ``name`` "shanlian", ``version`` "1", the chain id, and the CharityRegistry
  as ``verifyingContract`` (a signature made for one deployment is worthless on another);
- one struct type a kind of entry (``SIGNED_KINDS``), named after it (``DisbursementMade``),
  whose fields are the body's fields under their own names, plus ``charity_id`` where the
  body has none; every body field is signed.

Values map one to one: strings and ids to ``string`` (a null id to ``""``, which no id
is), amounts and seqs to ``uint256``, SHA-256 digests to ``bytes32``, ``public`` to
``bool``, a signer to ``address`` (none: the zero address). Web3 stays in this package
(ADR 0025): the API, the audit and the CLI build, sign and check typed data here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address

from chain.accounts import ZERO_ADDRESS
from chain.errors import ChainError

DOMAIN_NAME = "shanlian"
DOMAIN_VERSION = "1"
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
"""Half the secp256k1 group order: a signature's ``s`` above it is the malleable twin
of another (EIP-2), refused so that one signature has one spelling in the journal."""


def _fields(declaration: str) -> list[dict[str, str]]:
    """EIP-712 field declarations, in order, from ``"name type, name type, …"``."""
    return [
        {"name": name, "type": type_}
        for name, type_ in (field.split() for field in declaration.split(", "))
    ]


_EVIDENCE = _fields("sha256 bytes32, media_type string, public bool")

SIGNED_KINDS: Mapping[str, tuple[str, list[dict[str, str]]]] = {
    kind: (primary, _fields(declaration))
    for kind, primary, declaration in [
        (
            "project.opened",
            "ProjectOpened",
            "project_id string, charity_id string, title string, goal_amount uint256, "
            "currency string",
        ),
        (
            "disbursement.made",
            "DisbursementMade",
            "disbursement_id string, charity_id string, project_id string, amount uint256, "
            "currency string, payee string, purpose string, evidence Evidence[]",
        ),
        (
            "disbursement.voided",
            "DisbursementVoided",
            "charity_id string, disbursement_id string, reason string",
        ),
        (
            "allocation.made",
            "AllocationMade",
            "charity_id string, allocation_id string, donation_id string, "
            "disbursement_id string, amount uint256",
        ),
        (
            "allocation.reversed",
            "AllocationReversed",
            "charity_id string, allocation_id string, reason string",
        ),
        (
            "charity.signer_changed",
            "SignerChanged",
            "charity_id string, signer address, previous_seq uint256, reason string",
        ),
    ]
}
"""Each signed kind's primary type and its fields, in the order they are hashed."""

DOMAIN_TYPE = _fields("name string, version string, chainId uint256, verifyingContract address")


class SignatureError(ChainError):
    """A signature that cannot be read or recovered (not one of typed data's signer).

    Attributes:
        reason: what is wrong with it, in words for a problem document.
    """

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason, reason=reason)


def _value(kind: str, name: str, type_: str, value: Any) -> Any:
    if type_ == "string":
        return "" if value is None else str(value)
    if type_ == "uint256":
        return int(value)
    if type_ == "address":
        return ZERO_ADDRESS if value is None else to_checksum_address(str(value))
    if type_ == "bytes32":
        return str(value)
    if type_ == "bool":
        return bool(value)
    raise ValueError(f"{kind}: field {name} has no mapping for type {type_}")


def typed_data(
    kind: str,
    body: Mapping[str, Any],
    *,
    charity_id: str,
    chain_id: int,
    registry: str,
) -> dict[str, Any]:
    """The EIP-712 typed data a charity signs for one entry, as ``eth_signTypedData_v4``
    takes it (JSON: ``types``, ``primaryType``, ``domain``, ``message``).

    Args:
        kind: one of ``SIGNED_KINDS``.
        body: the entry's normalized body (``ledger.entries.validate_body``).
        charity_id: the charity the entry is about (and whose key signs it).
        chain_id: the chain the CharityRegistry is on.
        registry: the CharityRegistry's address.

    Raises:
        ValueError: an unsigned kind, or a body without a field of its type.
    """
    if kind not in SIGNED_KINDS:
        raise ValueError(f"entries of kind {kind!r} are not signed by a charity")
    _primary, fields = SIGNED_KINDS[kind]
    values = {**body, "charity_id": charity_id}
    message: dict[str, Any] = {}
    for item in fields:
        name, type_ = item["name"], item["type"]
        if name not in values:
            raise ValueError(f"{kind}: the body has no {name}")
        if type_ == "Evidence[]":
            message[name] = [
                {e["name"]: _value(kind, e["name"], e["type"], ev[e["name"]]) for e in _EVIDENCE}
                for ev in values[name]
            ]
        else:
            message[name] = _value(kind, name, type_, values[name])
    return {
        **types_of(kind),
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(registry),
        },
        "message": message,
    }


def types_of(kind: str) -> dict[str, Any]:
    """The EIP-712 ``types`` and ``primaryType`` of a signed kind (what a verifier that
    builds the message from an entry itself needs; the in-browser one takes it from here).

    Raises:
        KeyError: an unsigned kind.
    """
    primary, fields = SIGNED_KINDS[kind]
    types: dict[str, Any] = {"EIP712Domain": DOMAIN_TYPE, primary: fields}
    if primary == "DisbursementMade":
        types["Evidence"] = _EVIDENCE
    return {"types": types, "primaryType": primary}


def normalize_signature(signature: str) -> str:
    """A 65-byte signature as the journal keeps it: 0x lowercase hex, ``v`` 27 or 28.

    Wallets answer ``v`` as 27/28 or as 0/1: both are taken, the first is kept.

    Raises:
        SignatureError: not 65 bytes of hex, a ``v`` other than 0, 1, 27, 28, or a
            malleable high ``s`` (EIP-2).
    """
    text = signature[2:] if signature[:2] in ("0x", "0X") else signature
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise SignatureError("is not hex") from None
    if len(raw) != 65:
        raise SignatureError(f"is {len(raw)} bytes long, a signature is 65 (r, s, v)")
    v = raw[64]
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise SignatureError(f"has v = {raw[64]}, which is none of 0, 1, 27, 28")
    if int.from_bytes(raw[32:64], "big") > SECP256K1_HALF_N:
        raise SignatureError("has a high s (EIP-2): sign again with a current wallet")
    return "0x" + (raw[:64] + bytes([v])).hex()


def recover_signer(typed: Mapping[str, Any], signature: str) -> str:
    """The address whose key made ``signature`` over ``typed``, lowercase.

    Any signature recovers to some address: compare it with the signer expected.

    Raises:
        SignatureError: the signature cannot be read or recovered.
    """
    normalized = normalize_signature(signature)
    try:
        message = encode_typed_data(full_message=dict(typed))
        address = Account.recover_message(message, signature=bytes.fromhex(normalized[2:]))
    except (BadSignature, ValueError, TypeError) as exc:
        raise SignatureError(f"cannot be recovered: {exc}") from None
    return str(address).lower()


def typed_data_digest(typed: Mapping[str, Any]) -> bytes:
    """The 32-byte digest a wallet signs for ``typed`` (keccak-256 of 0x1901, the domain's
    hashStruct and the message's): what another implementation must compute too."""
    message = encode_typed_data(full_message=dict(typed))
    return bytes(_hash_eip191_message(message))


def sign_typed_data(typed: Mapping[str, Any], private_key: str | bytes) -> str:
    """Sign typed data with a private key (the CLI, tests and the demo's charities).

    Returns:
        The signature as the journal keeps it (``normalize_signature``).
    """
    message = encode_typed_data(full_message=dict(typed))
    signed = Account.sign_message(message, private_key=private_key)
    return normalize_signature("0x" + bytes(signed.signature).hex())


def new_key() -> tuple[str, bytes]:
    """A new random signing key: its address (lowercase) and the private key."""
    account = Account.create()
    return str(account.address).lower(), bytes(account.key)


def address_of(private_key: str | bytes) -> str:
    """The lowercase address of a private key."""
    return str(Account.from_key(private_key).address).lower()


def encrypt_keystore(private_key: bytes, password: str) -> dict[str, Any]:
    """A Web3 Secret Storage (keystore v3) document of ``private_key``, scrypt-encrypted."""
    document: dict[str, Any] = Account.encrypt(private_key, password, kdf="scrypt")
    return document


def decrypt_keystore(document: Mapping[str, Any], password: str) -> bytes:
    """The private key in a keystore document.

    Raises:
        SignatureError: the password is wrong or the document is not a keystore.
    """
    try:
        return bytes(Account.decrypt(dict(document), password))
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"cannot open the keystore: {exc}") from None
