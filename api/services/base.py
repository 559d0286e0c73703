"""The base of the service layer: what every write shares.

The process's store, keys, evidence and chain; the append (through the sequencer when
there is one, ADR 0017); idempotency keys; who may write; which currencies are money.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from api import models, signing
from api.anchoring import AnchorSettings, AnchorWorker
from api.errors import ApiError, ForbiddenError
from api.evidence import EvidenceStore
from api.keys import KeyStore, Principal
from api.reads import JournalReads
from api.replica import Reader
from api.settings import ApiSettings
from api.tlog import TransparencyLog
from chain.client import ChainClient
from chain.errors import ChainError
from explorer.views import PublicViews
from ledger.currencies import special_currency_problem
from ledger.entries import canonical_bytes
from ledger.errors import AccountingError
from ledger.store.journal import Store
from ledger.store.requests import AppendRequest, AppendResult, Draft, Request
from ledger.store.sequencer import Sequencer

if TYPE_CHECKING:  # api.witnesses imports the webhooks' URL check, which imports this
    from api.witnesses import WitnessSetup


def request_hash(route: str, principal: Principal, body: BaseModel | dict[str, Any]) -> bytes:
    """What makes two requests "the same" for an idempotency key: route, caller, body."""
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return hashlib.sha256(
        canonical_bytes({"route": route, "actor": principal.actor, "body": payload})
    ).digest()


def idempotency_key(route: str, principal: Principal, key: str) -> str:
    """Keys are per route and caller: one client's key never collides with another's."""
    return f"{route}|{principal.actor}|{key}"


REGISTRATIONS_KEPT = 100_000
"""Charities whose registration time a process keeps in memory (a few MiB at most)."""


@dataclass
class ServiceCore(JournalReads):
    """What every write needs: the process's store, keys and chain, and how to append."""

    settings: ApiSettings
    store: Store
    keys: KeyStore
    evidence: EvidenceStore
    views: PublicViews
    chain: ChainClient | None = None
    worker: AnchorWorker | None = None
    anchor_settings: AnchorSettings | None = None
    clock: Callable[[], datetime] | None = None
    """When entries are recorded (default: now); the demo replays months of history."""

    log: TransparencyLog | None = None
    """The log key's signed checkpoints (ADR 0031); none: no log key, no checkpoint served."""

    sequencer: Sequencer | None = None
    """Batches the appends of this process's writers (ADR 0017); none: each appends alone."""

    reader: Reader | None = None
    """Where proofs and the journal's lines are read: a replica that has them, or the store."""

    witnesses: WitnessSetup | None = None
    """The witnesses and quorum the log's checkpoints are sent to (ADR 0035); none: none."""

    _registered_at: dict[str, datetime] = field(default_factory=dict, init=False, repr=False)
    """When each charity registered, as its entry says: an entry never changes, so every
    donation need not read it again (bounded by ``REGISTRATIONS_KEPT``)."""

    def _append(self, requests: Sequence[Request], **options: Any) -> AppendResult:
        at = self.clock() if self.clock is not None else None
        try:
            return self._append_request(AppendRequest(requests, at=at, **options))
        except AccountingError as error:
            # ADR 0037: a signed request appended again is a replayed signature.
            signed = any(isinstance(r, Draft) and r.sig is not None for r in requests)
            refusal = signing.replayed(error) if signed else None
            if refusal is not None:
                raise refusal from None
            raise

    def _append_request(self, request: AppendRequest) -> AppendResult:
        if self.sequencer is None:
            return self.store.append_request(request)
        return self.sequencer.append(request)

    def _idempotency(
        self, route: str, principal: Principal, key: str | None, body: BaseModel | dict[str, Any]
    ) -> dict[str, Any]:
        if key is None:
            return {}
        if not 0 < len(key) <= 100:
            raise ApiError(
                422,
                "invalid_field",
                "Idempotency-Key: 1 to 100 characters",
                field="Idempotency-Key",
            )
        return {
            "idempotency_key": idempotency_key(route, principal, key),
            "request_hash": request_hash(route, principal, body),
        }

    def anchoring_status(self) -> models.AnchoringPublic | None:
        """Whether fees and the budget let the worker anchor now (None: no worker, or the
        node does not answer)."""
        if self.worker is None:
            return None
        try:
            status = self.worker.recent_status()
        except ChainError:
            return None
        return models.AnchoringPublic(**dataclasses.asdict(status))

    @staticmethod
    def require_platform(principal: Principal) -> None:
        if principal.role != "platform":
            raise ForbiddenError("only the platform may do this")

    @staticmethod
    def require_charity(principal: Principal, charity_id: str) -> None:
        if not principal.may_act_for(charity_id):
            raise ForbiddenError(f"this key may not write for charity {charity_id!r}")

    def accept_currency(self, code: str) -> None:
        """Refuse ISO 4217 codes that are not money (XTS, XXX, XAU, …) unless configured."""
        problem = special_currency_problem(code, set(self.settings.special_currencies))
        if problem is not None:
            raise ApiError(422, "currency_not_accepted", f"currency: {problem}", field="currency")
