"""The ASGI application: the API (and, mounted beside it, the explorer)."""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors, routes, rpc
from api.anchoring import AnchorSettings, AnchorWorker
from api.evidence import EvidenceStore
from api.keys import KeyStore
from api.services import Services
from api.settings import ApiSettings
from chain.client import ChainClient
from chain.errors import ChainUnavailableError
from chain.settings import get_settings as chain_settings
from explorer.app import mount_explorer
from explorer.views import PublicViews
from ledger.store.journal import Store

log = logging.getLogger("shanlian.api")

DESCRIPTION = """
善链 shanlian: every money fact of a charity is an entry of an append-only journal, an
RFC 6962 Merkle log whose checkpoints are anchored on an EVM chain.

Authentication: `Authorization: Bearer <token>` — the platform token
(`SHANLIAN_ADMIN_TOKEN`), a charity's API key (from `POST /charities`; rotated with
`POST /charities/{id}/keys`), or an auditor's key (`shanlian keys auditor issue`). Public
views need none.

Errors are RFC 9457 `application/problem+json` documents with a stable `code` and, for a
bad field, its name in `field`. Writes that create money facts need an
`Idempotency-Key` header: the same key and body give the same result, once.
"""


class BodyLimit:
    """Refuse request bodies over a limit (413 problem) before a route reads them."""

    def __init__(self, app: ASGIApp, *, default: int, uploads: int) -> None:
        self.app = app
        self.default = default
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"].endswith("/evidence")
        limit = self.uploads if upload else self.default
        setting = "API_MAX_UPLOAD_BYTES" if upload else "API_MAX_BODY_BYTES"
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit, setting)
            return
        seen = 0
        cut_off = started = False

        async def limited() -> Message:
            nonlocal seen, cut_off
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    cut_off = True
                    raise _TooLargeError
            return message

        async def answering(message: Message) -> None:
            nonlocal started
            # A body without Content-Length (chunked) is cut off while the framework parses
            # it, and FastAPI answers any error of its form parser with a 400: whatever the
            # app made of a body cut off, the answer is ours, the 413.
            if cut_off and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLargeError):
            await self.app(scope, limited, answering)
        if cut_off and not started:
            await self._refuse(scope, receive, send, limit, setting)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int, setting: str) -> None:
        response = errors.problem(
            413,
            "payload_too_large",
            f"request bodies are limited to {limit} bytes ({setting})",
            limit=setting,
            limit_value=limit,
        )
        await response(scope, receive, send)


class _TooLargeError(Exception):
    pass


@dataclass
class Runtime:
    """What ``build_services`` made, with what to tell the operator."""

    services: Services
    generated_token: str | None
    notes: list[str]
    chain_pending: bool = False
    """The node did not answer at start: ``connect_chain_later`` takes over."""


def build_services(
    settings: ApiSettings,
    *,
    chain: ChainClient | None = None,
    anchor_settings: AnchorSettings | None = None,
    with_chain: bool = True,
) -> Runtime:
    """Wire the store, keys, evidence, chain and anchor worker from the settings.

    Raises:
        ProductionSettingsError: production settings that only development may run with.
    """
    settings.check_production(chain_settings() if with_chain and chain is None else None)
    settings, generated = settings.with_generated_token()
    settings.ensure_data_dir()
    store = Store.open(settings.database_url)
    assert settings.admin_token is not None
    keys = KeyStore(store.engine, settings.admin_token.get_secret_value())
    evidence = EvidenceStore.from_settings(store.engine, settings)
    notes: list[str] = []
    worker = None
    chain_pending = False
    if with_chain and chain is None:
        try:
            chain = ChainClient.from_settings()
        except ChainUnavailableError as error:
            # Donations must not wait for the node: serve now, anchor once it answers.
            chain_pending = True
            anchor_settings = anchor_settings or AnchorSettings()
            notes.append(
                f"the chain node does not answer ({error}); donations are taken meanwhile "
                "and anchoring starts when it does"
            )
    if with_chain and chain is not None:
        if chain.is_embedded and not chain.is_deployed:
            chain.deploy()
            size = store.size()
            if size:  # said once, and only when there was something on the chain before
                notes.append(
                    "the embedded chain lives inside this process, so it started empty "
                    f"again: the journal's {size:,} entries are kept and anchored on it anew, "
                    "and proof bundles saved before this start point at the previous run's "
                    "chain, which is gone (`shanlian devnet --help`: a chain that outlives "
                    "restarts)"
                )
        anchor_settings = anchor_settings or AnchorSettings()
        worker = AnchorWorker(store, chain, anchor_settings)
    views = PublicViews(
        store=store,
        public_url=settings.public_url,
        anchor_interval_s=anchor_settings.interval_s if anchor_settings else None,
    )
    services = Services(
        settings=settings,
        store=store,
        views=views,
        keys=keys,
        evidence=evidence,
        chain=chain,
        worker=worker,
        anchor_settings=anchor_settings,
    )
    return Runtime(
        services=services, generated_token=generated, notes=notes, chain_pending=chain_pending
    )


def connect_chain_later(services: Services, stop: threading.Event) -> None:
    """Connect to the node once it answers, then anchor until ``stop`` (for ``serve``).

    Retries ``ChainClient.from_settings()`` with a growing pause (up to
    ``ANCHOR_BACKOFF_MAX_S``); once connected the services gain their chain and worker,
    and this thread becomes the anchor worker.
    """
    settings = services.anchor_settings or AnchorSettings()
    pause = settings.poll_s
    while not stop.is_set():
        try:
            chain = ChainClient.from_settings()
        except ChainUnavailableError as error:
            log.warning(
                "the chain node still does not answer (%s); retrying in %.1f s", error, pause
            )
            stop.wait(pause)
            pause = min(pause * 2, settings.backoff_max_s)
            continue
        if not chain.is_deployed:
            log.warning(
                "connected to chain %s, but no contract addresses are configured "
                "(CHAIN_LEDGER_ANCHOR_ADDRESS, CHAIN_CHARITY_REGISTRY_ADDRESS); retrying",
                chain.chain_id,
            )
            stop.wait(pause)
            pause = min(pause * 2, settings.backoff_max_s)
            continue
        log.info("connected to chain %s; anchoring starts", chain.chain_id)
        worker = AnchorWorker(services.store, chain, settings)
        services.chain, services.worker = chain, worker
        worker.run(stop)
        return


def create_app(services: Services) -> FastAPI:
    """The API as an ASGI app on the given services."""
    app = FastAPI(
        title="善链 shanlian",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "charities", "description": "charities and their projects"},
            {"name": "donations", "description": "donations, refunds"},
            {"name": "fund use", "description": "evidence, disbursements, allocations"},
            {"name": "proofs", "description": "proof bundles"},
            {"name": "receipts", "description": "receipts for donors"},
            {"name": "journal", "description": "the journal, checkpoints and the chain"},
        ],
    )
    app.state.services = services
    errors.install(app)
    app.include_router(routes.router)
    app.include_router(rpc.router)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    app.add_middleware(
        BodyLimit,
        default=services.settings.max_body_bytes,
        uploads=services.settings.max_upload_bytes + 64 * 1024,
    )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"ok": True, "entries": services.store.size()}

    # The explorer, last, on its own read-only engine: the pages outside /api/v1.
    mount_explorer(app, services.views.read_only(services.settings.read_only_database_url))
    return app
