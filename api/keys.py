"""Who is calling: bearer tokens for the platform, charities and auditors."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from ledger.store.tables import API_KEY

Role = Literal["platform", "charity", "auditor", "public"]
KEY_PREFIX = "sk_"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Attributes:
        role: ``platform`` (the operator and its payment channel), ``charity`` (one
            charity's own data only), ``auditor`` (reads private evidence) or ``public``.
        charity_id: the charity a charity key belongs to.
    """

    role: Role
    charity_id: str | None = None

    @property
    def actor(self) -> str:
        """The journal's ``actor`` for entries this caller writes."""
        return f"charity:{self.charity_id}" if self.role == "charity" else "platform"

    def may_act_for(self, charity_id: str) -> bool:
        """Whether this caller may write for ``charity_id`` (the platform may, for any)."""
        return self.role == "platform" or (self.role == "charity" and self.charity_id == charity_id)


PUBLIC = Principal("public")
PLATFORM = Principal("platform")


def key_hash(key: str) -> bytes:
    """What is stored of a key: its SHA-256 (keys are 256-bit random, no salt needed)."""
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyStore:
    """API keys (hashed in ``api_key``) and the platform's token (from the settings)."""

    def __init__(self, engine: Engine, platform_token: str) -> None:
        self.engine = engine
        self._platform_hash = key_hash(platform_token)

    def issue(
        self,
        role: Literal["charity", "auditor"],
        label: str,
        *,
        charity_id: str | None = None,
        connection: Connection | None = None,
    ) -> str:
        """Create a key and return it: the only time it is ever seen."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = {
            "key_hash": key_hash(key),
            "role": role,
            "charity_id": charity_id,
            "label": label,
            "created_at": datetime.now(UTC),
            "revoked_at": None,
        }
        if connection is not None:
            connection.execute(API_KEY.insert().values(**row))
        else:
            with self.engine.begin() as own:
                own.execute(API_KEY.insert().values(**row))
        return key

    def revoke(self, key: str) -> bool:
        """Revoke a key; whether it existed."""
        with self.engine.begin() as connection:
            result = connection.execute(
                API_KEY.update()
                .where(API_KEY.c.key_hash == key_hash(key), API_KEY.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return bool(result.rowcount)

    def authenticate(self, token: str) -> Principal | None:
        """The principal a bearer token stands for, or None for an unknown token."""
        digest = key_hash(token)
        if hmac.compare_digest(digest, self._platform_hash):
            return PLATFORM
        with self.engine.connect() as connection:
            row = connection.execute(
                select(API_KEY.c.role, API_KEY.c.charity_id).where(
                    API_KEY.c.key_hash == digest, API_KEY.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        role: Role = "charity" if row.role == "charity" else "auditor"
        return Principal(role, row.charity_id)
