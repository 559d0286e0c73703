"""The baseline of ``bench_http.py``: a minimal FastAPI + psycopg service for a donation.

``POST /api/v1/donations`` checks the bearer token, validates the same body as shanlian's
(a pydantic model with the same fields and limits, written out here: the baseline uses
none of shanlian's code), inserts one row into one table and commits; it answers 201
with the row's id. Async psycopg connections, ``POOL_SIZE`` of them per process, taken
from a queue. It is what any service on this stack pays per donation, before the
journal, its Merkle log, the accounting rules, idempotency and the anchoring.

Served by uvicorn with the settings of ``shanlian serve`` (same loop and HTTP
implementation, log level, worker count):

    .venv/bin/python bench/minimal_service.py --port 8100 [--workers 2]

with ``MINIMAL_DATABASE_URL`` (a PostgreSQL URL; the table is created if missing) and
``MINIMAL_TOKEN`` (the bearer token) in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import os
import socket
import sys
import unicodedata
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import FastAPI, Header, HTTPException
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

POOL_SIZE = 10

TABLE = """
CREATE TABLE IF NOT EXISTS minimal_donation (
    id BIGSERIAL PRIMARY KEY,
    idempotency_key VARCHAR(200) NOT NULL,
    charity_id VARCHAR(43) NOT NULL,
    project_id VARCHAR(43),
    amount BIGINT NOT NULL,
    currency CHAR(3) NOT NULL,
    channel VARCHAR(32) NOT NULL,
    paid_at TIMESTAMPTZ NOT NULL,
    payment_ref VARCHAR(200) NOT NULL,
    donor_name VARCHAR(200),
    donor_phone VARCHAR(40),
    donor_email VARCHAR(254),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
INSERT = (
    "INSERT INTO minimal_donation (idempotency_key, charity_id, project_id, amount, currency, "
    "channel, paid_at, payment_ref, donor_name, donor_phone, donor_email) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)


def _no_control_characters(value: str | None) -> str | None:
    if value is not None and any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("contains a control character")
    return value


NoControl = AfterValidator(_no_control_characters)


class Donor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(max_length=200), NoControl] = None
    phone: Annotated[str | None, Field(max_length=40), NoControl] = None
    email: Annotated[str | None, Field(max_length=254), NoControl] = None
    anonymous: StrictBool = False


class Donation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    charity_id: str
    project_id: str | None = None
    amount: Annotated[StrictInt, Field(gt=0, le=10**12)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    channel: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    paid_at: datetime
    payment_ref: Annotated[str, Field(min_length=1, max_length=200)]
    donor: Donor = Field(default_factory=Donor)


def create_app() -> FastAPI:
    """The service (uvicorn's factory: one per worker process)."""
    url = os.environ["MINIMAL_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    expected = f"Bearer {os.environ['MINIMAL_TOKEN']}".encode()
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        connections = [await psycopg.AsyncConnection.connect(url) for _ in range(POOL_SIZE)]
        async with connections[0].transaction():
            await connections[0].execute("SELECT pg_advisory_xact_lock(7411)")  # one creator
            await connections[0].execute(TABLE)
        for connection in connections:
            pool.put_nowait(connection)
        yield
        for connection in connections:
            await connection.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/api/v1/donations", status_code=201)
    async def donate(
        body: Donation,
        authorization: Annotated[str, Header()] = "",
        idempotency_key: Annotated[str, Header(min_length=1, max_length=200)] = "",
    ) -> dict[str, int]:
        if not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(401, "a valid bearer token is required")
        if not idempotency_key:
            raise HTTPException(422, "Idempotency-Key is required")
        connection = await pool.get()
        try:
            cursor = await connection.execute(
                INSERT,
                (
                    idempotency_key,
                    body.charity_id,
                    body.project_id,
                    body.amount,
                    body.currency,
                    body.channel,
                    body.paid_at,
                    body.payment_ref,
                    body.donor.name,
                    body.donor.phone,
                    body.donor.email,
                ),
            )
            row = await cursor.fetchone()
            await connection.commit()
        except BaseException:
            await connection.rollback()
            raise
        finally:
            pool.put_nowait(connection)
        assert row is not None
        return {"id": row[0], "seq": row[0]}

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    # As `shanlian serve` runs uvicorn: its default loop and HTTP implementation, the same
    # log level and as many worker processes; with several, on a listening socket made
    # TCP as api/cli/serve.py's _tcp_listener does (else every answer waits ~40 ms).
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "warning"}
    if args.workers == 1:
        uvicorn.run("minimal_service:create_app", factory=True, **options)
        return 0
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "minimal_service:create_app", factory=True, workers=args.workers, **options
    )
    sock = config.bind_socket()
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(True)
    Multiprocess(config, sockets=[tcp]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
