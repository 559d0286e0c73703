"""What the audit reads from the chain, as an outsider: no key, no settings of ours.

A reader is a ``chain.client.ChainClient`` whose account is a throwaway key that never
signs anything (``eth_call`` only needs a ``from``). Every read of one audit is pinned to
one block, so the checkpoints and the registry are one consistent snapshot even while
the operator keeps anchoring.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_utils.address import is_address, to_checksum_address
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import BlockIdentifier

from audit.errors import ChainReadError
from chain.artifacts import CHARITY_REGISTRY, LEDGER_ANCHOR, load_artifact
from chain.client import ChainClient, Charity, Checkpoint
from chain.errors import (
    ChainError,
    ChainUnavailableError,
    CharityRegistryUnknownCharityError,
)
from chain.settings import redact_url

__all__ = ["redact_url"]  # audit.cli and audit.auditor import it from here


def connect_reader(
    rpc_url: str, *, chain_id: int | None = None, request_timeout_s: float = 30.0
) -> ChainClient:
    """Connect to a JSON-RPC node to read from it, with no signing key of anyone's.

    Args:
        rpc_url: the node's HTTP(S) URL.
        chain_id: the chain id the node must report; None accepts the node's.
        request_timeout_s: HTTP timeout of one request.

    Raises:
        ChainUnavailableError: the node does not answer.
        ChainReadError: the node serves another chain than ``chain_id``.
    """
    provider = Web3.HTTPProvider(
        rpc_url,
        request_kwargs={"timeout": request_timeout_s},
        exception_retry_configuration=None,
    )
    w3 = Web3(provider)
    shown = redact_url(rpc_url)
    try:
        actual = int(w3.eth.chain_id)
    except (OSError, Web3Exception) as exc:
        raise ChainUnavailableError(
            f"cannot reach the node at {shown} ({exc.__class__.__name__}): is --rpc right?"
        ) from exc
    if chain_id is not None and actual != chain_id:
        raise ChainReadError(
            f"the node at {shown} serves chain id {actual}, not {chain_id}: "
            "is --rpc the node of the deployment's chain?"
        )
    # A fresh random key: it never signs, it only fills eth_call's "from".
    return ChainClient(w3, Account.create(), chain_id=actual, rpc_url=rpc_url)


METHOD_NOT_FOUND = -32601
"""JSON-RPC's code for a method the endpoint does not offer."""


@dataclass(frozen=True)
class ContractCode:
    """Whether the code at an address is the published build of a contract.

    Attributes:
        name: ``LedgerAnchor`` or ``CharityRegistry``.
        address: the checksummed address.
        checked: the node answered ``eth_getCode`` (a read-only proxy may not offer it).
        present: any code is there at all (True when not ``checked``).
        published_build: the code is exactly ``contracts/build``'s deployed bytecode
            (False when not ``checked``).
    """

    name: str
    address: str
    checked: bool
    present: bool
    published_build: bool


def _method_not_found(exc: Web3Exception) -> bool:
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, dict) else None
    return isinstance(error, dict) and error.get("code") == METHOD_NOT_FOUND


def check_code(
    client: ChainClient, name: str, address: str, block: BlockIdentifier
) -> ContractCode:
    """Read the code at ``address`` and compare it with the published build of ``name``.

    Raises:
        ChainReadError: ``address`` is not an address.
        ChainUnavailableError: the node fails.
    """
    if not is_address(address):
        raise ChainReadError(f"{address!r} is not an address (0x and 40 hex digits)")
    checksummed = to_checksum_address(address)
    try:
        code = bytes(client.w3.eth.get_code(checksummed, block_identifier=block))
    except Web3Exception as exc:
        if _method_not_found(exc):
            return ContractCode(
                name, checksummed, checked=False, present=True, published_build=False
            )
        raise ChainUnavailableError(f"reading the code of {name}: {exc}") from exc
    except OSError as exc:
        raise ChainUnavailableError(f"reading the code of {name}: {exc}") from exc
    artifact = load_artifact(name)
    return ContractCode(
        name=name,
        address=checksummed,
        checked=True,
        present=bool(code),
        published_build=code == artifact.deployed_bytecode,
    )


def attach_ledger_anchor(
    client: ChainClient, address: str, block: int, from_block: int = 0
) -> ContractCode:
    """Use the LedgerAnchor at ``address``, whatever its code; return what the code is.

    Its ``CheckpointAnchored`` logs are searched from ``from_block`` (its deployment block,
    when known) to ``block``.

    Raises:
        ChainReadError: no contract at all at ``address``.
    """
    code = check_code(client, LEDGER_ANCHOR, address, block)
    if not code.present:
        raise ChainReadError(
            f"there is no contract at {code.address} on chain {client.chain_id} "
            f"(at block {block}): is --contract the deployment's LedgerAnchor address?"
        )
    client.attach(ledger_anchor=code.address, check_code=False, ledger_anchor_block=from_block)
    return code


def attach_charity_registry(client: ChainClient, address: str, block: int) -> ContractCode:
    """Use the CharityRegistry at ``address``; return what its code is.

    Raises:
        ChainReadError: no contract at all at ``address``.
    """
    code = check_code(client, CHARITY_REGISTRY, address, block)
    if not code.present:
        raise ChainReadError(
            f"there is no contract at {code.address} on chain {client.chain_id} "
            f"(at block {block}): is --registry the deployment's CharityRegistry address?"
        )
    client.attach(charity_registry=code.address, check_code=False)
    return code


def read_checkpoints(client: ChainClient, block: int) -> list[Checkpoint]:
    """Every checkpoint the attached LedgerAnchor holds at ``block``, by index: its
    ``CheckpointAnchored`` logs, each confirmed by ``checkpointOf`` from the contract's storage.

    Raises:
        ChainError: the node fails, the contract reverts, or a log is missing or disagrees
            with the contract (``CheckpointLogError``).
    """
    return client.checkpoints(block)


def read_charity(client: ChainClient, charity_id: str, block: int) -> Charity | None:
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


def registered_charity_ids(client: ChainClient, block: int) -> list[str] | None:
    """Ids of every charity the registry has registered up to ``block`` (its events).

    Best effort: some public nodes refuse ``eth_getLogs`` over the whole chain; then
    None is returned and the audit says it could not list them.
    """
    try:
        logs = client.charity_registry.events.CharityRegistered().get_logs(
            from_block=0, to_block=block
        )
    except (OSError, Web3Exception, ChainError, ValueError):
        return None
    ids: list[str] = []
    for log in logs:
        raw = bytes(log["args"]["charityId"])
        try:
            ids.append(raw.rstrip(b"\x00").decode("utf-8"))
        except UnicodeDecodeError:
            ids.append("0x" + raw.hex())
    return ids
