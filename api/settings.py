"""The service's settings, from ``API_*`` environment variables (or ``.env``)."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.store.files import private_dir

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
        evidence_quota_bytes: what one charity may keep in evidence files, in all.
        evidence_rate_bytes, evidence_rate_files: what one charity may upload in any
            ``evidence_rate_window_s`` seconds (bytes stored, new files).
        evidence_orphan_grace_s: how long a file no disbursement cites is kept after its
            upload before ``shanlian evidence collect`` (and ``serve``, every
            ``evidence_collect_interval_s``) removes it.
        evidence_min_free_bytes: uploads are refused (507) when the evidence folder's
            disk would have less free space than this.
        evidence_max_pixels: largest image (width x height) decoded to check it.
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
    evidence_quota_bytes: Annotated[int, Field(gt=0)] = 1024**3
    evidence_rate_bytes: Annotated[int, Field(gt=0)] = 256 * 1024**2
    evidence_rate_files: Annotated[int, Field(gt=0)] = 200
    evidence_rate_window_s: Annotated[int, Field(gt=0)] = 3600
    evidence_orphan_grace_s: Annotated[int, Field(gt=0)] = 24 * 3600
    evidence_collect_interval_s: Annotated[int, Field(gt=0)] = 3600
    evidence_min_free_bytes: Annotated[int, Field(ge=0)] = 1024**3
    evidence_max_pixels: Annotated[int, Field(gt=0)] = 50_000_000

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

    @model_validator(mode="after")
    def _evidence_limits_fit(self) -> ApiSettings:
        for name in ("evidence_quota_bytes", "evidence_rate_bytes"):
            if getattr(self, name) < self.max_upload_bytes:
                raise ValueError(
                    f"API_{name.upper()} ({getattr(self, name)}) is below API_MAX_UPLOAD_BYTES "
                    f"({self.max_upload_bytes}): a file at the limit could never be uploaded"
                )
        if self.evidence_orphan_grace_s < self.evidence_rate_window_s:
            # The rate counts the rows of the window: collecting them sooner would reset it.
            raise ValueError(
                f"API_EVIDENCE_ORPHAN_GRACE_S ({self.evidence_orphan_grace_s}) must be at least "
                f"API_EVIDENCE_RATE_WINDOW_S ({self.evidence_rate_window_s})"
            )
        return self

    def ensure_data_dir(self) -> None:
        """Create the folders of the embedded defaults, so they just work: private (0700)."""
        if self.database_url.startswith("sqlite:///"):
            private_dir(Path(self.database_url.removeprefix("sqlite:///")).parent)
        private_dir(self.evidence_dir)

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
