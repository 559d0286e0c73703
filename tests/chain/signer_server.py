"""A small external signer for the tests: a JSON-RPC server holding one key.

It speaks what web3signer (``eth_signTransaction``) and Clef (``account_signTransaction``,
answering ``{"raw", "tx"}``) speak, so the client's remote signing is tested over real
HTTP. ``behaviour`` makes it misbehave the ways a compromised or buggy signer could: sign
another nonce, another recipient or other data, sign with another key, refuse, or answer
garbage. (anvil, a real node that holds keys, is the other signer the tests use.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_account import Account

from chain.devnet import dev_private_key

HONEST = "honest"


@contextmanager
def json_rpc_server(answer: Callable[[bytes], bytes]) -> Iterator[str]:
    """Serve JSON-RPC on a free loopback port while in the block: ``answer`` maps each
    request body to the response body. Yields the URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = answer(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class SignerServer:
    """Signs with ``key`` while ``running``; ``requests`` lists what it was asked."""

    def __init__(self, key: bytes, behaviour: str = HONEST) -> None:
        self.account = Account.from_key(key)
        self.behaviour = behaviour
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    def _respond(self, raw: bytes) -> bytes:
        body = json.loads(raw)
        self.requests.append(body)
        return json.dumps({"jsonrpc": "2.0", "id": body.get("id")} | self.answer(body)).encode()

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        method = body.get("method")
        if method not in ("eth_signTransaction", "account_signTransaction"):
            return {"error": {"code": -32601, "message": f"the method {method} does not exist"}}
        if self.behaviour == "refuse":
            return {"error": {"code": -32000, "message": "Request denied"}}
        if self.behaviour == "garbage":
            return {"result": "0xdeadbeef"}
        request = body["params"][0]
        tx = {
            "type": 2,
            "nonce": int(request["nonce"], 16),
            "gas": int(request["gas"], 16),
            "maxFeePerGas": int(request["maxFeePerGas"], 16),
            "maxPriorityFeePerGas": int(request["maxPriorityFeePerGas"], 16),
            "to": request.get("to") or b"",
            "value": int(request.get("value", "0x0"), 16),
            "data": request.get("data") or request.get("input") or "0x",
            "chainId": int(request["chainId"], 16),
        }
        key = self.account.key
        if self.behaviour == "another nonce":
            tx["nonce"] += 1
        elif self.behaviour == "another recipient":
            tx["to"] = "0x000000000000000000000000000000000000dEaD"
        elif self.behaviour == "other data":
            tx["data"] = "0x00"
        elif self.behaviour == "another key":
            key = dev_private_key(9)
        elif self.behaviour == "higher fee":
            tx["maxFeePerGas"] *= 2
        raw = "0x" + bytes(Account.sign_transaction(tx, key).raw_transaction).hex()
        if method == "account_signTransaction":  # Clef's answer
            return {"result": {"raw": raw, "tx": request}}
        return {"result": raw}

    @contextmanager
    def running(self) -> Iterator[SignerServer]:
        with json_rpc_server(self._respond) as url:
            self.url = url
            yield self
