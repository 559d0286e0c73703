"""The CharityRegistry contract: charities by id, as the journal names them.

``CharityRegistryReads`` holds the contract's reads (a base of ``ChainReader``);
``CharityRegistryWrites`` its writes (a base of ``ChainClient``, sent through
``chain.transactions.TransactionSender``).
A charity id is registered as a ``bytes32``: its UTF-8, right-padded with zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import BlockIdentifier

from chain.accounts import ZERO_ADDRESS, checksum_address
from chain.errors import ChainError
from chain.node import HASH_SIZE, Node, TxOutcome, check_hash
from chain.transactions import TransactionSender

REGISTRAR_ROLE = Web3.keccak(text="REGISTRAR_ROLE")
"""keccak-256 of the role's name, as OpenZeppelin's AccessControl derives it."""


@dataclass(frozen=True)
class Charity:
    """A charity in the on-chain registry.

    Attributes:
        charity_id: the journal's id, e.g. ``ch_…``.
        signer: the address that signs its entries, or None.
        metadata_hash: the hash registered with it.
        registered_at: block timestamp of the registration.
        revoked_at: block timestamp of the revocation, or None while active.
    """

    charity_id: str
    signer: str | None
    metadata_hash: bytes
    registered_at: int
    revoked_at: int | None

    @property
    def active(self) -> bool:
        """Registered and not revoked."""
        return self.revoked_at is None


def encode_charity_id(charity_id: str) -> bytes:
    """The ``bytes32`` a charity id is registered under: its UTF-8, right-padded with zeros.

    Reversible by ``decode_charity_id``, so the chain shows the journal's own ids.

    Raises:
        ValueError: the id is empty, longer than 32 bytes in UTF-8, or holds a NUL.
    """
    raw = charity_id.encode("utf-8")
    if not raw or len(raw) > HASH_SIZE or b"\x00" in raw:
        raise ValueError(f"charity id {charity_id!r} must be 1 to 32 UTF-8 bytes, without NUL")
    return raw.ljust(HASH_SIZE, b"\x00")


def decode_charity_id(key: bytes) -> str:
    """The charity id that ``encode_charity_id`` turned into ``key``."""
    return key.rstrip(b"\x00").decode("utf-8")


@dataclass(frozen=True)
class SignerRecord:
    """One step of a charity's signer history on chain (ADR 0037).

    Attributes:
        charity_id: the journal's id.
        signer: the signer from then on (lowercase), or None.
        entry_hash: the leaf hash of the journal entry that set it (``charity.registered``
            or ``charity.signer_changed``).
        block_number: the block whose event recorded it.
    """

    charity_id: str
    signer: str | None
    entry_hash: bytes
    block_number: int


class CharityRegistryReads(Node):
    """The reads of the attached CharityRegistry (a base of ``ChainReader``)."""

    def charity(self, charity_id: str, block: BlockIdentifier = "latest") -> Charity:
        """A registered charity.

        Raises:
            CharityRegistryUnknownCharityError: never registered.
        """
        with self._calling(f"reading charity {charity_id}"):
            signer, registered_at, revoked_at, metadata_hash = (
                self.charity_registry.functions.charityOf(encode_charity_id(charity_id)).call(
                    block_identifier=block
                )
            )
        return Charity(
            charity_id=charity_id,
            signer=None if int(signer, 16) == 0 else checksum_address(signer),
            metadata_hash=bytes(metadata_hash),
            registered_at=int(registered_at),
            revoked_at=int(revoked_at) or None,
        )

    def signer_history(self, block: BlockIdentifier = "latest") -> list[SignerRecord]:
        """Every signer every charity had up to ``block``: its ``CharityRegistered`` and
        ``CharitySignerChanged`` events, in chain order (ADR 0037).

        Raises:
            ChainError: the node fails or refuses ``eth_getLogs``.
        """
        events = self.charity_registry.events
        records: list[tuple[int, int, SignerRecord]] = []
        with self._calling("reading the charities' signer history"):
            try:
                registered = events.CharityRegistered().get_logs(from_block=0, to_block=block)
                changed = events.CharitySignerChanged().get_logs(from_block=0, to_block=block)
            except (Web3Exception, ValueError) as exc:
                raise ChainError(f"reading the signer history: {exc}") from exc
        for log, hash_name in [(log, "metadataHash") for log in registered] + [
            (log, "entryHash") for log in changed
        ]:
            try:
                charity_id = decode_charity_id(bytes(log["args"]["charityId"]))
            except UnicodeDecodeError:
                continue
            signer = str(log["args"]["signer"]).lower()
            records.append(
                (
                    int(log["blockNumber"]),
                    int(log["logIndex"]),
                    SignerRecord(
                        charity_id=charity_id,
                        signer=None if int(signer, 16) == 0 else signer,
                        entry_hash=bytes(log["args"][hash_name]),
                        block_number=int(log["blockNumber"]),
                    ),
                )
            )
        records.sort(key=lambda item: (item[0], item[1]))
        return [record for _block, _index, record in records]

    def is_charity_active(self, charity_id: str) -> bool:
        """Whether a charity is registered and not revoked."""
        with self._calling(f"reading charity {charity_id}"):
            return bool(
                self.charity_registry.functions.isActive(encode_charity_id(charity_id)).call()
            )

    def registered_charity_ids(self, block: BlockIdentifier = "latest") -> list[str]:
        """Ids of every charity the registry registered up to ``block``, from its
        ``CharityRegistered`` logs; an id that is not UTF-8 is shown as ``0x`` hex.

        Raises:
            ChainError: the node fails or refuses (some refuse ``eth_getLogs`` over the
                whole chain).
        """
        with self._calling("reading CharityRegistered logs"):
            try:
                logs = self.charity_registry.events.CharityRegistered().get_logs(
                    from_block=0, to_block=block
                )
            except (Web3Exception, ValueError) as exc:  # a refusal, or web3's own complaint
                raise ChainError(f"reading CharityRegistered logs: {exc}") from exc
        ids: list[str] = []
        for log in logs:
            raw = bytes(log["args"]["charityId"])
            try:
                ids.append(decode_charity_id(raw))
            except UnicodeDecodeError:
                ids.append("0x" + raw.hex())
        return ids


class CharityRegistryWrites(TransactionSender):
    """The writes to the attached CharityRegistry (a base of ``ChainClient``): each checks
    its arguments, sends, and waits until final.
    """

    def _charity_and_signer(
        self, charity_id: str, signer: str | None, hash_name: str, value: bytes
    ) -> tuple[bytes, str, bytes]:
        """The ``(id, signer, hash)`` arguments that registering and changing the signer
        share: the id encoded, no signer as the zero address, the hash checked.

        Raises:
            ValueError: an id, address or hash out of shape.
        """
        check_hash(hash_name, value)
        return (
            encode_charity_id(charity_id),
            checksum_address(signer) if signer else ZERO_ADDRESS,
            bytes(value),
        )

    def register_charity(
        self, charity_id: str, signer: str | None, metadata_hash: bytes
    ) -> TxOutcome:
        """Register a charity: ``registerCharity(id, signer, metadata_hash)``.

        Args:
            charity_id: the journal's id (``ch_…``), at most 32 UTF-8 bytes.
            signer: the address that signs its entries, or None.
            metadata_hash: e.g. SHA-256 of its canonical ``charity.registered`` entry.

        Raises:
            ValueError: an id, address or hash out of shape.
            CharityRegistryAlreadyRegisteredError: the id is taken, even if revoked.
            AccessControlUnauthorizedAccountError: the signer lacks ``REGISTRAR_ROLE``.
        """
        function = self.charity_registry.functions.registerCharity(
            *self._charity_and_signer(charity_id, signer, "metadata hash", metadata_hash)
        )
        return self._sent(function, f"registering charity {charity_id}")

    def revoke_charity(self, charity_id: str) -> TxOutcome:
        """Revoke a charity: ``revokeCharity(id)``.

        Raises:
            ValueError: an id out of shape.
            CharityRegistryUnknownCharityError: never registered.
            CharityRegistryAlreadyRevokedError: revoked before.
            AccessControlUnauthorizedAccountError: the signer lacks ``REGISTRAR_ROLE``.
        """
        function = self.charity_registry.functions.revokeCharity(encode_charity_id(charity_id))
        return self._sent(function, f"revoking charity {charity_id}")

    def change_signer(self, charity_id: str, signer: str | None, entry_hash: bytes) -> TxOutcome:
        """Record a charity's new signer (ADR 0037): ``changeSigner(id, signer, entry_hash)``.

        Args:
            charity_id: the journal's id.
            signer: the new signer, or None (it signs nothing from now on).
            entry_hash: the leaf hash of its ``charity.signer_changed`` entry.

        Raises:
            ValueError: an id, address or hash out of shape.
            CharityRegistryUnknownCharityError: never registered.
            AccessControlUnauthorizedAccountError: the signer lacks ``REGISTRAR_ROLE``.
        """
        function = self.charity_registry.functions.changeSigner(
            *self._charity_and_signer(charity_id, signer, "entry hash", entry_hash)
        )
        return self._sent(function, f"changing the signer of charity {charity_id}")
