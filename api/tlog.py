"""The journal as a C2SP transparency log: the log key, signed checkpoints, tlog-tiles.

Served under ``<public URL>/tlog/`` (ADR 0031):

- ``checkpoint``: the latest checkpoint signed by the log key, a C2SP signed note;
- ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``: the Merkle tree's tiles and
  the entry bundles, read from the stored nodes (``ledger.store.tlog``), immutable.

Anyone can then follow and check the whole journal with tools no one here wrote (Go's
``golang.org/x/mod/sumdb/tlog`` and ``note``, Sigstore's and transparency-dev's clients),
from this server, a mirror or a CDN.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response

from api.errors import ApiError
from api.per_app import per_app
from api.settings import ApiSettings, ProductionSettingsError
from explorer.caching import FRESH, IMMUTABLE, Drawn, ExactPageCache
from ledger.entries import MAX_SEQ
from ledger.signed_note import CheckpointBody, NoteError, Signer
from ledger.store.files import private_dir
from ledger.store.journal import Store
from ledger.store.tlog import (
    SignedCheckpointRecord,
    SignedCheckpoints,
    TilePathError,
    Tiles,
    parse_tile_path,
)
from ledger.store.witnesses import Witnessing

if TYPE_CHECKING:
    from api.services import Services

log = logging.getLogger("shanlian.tlog")

CHECKPOINT_CACHE = FRESH
"""The checkpoint changes as the journal grows: cached for a few seconds at most."""
TILE_CACHE = IMMUTABLE
"""A tile's bytes never change (a partial tile's are a prefix of the full one's)."""
MAX_TILE_PATH = 80
"""Longer than any tile path (``entries/`` and 7 groups and ``.p/255``): refused unread."""
TILES_KEPT = 4096
"""Tiles and bundles a process keeps at most: a tile's bytes never change, so the ones
every follower asks for (the newest partial tiles, the tree's upper levels) are read
from the journal once."""
TILES_KEPT_BYTES = 32 * 1024 * 1024
"""Bytes of them kept at most (a full tile is 8 KiB; a bundle is its entries' leaves)."""
SIGN_INTERVAL_S = 1.0
"""How often a process looks whether the journal grew past its latest signed checkpoint."""


class LogKeyError(ProductionSettingsError):
    """The log key is malformed or named for another origin: the service refuses to start
    (a settings error, reported where the others are)."""


def default_origin(public_url: str) -> str:
    """The public URL's host (and port) and path, and ``/tlog``, without scheme."""
    parts = urlsplit(public_url)
    host = parts.netloc.rpartition("@")[2]
    return f"{host}{parts.path.rstrip('/')}/tlog"


def log_key_path(settings: ApiSettings) -> Path:
    """Where the log key file is (``API_LOG_KEY_FILE``, else beside the evidence folder)."""
    return settings.log_key_file or settings.evidence_dir.parent / "log.key"


def create_log_key(path: Path, origin: str) -> Signer:
    """Make a new log key named ``origin`` in ``path`` (mode 0600; never overwritten).

    Raises:
        FileExistsError: there is a key there already.
        NoteError: ``origin`` cannot name a key.
    """
    signer = Signer.generate(origin)
    private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(signer.text + "\n")
    return signer


def load_log_key(settings: ApiSettings, *, create: bool = False) -> Signer | None:
    """The log key from the settings or its file; None when there is none.

    With ``create`` (development's first start) a missing file is made, named
    ``API_LOG_ORIGIN`` or ``default_origin`` of the public URL.

    Raises:
        LogKeyError: the key is malformed, or named for another origin than
            ``API_LOG_ORIGIN``.
    """
    path = log_key_path(settings)
    where = "API_LOG_KEY" if settings.log_key is not None else str(path)
    if settings.log_key is not None:
        text = settings.log_key.get_secret_value()
    elif path.exists():
        text = path.read_text()
    elif create:
        origin = settings.log_origin or default_origin(settings.public_url)
        try:
            return create_log_key(path, origin)
        except FileExistsError:  # another process made it just now
            text = path.read_text()
        except NoteError as error:
            raise LogKeyError(f"API_LOG_ORIGIN: {error}") from None
    else:
        return None
    try:
        signer = Signer.parse(text)
    except NoteError as error:
        raise LogKeyError(f"{where} does not hold a log key: {error}") from None
    if settings.log_origin is not None and settings.log_origin != signer.name:
        raise LogKeyError(
            f"the log key in {where} signs for origin {signer.name!r}, but API_LOG_ORIGIN is "
            f"{settings.log_origin!r}: a log's origin never changes (unset API_LOG_ORIGIN, "
            "or make a key for the new log with `shanlian keys log create`)"
        )
    return signer


class TransparencyLog:
    """The journal's signed checkpoints: signs tree sizes with the log key, keeps the notes."""

    def __init__(
        self,
        store: Store,
        signer: Signer,
        *,
        reads: Store | None = None,
        interval_s: float = SIGN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``reads``: where ``latest`` looks (a SQLite file's read-only twin, ADR 0048);
        signing reads and writes through ``store``."""
        self.store = store
        self.signer = signer
        self.checkpoints = SignedCheckpoints(store.engine)
        self._reads = store if reads is None else reads
        self._read = SignedCheckpoints(self._reads.engine)
        self._interval_s = interval_s
        self._clock = clock
        self._looked_at = float("-inf")
        self._signing = threading.Lock()

    @property
    def origin(self) -> str:
        return self.signer.name

    @property
    def vkey(self) -> str:
        """The C2SP verifier key of the log: what anyone checks a checkpoint with."""
        return self.signer.verifier.vkey

    def sign(self, tree_size: int, root_hash: bytes) -> SignedCheckpointRecord:
        """Sign the checkpoint ``(tree_size, root_hash)`` and keep it (once per size).

        Requires ``root_hash`` to be the journal's root at ``tree_size``.
        """
        kept = self.checkpoints.get(tree_size)
        if kept is not None:
            return kept
        note = self.signer.sign(CheckpointBody(self.origin, tree_size, root_hash).text())
        return self.checkpoints.add(tree_size, root_hash, note)

    def sign_current(self) -> SignedCheckpointRecord:
        """Sign the journal as it stands (if that size is not signed yet)."""
        size = self.store.size()
        return self.sign(size, self.store.root(size))

    def latest(self) -> SignedCheckpointRecord:
        """The latest signed checkpoint, signing the journal's size first when it grew.

        A process looks at most once every ``interval_s`` and one thread at a time, so
        however many ask, the database is asked about the size a few times a second.
        """
        now = self._clock()
        if now - self._looked_at >= self._interval_s and self._signing.acquire(blocking=False):
            try:
                self._looked_at = now
                latest = self._read.latest()
                if latest is None or latest.tree_size < self._reads.size():
                    return self.sign_current()
                return latest
            finally:
                self._signing.release()
        latest = self._read.latest()
        return latest if latest is not None else self.sign_current()


# -- HTTP ----------------------------------------------------------------------------------

router = APIRouter(prefix="/tlog", include_in_schema=False)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.api_route("/checkpoint", methods=["GET", "HEAD"])
def checkpoint(request: Request) -> Response:
    """The latest checkpoint signed by the log key (c2sp.org/tlog-checkpoint)."""
    transparency_log = _services(request).log
    if transparency_log is None:
        raise ApiError(
            404,
            "no_log_key",
            "this server has no log key, so it signs no checkpoints: the operator makes one "
            "with `shanlian keys log create` (docs/deployment.md)",
        )
    latest = transparency_log.latest()
    witnesses = _services(request).witnesses
    # With witnesses: the newest checkpoint that meets the quorum, cosignatures appended.
    note = (
        latest.note
        if witnesses is None
        else witnesses.served(Witnessing(_services(request).committed_store.engine), latest)
    )
    return Response(
        note.encode(),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": CHECKPOINT_CACHE},
    )


@router.api_route("/tile/{path:path}", methods=["GET", "HEAD"])
def tile(request: Request, path: str) -> Response:
    """A tile or an entry bundle (c2sp.org/tlog-tiles), once the journal has it.

    ``If-None-Match`` and ``HEAD`` are answered by ``explorer.caching.ConditionalGet``.
    """
    try:
        if len(path) > MAX_TILE_PATH:
            raise TilePathError("too long for a tile path")
        name = parse_tile_path(path)
    except TilePathError as error:
        raise ApiError(404, "no_such_tile", f"tile/{path[:MAX_TILE_PATH]}: {error}") from None
    if name.tree_size > MAX_SEQ + 1:  # no journal ever holds it: no read, no standby asked
        raise ApiError(
            404, "no_such_tile", f"{name.path}: beyond the largest journal ({MAX_SEQ + 1} entries)"
        )
    kept = _kept_tiles(request)
    drawn = kept.get(name.path, None)
    if drawn is None:
        # From a standby that holds it, or a SQLite file's read-only twin: a tile read
        # never queues on the write lock (api.replica).
        body = Tiles(_services(request).reading(name.tree_size).engine).read(name)
        if body is None:  # not kept: the journal may have it in a moment
            raise ApiError(
                404,
                "no_such_tile",
                f"{name.path}: the journal has no such "
                f"{'entry bundle' if name.level is None else 'tile'} (yet)",
            )
        drawn = Drawn(body=body, language=None, cache=TILE_CACHE, status_code=200)
        kept.put(name.path, None, drawn)
    headers = {"Cache-Control": TILE_CACHE, "ETag": drawn.etag}
    return Response(drawn.body, media_type="application/octet-stream", headers=headers)


def _kept_tiles(request: Request) -> ExactPageCache:
    """The process's kept tiles: every version of a tile is the same (None), and the
    least recently used leave first, within ``TILES_KEPT`` and ``TILES_KEPT_BYTES``."""
    return per_app(
        request.app,
        "tiles_kept",
        lambda: ExactPageCache(pages=TILES_KEPT, size_bytes=TILES_KEPT_BYTES),
    )


@router.api_route("/{rest:path}", methods=["GET", "HEAD"])
def elsewhere(rest: str) -> Response:
    """Anything else under /tlog/: a problem, not the explorer's page."""
    raise ApiError(
        404,
        "no_such_resource",
        "a tlog-tiles log serves checkpoint, tile/<L>/<N>[.p/<W>] and "
        "tile/entries/<N>[.p/<W>] only",
    )
