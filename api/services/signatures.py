"""Charity signatures of the writes (ADR 0037): what a charity signs, and the check.

A charity with a registered signer signs the entries of its requests (EIP-712): a
``…/prepare`` route answers what to sign, and the write checks the signatures it gets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pydantic import BaseModel

from api import models, signing
from api.errors import ApiError
from api.keys import Principal
from api.services.base import ServiceCore
from ledger.entries import validate_body
from ledger.store.requests import AppendResult, Draft, new_id


class SignableRequest(NamedTuple):
    """A request a charity may sign: where it is submitted, for which charity, its entries."""

    route: str
    charity_id: str
    drafts: list[Draft]


def preparing(request_of: Callable[..., SignableRequest]) -> Callable[..., models.Prepared]:
    """The ``prepare_…`` of a request a charity signs: what it signs, and nothing stored.

    ``request_of(services, *ids, body, principal)`` makes the request; its prepare takes
    the same arguments, gives ``body`` a nonce first (its own, or a new one: the nonce
    derives the ids of the entries), and answers the typed data to sign.
    """

    def prepare(self: SignedWrites, *args: Any) -> models.Prepared:
        *ids, body, principal = args
        body, nonce = self._with_nonce(body)
        route, charity_id, drafts = request_of(self, *ids, body, principal)
        return self.prepare(route, charity_id, drafts, body, nonce)

    return prepare


class SignedWrites(ServiceCore):
    """The signing of a charity's requests: prepare, then check on submit."""

    def signer_of(self, charity_id: str) -> str | None:
        """The charity's signer now (its last charity.registered or signer_changed)."""
        return self.charity(charity_id).signer

    def signing_domain(self) -> tuple[int, str] | None:
        """The EIP-712 domain's chain id and CharityRegistry, or None without a chain."""
        if self.chain is None:
            return None
        return self.chain.chain_id, self.chain.charity_registry.address.lower()

    @staticmethod
    def _new_id(prefix: str, charity_id: str, signed: models.Signed | None, index: int) -> str:
        """A random id, or, for a signed request, the one its nonce derives (ADR 0037)."""
        if signed is None:
            return new_id(prefix)
        return signing.derived_id(prefix, charity_id, signed.nonce, index)

    def _signed(
        self, charity_id: str, drafts: list[Draft], signed: models.Signed | None
    ) -> list[Draft]:
        """The drafts with the charity's signatures checked and attached, or a refusal."""
        domain = self.signing_domain()
        return signing.check_signatures(
            drafts,
            charity_id,
            self.signer_of(charity_id),
            None if signed is None else signed.signatures,
            chain_id=None if domain is None else domain[0],
            registry=None if domain is None else domain[1],
        )

    def prepare(
        self,
        route: str,
        charity_id: str,
        drafts: list[Draft],
        request: BaseModel,
        nonce: str,
        *,
        replace: dict[str, Any] | None = None,
    ) -> models.Prepared:
        """What the charity signs for a request, and the request to submit with it."""
        domain = self.signing_domain()
        if domain is None:
            raise ApiError(503, "chain_unavailable", "no chain: nothing can be signed for it")
        # What the ledger would refuse is refused here too: nothing malformed is signed.
        drafts = [
            Draft(d.kind, validate_body(d.kind, d.body), actor=d.actor, sig=d.sig) for d in drafts
        ]
        body = request.model_dump(mode="json", exclude={"signed"})
        body.update(replace or {})
        body["signed"] = {"nonce": nonce, "signatures": []}
        return models.Prepared(
            charity_id=charity_id,
            signer=self.signer_of(charity_id),
            nonce=nonce,
            route=route,
            request=body,
            typed_data=signing.typed_data_of(
                drafts, charity_id, chain_id=domain[0], registry=domain[1]
            ),
        )

    @staticmethod
    def _with_nonce(body: Any) -> tuple[Any, str]:
        nonce = body.signed.nonce if body.signed is not None else signing.new_nonce()
        return body.model_copy(update={"signed": models.Signed(nonce=nonce)}), nonce

    def _append_signed(
        self, request: SignableRequest, body: Any, principal: Principal, key: str | None
    ) -> AppendResult:
        """Append a charity's request: its signatures (``body.signed``) checked and
        attached, once per idempotency key."""
        drafts = self._signed(request.charity_id, request.drafts, body.signed)
        return self._append(drafts, **self._idempotency(request.route, principal, key, body))
