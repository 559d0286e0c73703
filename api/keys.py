"""Who is calling: bearer tokens for the platform, charities and auditors.

Charity and auditor keys live in ``api_key`` as their SHA-256 only. A key is named by
its *key id*, ``key_`` and the first 8 bytes of that hash in hex: printed when the key
is issued and by ``shanlian keys … list``, it names the key to an operator without
revealing anything that would let anyone use it. Every request looks its key up in the
database (nothing is cached), so a revoked key is refused from the next request on, by
every process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement

from ledger.store.tables import API_KEY, CHARITY

Role = Literal["platform", "charity", "auditor", "public"]
KEY_PREFIX = "sk_"
KEY_ID_PREFIX = "key_"
MAX_LABEL_LENGTH = 200


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


class KeyStoreError(Exception):
    """Root of the key store's errors (their messages never hold a key)."""


class UnknownCharityError(KeyStoreError):
    """No charity with this id is registered."""

    def __init__(self, charity_id: str) -> None:
        super().__init__(f"no charity {charity_id!r} is registered")
        self.charity_id = charity_id


class NoSuchKeyError(KeyStoreError):
    """No live key matches what the operator named."""


def key_hash(key: str) -> bytes:
    """What is stored of a key: its SHA-256 (keys are 256-bit random, no salt needed)."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def key_id_of_hash(digest: bytes) -> str:
    """The key id of a stored hash: ``key_`` and its first 8 bytes in hex."""
    return KEY_ID_PREFIX + digest[:8].hex()


def key_id(key: str) -> str:
    """The key id of a key (what ``shanlian keys … list`` shows of it)."""
    return key_id_of_hash(key_hash(key))


@dataclass(frozen=True)
class KeyRecord:
    """What is stored about one key: never the key itself.

    Attributes:
        key_id: ``key_`` and the first 8 bytes of the key's SHA-256, in hex.
        role: ``charity`` or ``auditor``.
        charity_id: the charity a charity key belongs to.
        label: who the key is for.
        created_at: when it was issued.
        revoked_at: when it was revoked, or None while it is live.
    """

    key_id: str
    role: str
    charity_id: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    """A key just issued, and the keys it replaced.

    Attributes:
        key: the key itself: shown once, then only its hash exists.
        key_id: its key id.
        label: who it is for.
        revoked: the key ids revoked in the same transaction.
    """

    key: str
    key_id: str
    label: str
    revoked: tuple[str, ...]


class KeyStore:
    """API keys (hashed in ``api_key``) and the platform's token (from the settings).

    The platform token is not in ``api_key``: nothing here revokes it. It is replaced by
    restarting every process with a new ``SHANLIAN_ADMIN_TOKEN``.
    """

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

    # -- a charity's keys ------------------------------------------------------------------

    def rotate_charity(self, charity_id: str) -> IssuedKey:
        """Issue ``charity_id`` a new key and revoke every other key of it, in one transaction.

        Rotations of one charity run one after the other (its ``charity`` row is locked
        first), so however many race, exactly one key is live afterwards.

        Raises:
            UnknownCharityError: no such charity.
        """
        with self.engine.begin() as connection:
            name = self._lock_charity(connection, charity_id)
            revoked = self._revoke_where(
                connection, API_KEY.c.role == "charity", API_KEY.c.charity_id == charity_id
            )
            key = self.issue("charity", name, charity_id=charity_id, connection=connection)
        return IssuedKey(key, key_id(key), name, revoked)

    def revoke_charity(self, charity_id: str) -> tuple[str, ...]:
        """Revoke every key of ``charity_id``: it cannot write until a rotation; the key ids.

        Raises:
            UnknownCharityError: no such charity.
        """
        with self.engine.begin() as connection:
            self._lock_charity(connection, charity_id)
            return self._revoke_where(
                connection, API_KEY.c.role == "charity", API_KEY.c.charity_id == charity_id
            )

    @staticmethod
    def _lock_charity(connection: Connection, charity_id: str) -> str:
        """Lock the charity's row until the transaction ends; its name."""
        name = connection.execute(
            select(CHARITY.c.name).where(CHARITY.c.charity_id == charity_id).with_for_update()
        ).scalar_one_or_none()
        if name is None:
            raise UnknownCharityError(charity_id)
        return str(name)

    # -- auditors' keys --------------------------------------------------------------------

    def issue_auditor(self, label: str) -> IssuedKey:
        """Issue an auditor key labelled ``label``."""
        key = self.issue("auditor", label)
        return IssuedKey(key, key_id(key), label, ())

    def rotate_auditor(self, selector: str) -> IssuedKey:
        """Replace the live auditor key(s) ``selector`` names by one new key with their label.

        A key id names one key; a label names every live key that bears it exactly.

        Raises:
            NoSuchKeyError: no live auditor key has this key id or label.
        """
        with self.engine.begin() as connection:
            hashes, label = self._select_auditor(connection, selector)
            revoked = self._revoke_where(connection, API_KEY.c.key_hash.in_(hashes))
            key = self.issue("auditor", label, connection=connection)
        return IssuedKey(key, key_id(key), label, revoked)

    def revoke_auditor(self, selector: str) -> tuple[str, ...]:
        """Revoke the live auditor key(s) ``selector`` names; their key ids.

        Raises:
            NoSuchKeyError: no live auditor key has this key id or label.
        """
        with self.engine.begin() as connection:
            hashes, _ = self._select_auditor(connection, selector)
            return self._revoke_where(connection, API_KEY.c.key_hash.in_(hashes))

    @staticmethod
    def _select_auditor(connection: Connection, selector: str) -> tuple[list[bytes], str]:
        """The hashes of the live auditor keys with key id or label ``selector``, locked."""
        rows = connection.execute(
            select(API_KEY.c.key_hash, API_KEY.c.label)
            .where(API_KEY.c.role == "auditor", API_KEY.c.revoked_at.is_(None))
            .with_for_update()
        ).all()
        by_id = [r for r in rows if key_id_of_hash(r.key_hash) == selector]
        chosen = by_id or [r for r in rows if r.label == selector]
        if not chosen:
            raise NoSuchKeyError(
                f"no live auditor key has the key id or label {selector!r} "
                "(`shanlian keys auditor list` shows them)"
            )
        return [r.key_hash for r in chosen], str(chosen[0].label)

    # -- shared ----------------------------------------------------------------------------

    @staticmethod
    def _revoke_where(connection: Connection, *conditions: ColumnElement[bool]) -> tuple[str, ...]:
        """Revoke the live keys that meet ``conditions``; their key ids."""
        hashes = list(
            connection.execute(
                select(API_KEY.c.key_hash).where(*conditions, API_KEY.c.revoked_at.is_(None))
            ).scalars()
        )
        if hashes:
            connection.execute(
                API_KEY.update()
                .where(API_KEY.c.key_hash.in_(hashes))
                .values(revoked_at=datetime.now(UTC))
            )
        return tuple(key_id_of_hash(h) for h in hashes)

    def records(
        self, role: Literal["charity", "auditor"], *, charity_id: str | None = None
    ) -> list[KeyRecord]:
        """Every key of a role (a charity's only, with ``charity_id``), oldest first."""
        query = select(API_KEY).where(API_KEY.c.role == role)
        if charity_id is not None:
            query = query.where(API_KEY.c.charity_id == charity_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(API_KEY.c.created_at)).all()
        return [
            KeyRecord(
                key_id=key_id_of_hash(row.key_hash),
                role=row.role,
                charity_id=row.charity_id,
                label=row.label,
                created_at=row.created_at,
                revoked_at=row.revoked_at,
            )
            for row in rows
        ]

    def is_platform(self, token: str) -> bool:
        """Whether ``token`` is the platform's (in memory: no database read)."""
        return hmac.compare_digest(key_hash(token), self._platform_hash)

    def authenticate(self, token: str) -> Principal | None:
        """The principal a bearer token stands for, or None for an unknown or revoked token.

        Read from the database on every call, never cached: a revocation holds from the
        next request on.
        """
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
