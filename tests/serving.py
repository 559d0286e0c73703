"""An ASGI app served for real (uvicorn, a thread, a free port of 127.0.0.1) for the tests
that need a URL: browsers, the audit's deployment check, the docs; and the whole service
wired as ``shanlian serve`` wires it, to serve."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from api.anchoring import AnchorSettings
from api.app import Runtime, build_services
from api.settings import ApiSettings
from chain.client import ChainClient
from chain.embedded import EmbeddedChain


def local_service(folder: Path, token: str, port: int, **more: Any) -> Runtime:
    """The service on a SQLite journal and evidence folder in ``folder`` and a fresh
    embedded chain (anchoring when asked, not on a timer), public at ``port`` of 127.0.0.1;
    ``more`` are further settings.
    """
    settings = ApiSettings(
        database_url=f"sqlite:///{folder}/journal.db",
        admin_token=token,
        evidence_dir=folder / "evidence",
        public_url=f"http://127.0.0.1:{port}",
        **more,
    )
    return build_services(
        settings,
        chain=ChainClient.embedded(chain=EmbeddedChain()),
        anchor_settings=AnchorSettings(interval_s=3600),
    )


@contextmanager
def serve(app: Any, port: int, name: str) -> Iterator[str]:
    """Serve ``app`` on ``port`` in a daemon thread named ``name``; yields its base URL.

    The port comes from the caller (``chain.devnet.free_port``), as apps are built knowing
    their public URL. The server is asked to exit at the end, and its thread joined.
    """
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:  # a readiness wait, not a timed assertion
            assert thread.is_alive(), "the server stopped before it started"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def open_charity(api: Any) -> tuple[str, str]:
    """A charity registered and a project opened through the API (``api``: an httpx client
    with the platform's token); their ids."""
    charity = api.post(
        "/api/v1/charities",
        json={"name": "云南乡村学校助学会", "registration_no": "53530000MJ0005678Y"},
    ).json()
    key = {"Authorization": f"Bearer {charity['api_key']}"}
    project = api.post(
        f"/api/v1/charities/{charity['id']}/projects",
        json={"title": "怒江乡村小学课本", "goal_amount": 6_000_000, "currency": "CNY"},
        headers=key,
    ).json()
    return str(charity["id"]), str(project["id"])
