"""The CharityRegistry kept up with the journal: registrations and signer changes.

Each charity of the journal is registered on chain with the leaf hash of its
``charity.registered`` entry as metadata, so anyone can tie the on-chain record to the
journal; each ``charity.signer_changed`` follows, in order (ADR 0037).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from chain.client import ChainClient
from chain.errors import CharityRegistryUnknownCharityError, FeeAboveCapError
from ledger.accounting import CharityState
from ledger.entries import Entry
from ledger.store import projections
from ledger.store.journal import Store

log = logging.getLogger("shanlian.anchor")


class CharityMirror:
    """Sends the journal's charities and their signers to the CharityRegistry."""

    def __init__(self, store: Store, client: ChainClient) -> None:
        self.store = store
        self.client = client
        # Charities known to be registered on chain, as of the block below: the cache is
        # dropped when that block is gone or changed (a node restored from an older
        # state, a reorg), since the chain may have forgotten a registration with it.
        self._registered: set[str] = set()
        self._registered_as_of: tuple[int, bytes | None] | None = None
        self._signers: dict[str, int] = {}
        """Charities whose signer history is on chain, up to the entry (seq) that set it."""

    def sync_registry(self) -> int:
        """Register on chain every charity of the journal not registered yet.

        Returns how many were registered now. A charity found registered is not asked
        about again, unless the chain lost the block it was last seen at: then every one
        is checked again.
        """
        client = self.client
        if self._registered_as_of is not None:
            number, block_hash = self._registered_as_of
            if client.block_hash(number) != block_hash:
                log.warning(
                    "block %d of the chain is gone or changed since the charities were last "
                    "checked (a node restored from an older state, or a reorg): checking "
                    "every registration again",
                    number,
                )
                self._registered.clear()
                self._registered_as_of = None
        with self.store.engine.connect() as connection:
            charities = projections.find(connection, CharityState)
        registered = checked = 0
        for charity in charities:
            if charity.charity_id in self._registered:
                continue
            checked += 1
            try:
                self.client.charity(charity.charity_id)
            except CharityRegistryUnknownCharityError:
                # The signer its entry registered: later ones follow as changes (ADR 0037).
                entry = self.store.entry(charity.seq)
                if not self._sent(client.register_charity, charity.charity_id, entry):
                    log.info("registering charities waits for the base fee to fall too")
                    return registered
                log.info("registered charity %s on chain", charity.charity_id)
                registered += 1
            self._registered.add(charity.charity_id)
        if checked:  # the cache grew: it holds as of the chain's head now
            head = client.block_number()
            self._registered_as_of = (head, client.block_hash(head))
        return registered

    def sync_signers(self) -> int:
        """Mirror on chain every ``charity.signer_changed`` not there yet.

        A charity's changes form a chain through ``previous_seq`` back to its
        registration: the ones whose leaf hash no ``CharitySignerChanged`` event holds are
        sent, oldest first, so the chain keeps each signer of the history. Returns how
        many were sent now.
        """
        with self.store.engine.connect() as connection:
            changed = [
                c
                for c in projections.find(connection, CharityState)
                if c.signer_seq is not None and self._signers.get(c.charity_id) != c.signer_seq
            ]
        if not changed:
            return 0
        on_chain = {record.entry_hash for record in self.client.signer_history()}
        sent = 0
        for charity in changed:
            assert charity.signer_seq is not None
            missing = []
            seq = charity.signer_seq
            while seq != charity.seq:
                entry = self.store.entry(seq)
                if entry.leaf_hash in on_chain:
                    break
                missing.append(entry)
                seq = int(str(entry.body["previous_seq"]))
            for entry in reversed(missing):
                if not self._sent(self.client.change_signer, charity.charity_id, entry):
                    log.info("recording signer changes waits for the base fee to fall too")
                    return sent
                log.info("recorded the new signer of charity %s on chain", charity.charity_id)
                sent += 1
            self._signers[charity.charity_id] = charity.signer_seq
        return sent

    @staticmethod
    def _sent(
        send: Callable[[str, str | None, bytes], object], charity_id: str, entry: Entry
    ) -> bool:
        """Send the signer that ``entry`` names, with its leaf hash; False while the base
        fee is over the cap (the next cycle sends it)."""
        signer = entry.body["signer"]
        try:
            send(charity_id, None if signer is None else str(signer), entry.leaf_hash)
        except FeeAboveCapError:
            return False
        return True
