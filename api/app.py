"""The ASGI application: the API (and, mounted beside it, the explorer)."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry

from api import (
    disclosure,
    errors,
    metrics,
    official_receipts,
    replica,
    routes,
    rpc,
    tlog,
    transfer,
    webhooks,
    witnesses,
)
from api.anchoring import AnchorSettings, AnchorWorker
from api.docs import install_docs
from api.evidence import EvidenceStore
from api.fastpath import DonationFastPath
from api.gateway import Gateway
from api.keys import KeyStore
from api.services import Services
from api.settings import ApiSettings
from api.tlog import TransparencyLog, load_log_key
from chain.client import ChainClient
from chain.errors import ChainError, ChainUnavailableError
from chain.settings import get_settings as chain_settings
from explorer.app import mount_explorer
from explorer.caching import ConditionalGet
from explorer.views import PublicViews
from ledger.store.journal import Store
from ledger.store.sequencer import Sequencer

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
    settings.ensure_database_dir()
    # The journal first: a database that cannot be opened leaves no folder or key behind.
    store = Store.open(settings.database_url)
    settings = settings.with_payment_ref_key()
    settings.ensure_data_dir()
    signer = load_log_key(settings, create=settings.environment == "development")
    reader = replica.Reader.open(store, settings.read_only_database_url)
    transparency_log = (
        None if signer is None else TransparencyLog(store, signer, reads=reader.any_store)
    )
    witness_setup = witnesses.load_witnesses(settings, transparency_log)
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
        worker = AnchorWorker(store, chain, anchor_settings, transparency_log=transparency_log)
    views = PublicViews(
        # A SQLite file's read-only twin: the API's public views wait for no append.
        store=reader.any_store,
        public_url=settings.public_url,
        anchor_interval_s=anchor_settings.interval_s if anchor_settings else None,
        lasting_chain=chain is not None and not chain.is_embedded,
        # ADR 0037: the explorer checks charity signatures in the chain's EIP-712 domain.
        signing_domain=signing_domain(chain) if with_chain else None,
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
        log=transparency_log,
        sequencer=Sequencer(
            store,
            max_queue=settings.write_queue,
            max_batch=settings.write_batch,
            max_batch_bytes=settings.write_batch_bytes,
            on_batch=metrics.observe_batch,
        ),
        reader=reader,
        witnesses=witness_setup,
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
        worker = AnchorWorker(services.store, chain, settings, transparency_log=services.log)
        services.chain, services.worker = chain, worker
        services.views.use_signing_domain(signing_domain(chain))  # ADR 0037, the explorer's too
        worker.run(stop)
        return


def signing_domain(chain: ChainClient | None) -> tuple[int, str] | None:
    """The chain id and CharityRegistry that charity signatures are made for (ADR 0037)."""
    if chain is None:
        return None
    try:
        return chain.chain_id, chain.charity_registry.address.lower()
    except (ChainError, AttributeError):  # no registry attached yet
        return None


def threadpool_size(settings: ApiSettings) -> int:
    """Threads for the sync routes: every queued and in-flight write waits in one, and
    reads keep Starlette's default 40 beside them (so a full write queue answers 429
    instead of leaving requests waiting for a thread)."""
    return settings.write_queue + settings.write_batch + 40


GC_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation (Python: 700)."""


def tune_garbage_collector() -> None:
    """The cyclic collector as a serving process wants it (the bench's store runs so too).

    What exists once the app has started (modules, settings, compiled validators) lives
    as long as the process: the collector need not walk it again and again, and each
    request's few containers (or a batch's thousand entries) need not start a collection
    so often.
    """
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


SWITCH_INTERVAL_S = 0.0005
"""How long a thread may keep the interpreter while another waits for it (Python: 5 ms)."""


def create_app(services: Services) -> FastAPI:
    """The API as an ASGI app on the given services."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, threadpool_size(services.settings))
        # The sequencer's thread waits on the database about ten times a batch, and each
        # time must get the interpreter back from the event loop's thread: at Python's
        # default switch interval (5 ms) a busy loop made every batch wait ~50 ms for it.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        tune_garbage_collector()
        yield
        if services.sequencer is not None:
            # Drain: what is queued is appended (and answered) before the process ends.
            await anyio.to_thread.run_sync(services.sequencer.close)
        metrics.process_ended()

    app = FastAPI(
        lifespan=lifespan,
        title="善链 shanlian",
        version="1.0.0",
        # Served by api.docs from the package's files: FastAPI's own load them from a CDN.
        docs_url=None,
        redoc_url=None,
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
    app.include_router(tlog.router)
    app.include_router(transfer.router)
    app.include_router(webhooks.router)
    app.include_router(official_receipts.router)
    app.include_router(disclosure.router)  # ADR 0039
    install_docs(app)
    if services.settings.donation_fast_path:
        app.add_middleware(DonationFastPath, services=services, api=app)  # innermost
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    # ETags, 304s, HEAD and no public answer to credentials, once for every route (and
    # the explorer mounted below).
    app.add_middleware(ConditionalGet)
    settings = services.settings
    # Outermost: headers, metrics, write admission and the body limit (ADR 0045).
    app.add_middleware(
        Gateway,
        body_limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes + 64 * 1024,
        write_limit=settings.write_queue + settings.write_batch,
        metrics=metrics.RequestMetrics(services.sequencer),
    )
    local_metrics = CollectorRegistry()
    local_metrics.register(metrics.AnchorLag(services.store))
    if services.witnesses is not None:
        local_metrics.register(witnesses.WitnessLag(services.store, services.witnesses))

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(metrics.exposition(local_metrics), media_type=metrics.CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"ok": True, "entries": services.store.size()}

    # The explorer, last, on its own read-only engine: the pages outside /api/v1.
    mount_explorer(
        app,
        replica.explorer_views(services.views, services.settings.read_only_database_url),
        page_cache_s=services.settings.page_cache_s,
        page_cache_exact=services.settings.page_cache_exact,
    )
    return app


SERVE_NO_WORKER = "SHANLIAN_SERVE_NO_WORKER"
"""Set to ``1`` by ``shanlian serve --workers N --no-worker``: its processes do not anchor."""


def app_from_environment() -> FastAPI:
    """The app of one process of ``shanlian serve --workers N`` (uvicorn's factory).

    Each worker process builds its own services from the environment the parent set:
    the same database (PostgreSQL), chain node and platform token in every process. Each
    also runs the anchor worker, whose PostgreSQL advisory lock lets one process anchor
    at a time while the others stand by (``AnchorWorker.run``).
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = ApiSettings()
    if settings.admin_token is None:
        # A token generated here would differ from one process to the next.
        raise RuntimeError("SHANLIAN_ADMIN_TOKEN must be set: every worker process shares it")
    runtime = build_services(settings)
    for note in runtime.notes:
        log.warning("%s", note)
    app = create_app(runtime.services)
    if os.environ.get(SERVE_NO_WORKER) != "1":

        @contextlib.asynccontextmanager
        async def anchoring(_app: FastAPI) -> AsyncIterator[None]:
            stop = threading.Event()
            services = runtime.services
            thread: threading.Thread | None = None
            if services.worker is not None:
                thread = threading.Thread(
                    target=services.worker.run, args=(stop,), name="anchor-worker", daemon=True
                )
            elif runtime.chain_pending:
                thread = threading.Thread(
                    target=connect_chain_later,
                    args=(services, stop),
                    name="anchor-worker",
                    daemon=True,
                )
            if thread is not None:
                thread.start()
            # Every process delivers webhooks: each delivery is taken by one of them.
            deliverer = webhooks.start_worker(services, stop)
            # Every process sends to the witnesses too: a race ends in a 409 and a re-proof.
            witnessing = witnesses.start_worker(
                services.store, services.log, services.witnesses, services.settings, stop
            )
            try:
                yield
            finally:
                stop.set()
                if thread is not None:
                    thread.join(timeout=10)
                deliverer.join(timeout=10)
                if witnessing is not None:
                    witnessing.join(timeout=10)

        app.router.lifespan_context = anchoring
    return app
