"""The read-only JSON-RPC adapter onto the embedded chain: what may be asked, and asking it.

``api.rpc`` serves it over HTTP (its limits on who may ask how much, its thread pool); this
module is the part that knows the chain. It offers exactly what verification reads (the
in-browser verifier, ``shanlian verify`` and ``shanlian audit``), and nothing else:

- ``eth_chainId``, ``eth_blockNumber``, ``eth_getBlockByNumber``,
  ``eth_getTransactionReceipt``;
- ``eth_getLogs`` of the LedgerAnchor or the CharityRegistry, over at most
  ``Limits.logs_max_blocks`` blocks, read in turns of ``LOGS_CHUNK_BLOCKS``;
- ``eth_call`` to the LedgerAnchor or the CharityRegistry of one of their view functions
  (the selectors come from the ABIs in ``contracts/build``), with its gas lowered to
  ``Limits.gas_cap``.

``parse_call`` and ``check_params`` check a request object against that allow-list (a
refusal is a ``RpcError`` or a JSON-RPC error answer that says what is offered);
``execute`` runs checked calls on the chain until a deadline, in a worker thread.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.providers.eth_tester.middleware import request_formatters, result_formatters
from web3.types import RPCEndpoint

from chain.artifacts import CHARITY_REGISTRY, LEDGER_ANCHOR, load_artifact
from chain.node import METHOD_NOT_FOUND
from chain.reader import ChainReader

# JSON-RPC 2.0's codes, and EIP-1474's for a limit.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
LIMIT_EXCEEDED = -32005

OFFERED = (
    "eth_chainId",
    "eth_blockNumber",
    "eth_getBlockByNumber",
    "eth_getTransactionReceipt",
    "eth_getLogs",
    "eth_call",
)
OFFERED_TEXT = (
    "this endpoint is read-only and answers what verification needs: "
    + ", ".join(OFFERED)
    + " (eth_call and eth_getLogs only of the LedgerAnchor and the CharityRegistry)"
)
BLOCK_TAGS = frozenset({"latest", "earliest", "pending", "safe", "finalized"})
LOGS_CHUNK_BLOCKS = 100
"""eth_getLogs reads so many blocks per turn of the chain's lock (~0.2 s): the anchor
worker gets the chain between turns, and the time limit is checked."""
MAX_ID_CHARS = 128
MAX_TOPIC_CHOICES = 8

_QUANTITY = re.compile(r"^0x(0|[1-9a-fA-F][0-9a-fA-F]{0,15})$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_DATA = re.compile(r"^0x(?:[0-9a-fA-F]{2})*$")


class RpcError(Exception):
    """A JSON-RPC error of one call."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_answer(request_id: Any, code: int, message: str) -> dict[str, Any]:
    """A JSON-RPC error answer to the request ``request_id``."""
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


# -- what may be read -------------------------------------------------------------------


@functools.cache
def view_selectors(contract: str) -> dict[bytes, str]:
    """The 4-byte selectors of a contract's view and pure functions, from its ABI."""
    return load_artifact(contract).view_functions()


@dataclass(frozen=True)
class Readable:
    """The contracts a caller may read: lowercase address → (name, view selectors)."""

    contracts: dict[str, tuple[str, dict[bytes, str]]]

    @classmethod
    def of(cls, chain: ChainReader) -> Readable:
        """The LedgerAnchor and CharityRegistry that ``chain`` is attached to."""
        return cls(
            {
                chain.ledger_anchor.address.lower(): (
                    LEDGER_ANCHOR,
                    view_selectors(LEDGER_ANCHOR),
                ),
                chain.charity_registry.address.lower(): (
                    CHARITY_REGISTRY,
                    view_selectors(CHARITY_REGISTRY),
                ),
            }
        )

    def names(self) -> str:
        return " or ".join(
            f"the {name} ({address})" for address, (name, _) in self.contracts.items()
        )


@dataclass(frozen=True)
class Limits:
    """The endpoint's limits (``api.rpc`` takes them from its ``API_RPC_*`` settings).

    Attributes:
        max_batch: requests in one batch, at most.
        gas_cap: the gas an ``eth_call`` gets, at most.
        logs_max_blocks: blocks one ``eth_getLogs`` spans, at most.
        time_limit_s: seconds within which a request is answered.
    """

    max_batch: int
    gas_cap: int
    logs_max_blocks: int
    time_limit_s: float


@dataclass(frozen=True)
class Call:
    """One valid request object: its id, method and checked parameters."""

    request_id: str | int | None
    method: str
    params: list[Any]


def parse_call(obj: Any) -> Call | dict[str, Any]:
    """Check one request object's shape; a JSON-RPC error answer when it is wrong."""
    if not isinstance(obj, dict):
        return error_answer(None, INVALID_REQUEST, "a request must be a JSON object")
    request_id = obj.get("id")
    id_ok = request_id is None or (
        isinstance(request_id, str | int)
        and not isinstance(request_id, bool)
        and (not isinstance(request_id, str) or len(request_id) <= MAX_ID_CHARS)
    )
    shown_id = request_id if id_ok else None
    extra = sorted(set(obj) - {"jsonrpc", "id", "method", "params"})
    if extra:
        return error_answer(
            shown_id,
            INVALID_REQUEST,
            f"unknown members {extra}: a request holds jsonrpc, id, method and params",
        )
    if obj.get("jsonrpc") != "2.0":
        return error_answer(shown_id, INVALID_REQUEST, 'jsonrpc must be "2.0"')
    if "id" not in obj:
        return error_answer(
            None,
            INVALID_REQUEST,
            "id is required: this endpoint answers every request (notifications are not offered)",
        )
    if not id_ok:
        return error_answer(
            None,
            INVALID_REQUEST,
            f"id must be a string of at most {MAX_ID_CHARS} characters, an integer or null",
        )
    method = obj.get("method")
    if not isinstance(method, str):
        return error_answer(request_id, INVALID_REQUEST, "method must be a string")
    params = obj.get("params", [])
    if not isinstance(params, list):
        return error_answer(request_id, INVALID_PARAMS, "params must be an array")
    if method not in OFFERED:
        shown = method if len(method) <= 64 else method[:64] + "…"
        return error_answer(
            request_id, METHOD_NOT_FOUND, f"method {shown!r} is not offered: {OFFERED_TEXT}"
        )
    return Call(request_id, method, params)


def _arity(params: list[Any], least: int, most: int, shape: str) -> None:
    if not least <= len(params) <= most:
        raise RpcError(INVALID_PARAMS, f"params must be {shape}")


def _block(value: Any, what: str = "block") -> str:
    if isinstance(value, str) and (value in BLOCK_TAGS or _QUANTITY.match(value)):
        return value
    raise RpcError(
        INVALID_PARAMS,
        f"{what} must be a hex quantity (0x…, at most 16 digits) or one of {sorted(BLOCK_TAGS)}",
    )


def _address_of(readable: Readable, value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise RpcError(INVALID_PARAMS, f"{what} must be an address (0x and 40 hex digits)")
    if value.lower() not in readable.contracts:
        raise RpcError(INVALID_PARAMS, f"{what} {value} is not offered: only {readable.names()}")
    return value.lower()


CALL_KEYS = frozenset({"to", "from", "data", "input", "gas"})


def check_call(readable: Readable, limits: Limits, params: list[Any]) -> list[Any]:
    """``eth_call``'s params, checked: a view function of ours, the gas capped."""
    _arity(params, 1, 2, "[call, block]: state overrides are not offered")
    call = params[0]
    if not isinstance(call, dict):
        raise RpcError(INVALID_PARAMS, "the call must be an object")
    extra = sorted(set(call) - CALL_KEYS)
    if extra:
        raise RpcError(
            INVALID_PARAMS,
            f"call members {extra} are not offered: a view call holds {sorted(CALL_KEYS)}",
        )
    if "to" not in call:
        raise RpcError(INVALID_PARAMS, f"the call needs a to: only {readable.names()}")
    to = _address_of(readable, call["to"], "to")
    data = call.get("data", call.get("input"))
    if "data" in call and "input" in call and call["data"] != call["input"]:
        raise RpcError(INVALID_PARAMS, "data and input differ")
    if not isinstance(data, str) or not _DATA.match(data) or len(data) < 10:
        raise RpcError(INVALID_PARAMS, "data must be 0x-hex of a 4-byte selector and arguments")
    name, selectors = readable.contracts[to]
    selector = bytes.fromhex(data[2:10])
    if selector not in selectors:
        raise RpcError(
            INVALID_PARAMS,
            f"selector 0x{selector.hex()} is not a view function of the {name}; offered: "
            + ", ".join(sorted(selectors.values())),
        )
    gas = limits.gas_cap
    if "gas" in call:
        if not isinstance(call["gas"], str) or not _QUANTITY.match(call["gas"]):
            raise RpcError(INVALID_PARAMS, "gas must be a hex quantity")
        gas = min(int(call["gas"], 16), limits.gas_cap)
    checked: dict[str, Any] = {"to": to, "data": data.lower(), "gas": hex(gas)}
    if "from" in call:
        if not isinstance(call["from"], str) or not _ADDRESS.match(call["from"]):
            raise RpcError(INVALID_PARAMS, "from must be an address (0x and 40 hex digits)")
        checked["from"] = call["from"]
    block = _block(params[1]) if len(params) == 2 else "latest"
    return [checked, block]


LOG_KEYS = frozenset({"address", "fromBlock", "toBlock", "topics"})


def _topic(value: Any) -> None:
    if value is None or (isinstance(value, str) and _HASH.match(value)):
        return
    raise RpcError(INVALID_PARAMS, "a topic must be null or 0x and 64 hex digits")


def check_logs(readable: Readable, params: list[Any]) -> dict[str, Any]:
    """``eth_getLogs``'s filter, checked (its range is checked against the head later)."""
    _arity(params, 1, 1, "[filter]")
    query = params[0]
    if not isinstance(query, dict):
        raise RpcError(INVALID_PARAMS, "the filter must be an object")
    if "blockHash" in query:
        raise RpcError(INVALID_PARAMS, "blockHash is not offered: give fromBlock and toBlock")
    extra = sorted(set(query) - LOG_KEYS)
    if extra:
        raise RpcError(
            INVALID_PARAMS, f"filter members {extra} are not offered: {sorted(LOG_KEYS)}"
        )
    address = query.get("address")
    if isinstance(address, list):
        if not 1 <= len(address) <= len(readable.contracts):
            raise RpcError(INVALID_PARAMS, f"address must name {readable.names()}")
        addresses: Any = [_address_of(readable, a, "address") for a in address]
    else:
        addresses = _address_of(readable, address, "address")
    checked: dict[str, Any] = {
        "address": addresses,
        "fromBlock": _block(query.get("fromBlock", "latest"), "fromBlock"),
        "toBlock": _block(query.get("toBlock", "latest"), "toBlock"),
    }
    if "topics" in query:
        topics = query["topics"]
        if not isinstance(topics, list) or len(topics) > 4:
            raise RpcError(INVALID_PARAMS, "topics must be an array of at most 4")
        for topic in topics:
            if isinstance(topic, list):
                if len(topic) > MAX_TOPIC_CHOICES:
                    raise RpcError(
                        INVALID_PARAMS, f"at most {MAX_TOPIC_CHOICES} choices of one topic"
                    )
                for choice in topic:
                    _topic(choice)
            else:
                _topic(topic)
        checked["topics"] = topics
    return checked


def check_params(readable: Readable, limits: Limits, call: Call) -> list[Any]:
    """The call's parameters, checked for its method (raises ``RpcError``)."""
    params = call.params
    if call.method in ("eth_chainId", "eth_blockNumber"):
        _arity(params, 0, 0, "[]")
        return []
    if call.method == "eth_getBlockByNumber":
        _arity(params, 1, 2, "[block, full_transactions]")
        full = params[1] if len(params) == 2 else False
        if not isinstance(full, bool):
            raise RpcError(INVALID_PARAMS, "full_transactions must be true or false")
        return [_block(params[0]), full]
    if call.method == "eth_getTransactionReceipt":
        _arity(params, 1, 1, "[transaction_hash]")
        if not isinstance(params[0], str) or not _HASH.match(params[0]):
            raise RpcError(INVALID_PARAMS, "a transaction hash is 0x and 64 hex digits")
        return [params[0]]
    if call.method == "eth_getLogs":
        return [check_logs(readable, params)]
    if call.method == "eth_call":
        return check_call(readable, limits, params)
    raise RpcError(METHOD_NOT_FOUND, f"method {call.method!r} is not offered: {OFFERED_TEXT}")


# -- on the chain (in a worker thread) -------------------------------------------------

# eth-tester answers in Python (ints, snake_case keys) and wants its parameters so: web3's
# own formatters for it translate, and numbers become JSON-RPC's hex quantities.
_BLOOM_BYTES = 256


def _jsonable(value: Any, key: str = "") -> Any:
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if key == "logsBloom":
            return "0x" + value.to_bytes(_BLOOM_BYTES, "big").hex()
        return hex(value)
    if isinstance(value, dict):
        return {k: _jsonable(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@contextlib.contextmanager
def _chain_turn(w3: Web3) -> Iterator[None]:
    # The embedded provider serves one request at a time under its lock (eth-tester is
    # not thread-safe, and the anchor worker sends on it while visitors read); holding
    # it across a few requests makes them one consistent read.
    lock = getattr(w3.provider, "lock", None)
    with lock if lock is not None else contextlib.nullcontext():
        yield


def _node(w3: Web3, method: str, params: list[Any]) -> Any:
    """Send one checked request to the node; its result, or ``RpcError``."""
    if method == "eth_call" and "from" not in params[0]:
        # eth-tester needs a sender; a browser sends none (web3 fills in account 0 too).
        params = [{**params[0], "from": w3.eth.accounts[0]}, params[1]]
    formatter = request_formatters.get(RPCEndpoint(method))
    try:
        response = w3.provider.make_request(
            RPCEndpoint(method), formatter(params) if formatter else params
        )
    except Exception as exc:  # eth-tester validates the parameters by raising
        raise RpcError(INVALID_PARAMS, f"invalid params: {exc}") from exc
    if "error" in response:
        failure = response["error"]
        raise _NodeError(
            dict(failure)
            if isinstance(failure, dict)
            else {"code": -32000, "message": str(failure)}
        )
    result = response.get("result")
    formatter = (result_formatters or {}).get(RPCEndpoint(method))
    return formatter(result) if formatter else result


class _NodeError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


def _quantity(w3: Web3, block: str) -> int:
    if block.startswith("0x"):
        return int(block, 16)
    return int(_node(w3, "eth_getBlockByNumber", [block, False])["number"])


def _logs(w3: Web3, limits: Limits, query: dict[str, Any], deadline: float) -> list[Any]:
    """``eth_getLogs`` in turns of ``LOGS_CHUNK_BLOCKS``, after checking its range."""
    with _chain_turn(w3):
        head = int(_node(w3, "eth_blockNumber", []))
        first = _quantity(w3, query["fromBlock"])
        last = min(_quantity(w3, query["toBlock"]), head)
    if first > last:
        return []
    if last - first + 1 > limits.logs_max_blocks:
        raise RpcError(
            LIMIT_EXCEEDED,
            f"eth_getLogs spans at most {limits.logs_max_blocks} blocks (API_RPC_LOGS_MAX_"
            f"BLOCKS); blocks {first} to {last} are {last - first + 1}: ask in parts",
        )
    logs: list[Any] = []
    for start in range(first, last + 1, LOGS_CHUNK_BLOCKS):
        if time.monotonic() > deadline:
            raise time_limit_error(limits)
        end = min(start + LOGS_CHUNK_BLOCKS - 1, last)
        with _chain_turn(w3):
            logs.extend(
                _node(w3, "eth_getLogs", [{**query, "fromBlock": hex(start), "toBlock": hex(end)}])
            )
    return logs


def time_limit_error(limits: Limits) -> RpcError:
    """The refusal of a request that ran out of time."""
    return RpcError(
        LIMIT_EXCEEDED,
        f"time limit: a request is answered within {limits.time_limit_s:g} s "
        "(API_RPC_TIME_LIMIT_S); ask for less at once",
    )


def execute(
    chain: ChainReader, limits: Limits, calls: list[tuple[Call, list[Any]]], deadline: float
) -> list[dict[str, Any]]:
    """Run checked calls on the chain, one after another, until ``deadline``.

    Each call's answer is its result or its JSON-RPC error, in the order of ``calls``.
    """
    w3 = chain.w3
    answers = []
    for call, params in calls:
        try:
            if time.monotonic() > deadline:
                raise time_limit_error(limits)
            if call.method == "eth_getLogs":
                result = _logs(w3, limits, params[0], deadline)
            else:
                with _chain_turn(w3):
                    result = _node(w3, call.method, params)
            answers.append({"jsonrpc": "2.0", "id": call.request_id, "result": _jsonable(result)})
        except RpcError as error:
            answers.append(error_answer(call.request_id, error.code, error.message))
        except _NodeError as error:
            answers.append({"jsonrpc": "2.0", "id": call.request_id, "error": error.error})
    return answers
