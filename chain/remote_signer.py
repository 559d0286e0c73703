"""An external signer: the anchorer's key stays in another process, HSM or machine.

The platform asks a JSON-RPC signer to sign each transaction and sends the result itself,
so the signer needs no access to the chain, and this process never holds the key. Two
methods are spoken:

- ``eth_signTransaction`` (the default): web3signer in its Ethereum (eth1) mode, geth and
  anvil with an unlocked account; the answer is the raw signed transaction.
- ``account_signTransaction``: Clef's external API; the answer is ``{"raw": …, "tx": …}``.

Every signed transaction is decoded and compared with what was asked: the sender, the
nonce, the recipient, the call data, the value, the chain and the gas are the request's,
and the fees no higher. A signer that signs something else is refused (``SignerError``)
and nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3

from chain.accounts import checksum_address
from chain.errors import SignerError
from chain.settings import redact_url

SIGNER_METHODS = ("eth_signTransaction", "account_signTransaction")
_QUANTITIES = ("nonce", "gas", "value", "chainId", "maxFeePerGas", "maxPriorityFeePerGas")


@dataclass(frozen=True)
class SignedTransaction:
    """A transaction signed by the external signer, ready to send.

    Attributes:
        raw_transaction: the signed transaction's bytes (EIP-2718 typed).
    """

    raw_transaction: bytes


class RemoteSigner:
    """Signs transactions for one address through a JSON-RPC signer.

    Attributes:
        address: the checksummed address it signs as.
        url: the signer's endpoint.
        method: ``eth_signTransaction`` or ``account_signTransaction`` (Clef).
    """

    def __init__(
        self,
        url: str,
        address: str,
        *,
        method: str = "eth_signTransaction",
        request_timeout_s: float = 30.0,
    ) -> None:
        """Configure the signer; nothing is asked until the first signature.

        Raises:
            SignerError: an unknown method, or an address that is not one.
        """
        if method not in SIGNER_METHODS:
            raise SignerError(f"signer method {method!r}: one of {', '.join(SIGNER_METHODS)}")
        try:
            self.address = checksum_address(address)
        except ValueError:
            raise SignerError(
                "CHAIN_ANCHORER_ADDRESS is not an address (0x and 40 hex digits)"
            ) from None
        self.url = url
        self.method = method
        # A signer may ask a human (Clef's approval prompt): allow it time.
        self._provider = Web3.HTTPProvider(
            url, request_kwargs={"timeout": request_timeout_s}, exception_retry_configuration=None
        )

    def __repr__(self) -> str:
        return f"RemoteSigner({redact_url(self.url)}, {self.address}, {self.method})"

    def sign_transaction(self, tx: dict[str, Any]) -> SignedTransaction:
        """Have the signer sign ``tx`` (an EIP-1559 transaction) and check what it signed.

        Raises:
            SignerError: the signer does not answer, refuses, or signed another
                transaction than ``tx``, or as another address.
        """
        request = _rpc_transaction(tx, self.address)
        where = redact_url(self.url)
        try:
            response = self._provider.make_request(self.method, [request])
        except OSError as exc:
            raise SignerError(
                f"the external signer at {where} does not answer ({exc.__class__.__name__}): "
                "is it running, and is CHAIN_ANCHORER_SIGNER_URL right?"
            ) from None
        if "error" in response:
            refusal = response["error"]
            message = refusal.get("message") if isinstance(refusal, dict) else refusal
            raise SignerError(f"the external signer at {where} refused to sign: {message}")
        result = response.get("result")
        if isinstance(result, dict):  # Clef: {"raw": "0x…", "tx": {…}}
            result = result.get("raw")
        if not isinstance(result, str) or not result.startswith("0x"):
            raise SignerError(f"the external signer at {where} answered no signed transaction")
        try:
            raw = bytes.fromhex(result[2:])
        except ValueError:
            raise SignerError(f"the external signer at {where} answered no hex") from None
        self._check(raw, tx, where)
        return SignedTransaction(raw_transaction=raw)

    def _check(self, raw: bytes, tx: dict[str, Any], where: str) -> None:
        try:
            signed = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
            sender = Account.recover_transaction(raw)
        except Exception as error:  # any decoding failure: the bytes are not a transaction
            raise SignerError(
                f"the external signer at {where} answered bytes that are not a signed "
                f"EIP-1559 transaction ({error.__class__.__name__})"
            ) from None
        problems = []
        if sender != self.address:
            problems.append(f"it is signed by {sender}, not {self.address}")
        for name in ("nonce", "gas", "value", "chainId"):
            if int(signed.get(name, -1)) != int(tx.get(name, 0)):
                problems.append(f"its {name} is {signed.get(name)}, not {tx.get(name, 0)}")
        for name in ("maxFeePerGas", "maxPriorityFeePerGas"):
            if name in tx and int(signed.get(name, -1)) > int(tx[name]):
                problems.append(f"its {name} {signed.get(name)} is above {tx[name]}")
        to = bytes(signed.get("to") or b"").hex() or None
        wanted_to = tx.get("to")
        if to != (checksum_address(str(wanted_to))[2:].lower() if wanted_to else None):
            problems.append("its recipient is not the one asked for")
        data = bytes(signed.get("data", b""))
        wanted = tx.get("data", b"")
        wanted_data = bytes.fromhex(wanted[2:]) if isinstance(wanted, str) else bytes(wanted)
        if data != wanted_data:
            problems.append("its call data is not the one asked for")
        if problems:
            raise SignerError(
                f"the external signer at {where} signed another transaction than asked: "
                + "; ".join(problems)
                + ". Nothing was sent"
            )


def _rpc_transaction(tx: dict[str, Any], address: str) -> dict[str, Any]:
    """``tx`` as the JSON object ``eth_signTransaction`` takes: hex quantities, ``data``."""
    request: dict[str, Any] = {"from": address}
    for name in _QUANTITIES:
        if name in tx:
            request[name] = hex(int(tx[name]))
    if tx.get("to"):
        request["to"] = checksum_address(str(tx["to"]))
    data = tx.get("data", b"")
    request["data"] = data if isinstance(data, str) else "0x" + bytes(data).hex()
    request.setdefault("value", "0x0")
    return request
