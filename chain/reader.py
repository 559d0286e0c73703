"""``ChainReader``: a chain read with no key at all — what an auditor and a verifier need.

A reader reads the LedgerAnchor (its checkpoints, ``checkpointOf``, ``verifyInclusion``),
the CharityRegistry, blocks, receipts and the code at an address. Every contract read takes
a ``block``: one audit pins all its reads to one block, so the checkpoints and the registry
are one consistent snapshot while the operator keeps anchoring. ``eth_call`` needs no
``from``, so nothing here holds a key; ``chain.client.ChainClient`` is a reader that also
signs and sends.

Where each read lives: the contracts' in ``chain.ledger_anchor`` and
``chain.charity_registry``, the rest (blocks, receipts, code) in ``chain.node``.
"""

from __future__ import annotations

from chain.charity_registry import CharityRegistryReads
from chain.embedded import EmbeddedChain
from chain.ledger_anchor import LedgerAnchorReads
from chain.node import http_web3

READER_HINT = "is the node running, and is its URL right?"


class ChainReader(LedgerAnchorReads, CharityRegistryReads):
    """Keyless reads of one chain and the two contracts attached on it.

    Build one with ``connect`` (a JSON-RPC node), ``embedded`` or a client's ``reader()``;
    attach the contracts with ``attach`` (``check_code=False`` when the caller checks the
    code itself, with ``contract_code``).
    """

    @classmethod
    def connect(
        cls,
        rpc_url: str,
        *,
        chain_id: int | None = None,
        request_timeout_s: float = 30.0,
        hint: str = READER_HINT,
    ) -> ChainReader:
        """Connect to a JSON-RPC node to read from it, with no signing key of anyone's.

        Args:
            rpc_url: the node's HTTP(S) URL.
            chain_id: the chain id the node must report; None accepts the node's.
            request_timeout_s: HTTP timeout of one request.
            hint: what to check when the node does not answer (e.g. ``is --rpc right?``).

        Raises:
            ChainUnavailableError: the node does not answer.
            ChainIdMismatchError: the node serves another chain than ``chain_id``.
        """
        w3, actual = http_web3(
            rpc_url, chain_id=chain_id, request_timeout_s=request_timeout_s, hint=hint
        )
        return cls(w3, chain_id=actual, rpc_url=rpc_url)

    @classmethod
    def embedded(cls, chain: EmbeddedChain) -> ChainReader:
        """Read the embedded in-process chain ``chain``."""
        return cls(chain.web3(), chain_id=chain.chain_id, rpc_url=None, embedded=chain)

    def reader(
        self, *, ledger_anchor: str | None = None, ledger_anchor_block: int = 0
    ) -> ChainReader:
        """A keyless reader on the same connection and contracts; this one stays as it is.

        Args:
            ledger_anchor: read this LedgerAnchor instead, attached without a code check
                (check it with ``contract_code`` first).
            ledger_anchor_block: its deployment block, where its logs are searched from.
        """
        other = ChainReader(
            self.w3, chain_id=self.chain_id, rpc_url=self.rpc_url, embedded=self.embedded_chain
        )
        self._share_contracts(other)
        if ledger_anchor is not None:
            other.attach(
                ledger_anchor=ledger_anchor,
                check_code=False,
                ledger_anchor_block=ledger_anchor_block,
            )
        return other
