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
        write_queue: writes that may wait for the sequencer; more are answered 429
            (``API_WRITE_QUEUE``, ADR 0017).
        write_batch: most writes appended in one batch (``API_WRITE_BATCH``).
        write_batch_bytes: most bytes of entries in one batch (``API_WRITE_BATCH_BYTES``).
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
    write_queue: Annotated[int, Field(ge=1)] = 500
    write_batch: Annotated[int, Field(ge=1)] = 250
    write_batch_bytes: Annotated[int, Field(ge=1024)] = 4 * 1024 * 1024

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
