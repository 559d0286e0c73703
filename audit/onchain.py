"""What the audit reads from the chain, as an outsider: no key, no settings of ours.

A reader is a ``chain.reader.ChainReader``: it holds no key (``eth_call`` needs no
``from``). Every read of one audit is pinned to one block, so the checkpoints and the
registry are one consistent snapshot even while the operator keeps anchoring. This module
says what the audit makes of the reads: the errors an auditor can act on (``ChainReadError``
naming ``--rpc``, ``--contract``, ``--registry``), and what is best effort.
"""

from __future__ import annotations

from typing import Literal

from audit.errors import ChainReadError
from chain.accounts import is_address
from chain.artifacts import CHARITY_REGISTRY, LEDGER_ANCHOR
from chain.charity_registry import Charity
from chain.errors import (
    ChainError,
    ChainIdMismatchError,
    CharityRegistryUnknownCharityError,
)
from chain.ledger_anchor import Checkpoint
from chain.node import ContractCode
from chain.reader import ChainReader
from chain.settings import redact_url

__all__ = ["ContractCode", "redact_url"]  # audit.cli and audit.auditor import them from here


def connect_reader(
    rpc_url: str, *, chain_id: int | None = None, request_timeout_s: float = 30.0
) -> ChainReader:
    """Connect to a JSON-RPC node to read from it, with no signing key of anyone's.

    Args:
        rpc_url: the node's HTTP(S) URL.
        chain_id: the chain id the node must report; None accepts the node's.
        request_timeout_s: HTTP timeout of one request.

    Raises:
        ChainUnavailableError: the node does not answer.
        ChainReadError: the node serves another chain than ``chain_id``.
    """
    try:
        return ChainReader.connect(
            rpc_url, chain_id=chain_id, request_timeout_s=request_timeout_s, hint="is --rpc right?"
        )
    except ChainIdMismatchError as exc:
        raise ChainReadError(
            f"the node at {redact_url(rpc_url)} serves chain id {exc.actual}, not {chain_id}: "
            "is --rpc the node of the deployment's chain?"
        ) from None


def check_code(
    client: ChainReader, name: str, address: str, block: int | Literal["latest"]
) -> ContractCode:
    """Read the code at ``address`` and compare it with the published build of ``name``.

    Raises:
        ChainReadError: ``address`` is not an address.
        ChainUnavailableError: the node fails.
    """
    if not is_address(address):
        raise ChainReadError(f"{address!r} is not an address (0x and 40 hex digits)")
    return client.contract_code(name, address, block)


def attach_ledger_anchor(
    client: ChainReader, address: str, block: int, from_block: int = 0
) -> ContractCode:
    """Use the LedgerAnchor at ``address``, whatever its code; return what the code is.

    Its ``CheckpointAnchored`` logs are searched from ``from_block`` (its deployment block,
    when known) to ``block``.

    Raises:
        ChainReadError: no contract at all at ``address``.
    """
    code = _contract_at(client, LEDGER_ANCHOR, address, block, option="--contract")
    client.attach(ledger_anchor=code.address, check_code=False, ledger_anchor_block=from_block)
    return code


def attach_charity_registry(client: ChainReader, address: str, block: int) -> ContractCode:
    """Use the CharityRegistry at ``address``; return what its code is.

    Raises:
        ChainReadError: no contract at all at ``address``.
    """
    code = _contract_at(client, CHARITY_REGISTRY, address, block, option="--registry")
    client.attach(charity_registry=code.address, check_code=False)
    return code


def _contract_at(
    client: ChainReader, contract: str, address: str, block: int, *, option: str
) -> ContractCode:
    """What the code at ``address`` is, when there is any (``option`` names where it came from).

    Raises:
        ChainReadError: no contract at all at ``address``.
    """
    code = check_code(client, contract, address, block)
    if not code.present:
        raise ChainReadError(
            f"there is no contract at {code.address} on chain {client.chain_id} "
            f"(at block {block}): is {option} the deployment's {contract} address?"
        )
    return code


def read_checkpoints(client: ChainReader, block: int) -> list[Checkpoint]:
    """Every checkpoint the attached LedgerAnchor holds at ``block``, by index: its
    ``CheckpointAnchored`` logs, each confirmed by ``checkpointOf`` from the contract's storage.

    Raises:
        ChainError: the node fails, the contract reverts, or a log is missing or disagrees
            with the contract (``CheckpointLogError``).
    """
    return client.checkpoints(block)


def read_charity(client: ChainReader, charity_id: str, block: int) -> Charity | None:
    """The registry's record of a charity at ``block``, or None if never registered.

    Raises:
        ChainError: the node fails.
    """
    try:
        return client.charity(charity_id, block)
    except CharityRegistryUnknownCharityError:
        return None
    except ValueError:  # an id that cannot be a bytes32 key was never registered
        return None


def registered_charity_ids(client: ChainReader, block: int) -> list[str] | None:
    """Ids of every charity the registry has registered up to ``block`` (its events).

    Best effort: some public nodes refuse ``eth_getLogs`` over the whole chain; then
    None is returned and the audit says it could not list them.
    """
    try:
        return client.registered_charity_ids(block)
    except (ChainError, ValueError):
        return None
