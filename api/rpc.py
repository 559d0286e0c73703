"""A read-only JSON-RPC endpoint onto the embedded chain, for browsers and auditors.

Only reads are forwarded (``eth_chainId``, ``eth_blockNumber``, ``eth_call``,
``eth_getLogs``, ``eth_getTransactionReceipt``, ``eth_getBlockByNumber``); anything
else is refused with JSON-RPC error -32601, so nobody can send a transaction through it.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from hexbytes import HexBytes
from web3 import Web3
from web3.providers.eth_tester.middleware import request_formatters, result_formatters
from web3.types import RPCEndpoint

from api.errors import ApiError, problem_response
from api.services import Services

READ_METHODS = frozenset(
    {
        "eth_chainId",
        "eth_blockNumber",
        "eth_call",
        "eth_getLogs",
        "eth_getTransactionReceipt",
        "eth_getBlockByNumber",
    }
)
MAX_BATCH = 20
# eth-tester is not thread-safe: the worker anchors while visitors read.
_chain_lock = threading.Lock()


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


# eth-tester answers in Python (ints, snake_case keys) and wants its parameters so: web3's
# own formatters for it translate, and numbers become JSON-RPC's hex quantities.
_BLOOM_BYTES = 256


def _jsonable(value: Any, key: str = "") -> Any:
    if isinstance(value, (bytes, bytearray, HexBytes)):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if key == "logsBloom":
            return "0x" + value.to_bytes(_BLOOM_BYTES, "big").hex()
        return hex(value)
    if isinstance(value, dict):
        return {k: _jsonable(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _node_params(w3: Web3, method: str, params: list[Any]) -> Any:
    """The parameters as eth-tester takes them: a call needs a sender (a browser sends
    none, web3 fills in the first account) and a block (nodes default to the latest)."""
    if method == "eth_call" and params and isinstance(params[0], dict):
        call = params[0] if params[0].get("from") else {**params[0], "from": w3.eth.accounts[0]}
        params = [call, *(params[1:] or ["latest"])]
    formatter = request_formatters.get(RPCEndpoint(method))
    return formatter(params) if formatter else params


def handle(w3: Web3, call: Any) -> dict[str, Any]:
    """Answer one JSON-RPC request object."""
    if not isinstance(call, dict) or call.get("jsonrpc") != "2.0" or "method" not in call:
        return _error(call.get("id") if isinstance(call, dict) else None, -32600, "invalid request")
    request_id = call.get("id")
    method = call["method"]
    if method not in READ_METHODS:
        return _error(
            request_id, -32601, f"method {method!r} is not offered: this endpoint is read-only"
        )
    params = call.get("params", [])
    if not isinstance(params, list):
        return _error(request_id, -32602, "params must be an array")
    try:
        with _chain_lock:
            response = w3.provider.make_request(method, _node_params(w3, method, params))
    except Exception as error:  # eth-tester validates the parameters by raising
        return _error(request_id, -32602, f"invalid params: {error}")
    answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if "error" in response:
        answer["error"] = response["error"]
    else:
        result = response.get("result")
        formatter = (result_formatters or {}).get(RPCEndpoint(method))
        answer["result"] = _jsonable(formatter(result) if formatter else result)
    return answer


router = APIRouter(
    prefix="/api/v1",
    responses={
        404: problem_response("a real node serves: use the rpc_url of /chain"),
        413: problem_response("the request body is over the limit"),
    },
)


@router.post(
    "/chain/rpc",
    tags=["journal"],
    responses={200: {"description": "a JSON-RPC 2.0 response (or a batch of them)"}},
)
async def rpc(request: Request) -> JSONResponse:
    """Read-only JSON-RPC onto the embedded chain (POST a JSON-RPC 2.0 request or batch)."""
    services: Services = request.app.state.services
    if services.chain is None or not services.chain.is_embedded:
        raise ApiError(
            404, "not_found", "this server's chain is a real node: use the rpc_url of /chain"
        )
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return JSONResponse(_error(None, -32700, "parse error"))
    w3 = services.chain.w3
    if isinstance(payload, list):
        if not payload or len(payload) > MAX_BATCH:
            return JSONResponse(_error(None, -32600, f"a batch holds 1 to {MAX_BATCH} requests"))
        return JSONResponse([handle(w3, call) for call in payload])
    return JSONResponse(handle(w3, payload))
