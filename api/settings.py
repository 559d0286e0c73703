"""The service's settings, from ``API_*`` environment variables (or ``.env``)."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class ApiSettings(BaseSettings):
    """Where the journal lives.

    Attributes:
        database_url: SQLAlchemy URL of the journal's database (``API_DATABASE_URL``);
            unset, a SQLite file under ``var/`` — the embedded default for trying it out.
            ``postgresql://user@host/db`` is what production runs on.
    """

    model_config = SettingsConfigDict(
        env_prefix="API_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'shanlian.db'}"

    @field_validator("database_url")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("API_DATABASE_URL is empty; unset it for the embedded SQLite file")
        return value.strip()

    def ensure_data_dir(self) -> None:
        """Create the folder of a SQLite file, so the embedded default just works."""
        if self.database_url.startswith("sqlite:///"):
            Path(self.database_url.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )


@functools.cache
def get_settings() -> ApiSettings:
    """The process's settings, read from the environment once."""
    return ApiSettings()
