"""The service's settings, from ``API_*`` environment variables (or ``.env``)."""

from __future__ import annotations

import functools
import os
import re
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
        payment_ref_key: the deployment's secret for ``payment_ref_hash`` (ADR 0016), 64
            hex digits (``API_PAYMENT_REF_KEY``); required in production, where every API
            process must hold the same one. Unset in development, it is read from
            ``payment_ref_key_file``, created there (mode 0600) on the first start.
        payment_ref_key_file: where the development key is kept (default: beside the
            evidence folder, ``var/payment_ref.key``).
        special_currencies: ISO 4217 codes that are not money (``XTS``, ``XXX``, metals,
            fund codes: ``ledger.currencies.NOT_MONEY``) accepted anyway, e.g.
            ``API_SPECIAL_CURRENCIES='["XTS"]'`` for a test deployment; none by default.
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
    special_currencies: tuple[str, ...] = ()
    payment_ref_key: SecretStr | None = None
    payment_ref_key_file: Path | None = None

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

    @field_validator("payment_ref_key")
    @classmethod
    def _key_is_32_bytes_of_hex(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", value.get_secret_value()):
            raise ValueError(
                "API_PAYMENT_REF_KEY must be 64 hex digits (32 random bytes), e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return value

    @model_validator(mode="after")
    def _production_needs_a_payment_ref_key(self) -> ApiSettings:
        if self.environment == "production" and self.payment_ref_key is None:
            raise ValueError(
                "in production API_PAYMENT_REF_KEY must be set (64 hex digits, the same in "
                "every API process, kept out of the journal and its backups; ADR 0016)"
            )
        return self

    @property
    def payment_ref_key_bytes(self) -> bytes:
        """The payment reference key (``with_payment_ref_key`` has made sure there is one)."""
        if self.payment_ref_key is None:
            raise RuntimeError("no payment reference key: build services with build_services")
        return bytes.fromhex(self.payment_ref_key.get_secret_value())

    def with_payment_ref_key(self) -> ApiSettings:
        """These settings with a payment reference key: the configured one, or the file's.

        In development the key is kept in ``payment_ref_key_file`` (created with mode 0600
        on the first start, then read): references hash alike across restarts.
        """
        if self.payment_ref_key is not None:
            return self
        path = self.payment_ref_key_file or self.evidence_dir.parent / "payment_ref.key"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            text = path.read_text().strip()
        else:
            text = secrets.token_hex(32)
            with os.fdopen(descriptor, "w") as file:
                file.write(text + "\n")
        if not re.fullmatch(r"[0-9a-f]{64}", text):
            raise ValueError(f"{path} does not hold a payment reference key (64 hex digits)")
        return self.model_copy(update={"payment_ref_key": SecretStr(text)})

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
