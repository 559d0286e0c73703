"""The service's settings, from ``API_*`` environment variables (or ``.env``)."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")
PLACEHOLDER_TOKENS = {"changeme", "change-me", "secret", "token", "admin", "password"}
EVIDENCE_MEDIA_TYPES = (
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/plain",
)


class ApiSettings(BaseSettings):
    """Where the journal lives, who the platform is, and the limits of requests.

    Attributes:
        environment: ``development`` (the embedded default) or ``production``, which
            refuses a generated or placeholder platform token.
        database_url: SQLAlchemy URL of the journal (``API_DATABASE_URL``); unset, a
            SQLite file under ``var/``. Production runs ``postgresql://…``.
        read_only_database_url: the explorer's connection (a SELECT-only role on
            PostgreSQL); unset, the same database opened read-only.
        admin_token: the platform's bearer token (``SHANLIAN_ADMIN_TOKEN``); unset in
            development, one is generated and printed once by ``shanlian serve``.
        public_url: the base URL donors reach (receipt links and QR codes point here).
        chain_rpc_public_url: a JSON-RPC URL browsers and auditors may use, named by
            ``/chain`` when a real node serves (must allow CORS); with the embedded
            chain the server offers its own read-only endpoint instead.
        evidence_dir: where uploaded evidence files are kept, by SHA-256.
        max_body_bytes: largest JSON request body.
        max_upload_bytes: largest evidence file.
        evidence_media_types: media types accepted as evidence.
        rpc_max_batch: most requests in one JSON-RPC batch to ``/chain/rpc`` (10).
        rpc_gas_cap: gas of every ``eth_call`` through ``/chain/rpc``; a higher ``gas``
            is lowered to it, none is raised (1,000,000; why, beside the field).
        rpc_logs_max_blocks: widest block range of one ``eth_getLogs`` (1,000 blocks).
        rpc_time_limit_s: a ``/chain/rpc`` request answers within this, with a
            time-limit error for what is not done by then (5 s).
        rpc_threads: threads that run chain reads for ``/chain/rpc`` (2; the embedded
            chain serves one request at a time anyway).
        rpc_max_pending: ``/chain/rpc`` requests with chain work running or waiting at
            once; more are refused as busy (8).
        rpc_rate_per_s: JSON-RPC calls per second one client is given (10; a batch
            costs one per request in it).
        rpc_burst: calls a client may make at once before the rate applies (40).
        rpc_rate_max_wait_s: a client over its rate is held up to this long, then
            refused with 429 ``rate_limited`` and ``Retry-After`` (1 s).
        rpc_max_clients: clients whose rate is remembered; the least recently seen are
            forgotten beyond (10,000).
    """

    model_config = SettingsConfigDict(
        env_prefix="API_", env_file=".env", extra="ignore", frozen=True
    )

    environment: str = "development"
    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'shanlian.db'}"
    read_only_database_url: str | None = None
    admin_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SHANLIAN_ADMIN_TOKEN", "API_ADMIN_TOKEN", "admin_token"),
    )
    public_url: str = "http://127.0.0.1:8000"
    chain_rpc_public_url: str | None = None
    evidence_dir: Path = DEFAULT_DATA_DIR / "evidence"
    max_body_bytes: Annotated[int, Field(gt=0)] = 64 * 1024
    max_upload_bytes: Annotated[int, Field(gt=0)] = 10 * 1024 * 1024
    evidence_media_types: tuple[str, ...] = EVIDENCE_MEDIA_TYPES
    rpc_max_batch: Annotated[int, Field(ge=1, le=100)] = 10
    # The heaviest view call is verifyInclusion with a 64-hash proof (the longest a tree of
    # uint64 size has): 98,797 gas measured (71,902 with a 40-hash one). Its loop ends
    # after at most 64 steps whatever the proof's length; a 900-hash proof, as much as a
    # 64 KB body holds, costs ~500,000 for its calldata. 1,000,000 is ten times the
    # heaviest real call, and bounds any call to ~0.25 s of py-evm (a 1M-gas loop).
    rpc_gas_cap: Annotated[int, Field(ge=50_000, le=30_000_000)] = 1_000_000
    rpc_logs_max_blocks: Annotated[int, Field(ge=1)] = 1_000
    rpc_time_limit_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    rpc_threads: Annotated[int, Field(ge=1, le=16)] = 2
    rpc_max_pending: Annotated[int, Field(ge=1)] = 8
    rpc_rate_per_s: Annotated[float, Field(gt=0)] = 10.0
    rpc_burst: Annotated[int, Field(ge=1)] = 40
    rpc_rate_max_wait_s: Annotated[float, Field(ge=0, le=10)] = 1.0
    rpc_max_clients: Annotated[int, Field(ge=1)] = 10_000

    @field_validator("database_url")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("API_DATABASE_URL is empty; unset it for the embedded SQLite file")
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _a_batch_fits_the_burst(self) -> ApiSettings:
        if self.rpc_burst < self.rpc_max_batch:
            raise ValueError(
                f"API_RPC_BURST ({self.rpc_burst}) must be at least API_RPC_MAX_BATCH "
                f"({self.rpc_max_batch}): a full batch could never be served"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_a_real_token(self) -> ApiSettings:
        if self.environment == "production":
            token = self.admin_token.get_secret_value() if self.admin_token else ""
            if len(token) < 32 or token.lower() in PLACEHOLDER_TOKENS:
                raise ValueError(
                    "in production SHANLIAN_ADMIN_TOKEN must be set to a random secret of at "
                    "least 32 characters (e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'`)"
                )
        return self

    def ensure_data_dir(self) -> None:
        """Create the folders of the embedded defaults, so they just work."""
        if self.database_url.startswith("sqlite:///"):
            Path(self.database_url.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        self.evidence_dir.mkdir(parents=True, exist_ok=True)

    def with_generated_token(self) -> tuple[ApiSettings, str | None]:
        """These settings with a platform token: the configured one, or a new one."""
        if self.admin_token is not None:
            return self, None
        token = secrets.token_urlsafe(32)
        return self.model_copy(update={"admin_token": SecretStr(token)}), token


@functools.cache
def get_settings() -> ApiSettings:
    """The process's settings, read from the environment once."""
    return ApiSettings()
