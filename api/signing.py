"""Charity signatures at the API (ADR 0037): ids from a nonce, and the checks of a submit.

A charity that has a signer signs its fund use: ``POST …/prepare`` answers the EIP-712
typed data of the entries a request will append (their ids derived from a nonce, so the
submit appends exactly those), the charity signs each, and submits the request with
``signed: {nonce, signatures}``. ``check_signatures`` refuses, before anything is
stored: no signature from a charity that has a signer, a signature by another key or
over other data, and a replayed one (its entries exist already).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from api.errors import ApiError
from chain.typed_data import (
    SignatureError,
    normalize_signature,
    recover_signer,
    sign_typed_data,
    typed_data,
)
from ledger.entries import CHARITY_SIGNED_KINDS
from ledger.errors import AccountingError
from ledger.store.requests import Draft, id_of_number, new_id

SIGNED_DRAFT_KINDS = (*CHARITY_SIGNED_KINDS, "charity.signer_changed")


def new_nonce() -> str:
    """A fresh nonce for a prepared request (20 random characters of [a-z0-9])."""
    return new_id("nonce").partition("_")[2]


def derived_id(prefix: str, charity_id: str, nonce: str, index: int) -> str:
    """The id of a signed request's ``index``-th new thing: the same for the prepare and
    the submit of one nonce, of the form the platform's random ids have (``new_id``)."""
    digest = hashlib.sha256(f"{charity_id}|{nonce}|{prefix}|{index}".encode()).digest()
    return id_of_number(prefix, int.from_bytes(digest, "big"))


def signed_request(prepared: Mapping[str, Any], key: bytes) -> dict[str, Any]:
    """The request of a prepare answer, each of its typed data signed with ``key`` (the
    CLI's ``charity sign`` and the demo's charities)."""
    request: dict[str, Any] = dict(prepared.get("request") or {})
    request["signed"] = {
        "nonce": prepared.get("nonce"),
        "signatures": [sign_typed_data(typed, key) for typed in prepared["typed_data"]],
    }
    return request


def typed_data_of(
    drafts: Sequence[Draft], charity_id: str, *, chain_id: int, registry: str
) -> list[dict[str, Any]]:
    """The typed data of each draft, in order."""
    return [
        typed_data(d.kind, d.body, charity_id=charity_id, chain_id=chain_id, registry=registry)
        for d in drafts
    ]


def replayed(error: AccountingError) -> ApiError | None:
    """The refusal of a signed request whose entries exist already (its signature used
    once before), or None for another broken rule. An idempotent retry (same key, same
    body) never gets here: the store answers it with the first result."""
    if not error.message.endswith("already exists"):
        return None
    return signature_problem(
        409,
        "signature_replayed",
        f"signed: this signature was used already ({error.message}); a signed request is "
        "appended once: prepare a new one for new fund use",
    )


def signature_problem(status: int, code: str, detail: str, **extra: Any) -> ApiError:
    return ApiError(status, code, detail, field="signed", **extra)


def check_signatures(
    drafts: Sequence[Draft],
    charity_id: str,
    signer: str | None,
    signatures: Sequence[str] | None,
    *,
    chain_id: int | None,
    registry: str | None,
) -> list[Draft]:
    """The drafts with their signatures, or the refusal of the request.

    Args:
        drafts: the request's entries, as the prepare answer listed them.
        charity_id: whose fund use it is.
        signer: the charity's signer now (None: it signs nothing).
        signatures: the request's ``signed.signatures`` (None: none sent).
        chain_id, registry: the EIP-712 domain (None: no chain, no signature possible).

    Raises:
        ApiError: ``signature_required``, ``signature_count``, ``signature_invalid``,
            ``signature_mismatch`` or ``signature_unexpected``. A replayed signature is
            refused at the append (``replayed``): its ids exist already.
    """
    if signer is None:
        if signatures:
            raise signature_problem(
                422,
                "signature_unexpected",
                f"signed: charity {charity_id} has no registered signer, so nothing it "
                "sends is signed; register one (POST /charities/{id}/signer) or leave signed out",
            )
        return list(drafts)
    if not signatures:
        raise signature_problem(
            403,
            "signature_required",
            f"signed: charity {charity_id} has the signer {signer} registered, so its fund "
            "use must carry its signature: POST the same body to …/prepare, sign each "
            "typed_data with that key (eth_signTypedData_v4 or `shanlian charity sign`), and "
            "send the answer's request with signed.signatures",
            signer=signer,
        )
    if chain_id is None or registry is None:
        raise ApiError(503, "chain_unavailable", "no chain: signatures cannot be checked")
    if len(signatures) != len(drafts):
        raise signature_problem(
            409,
            "signature_count",
            f"signed.signatures: {len(signatures)} given, the request appends {len(drafts)} "
            "entries now (the books may have changed since the prepare): prepare it again",
        )
    signed: list[Draft] = []
    for index, (draft, signature) in enumerate(zip(drafts, signatures, strict=True)):
        typed = typed_data(
            draft.kind, draft.body, charity_id=charity_id, chain_id=chain_id, registry=registry
        )
        try:
            recovered = recover_signer(typed, signature)
        except SignatureError as error:
            raise ApiError(
                422,
                "signature_invalid",
                f"signed.signatures[{index}]: {error.reason}",
                field=f"signed.signatures[{index}]",
            ) from None
        if recovered != signer:
            raise ApiError(
                422,
                "signature_mismatch",
                f"signed.signatures[{index}]: made by {recovered}, not by the charity's "
                f"signer {signer}: signed with another key, or over other data than the "
                f"{draft.kind} entry this request appends (prepare it again and sign its "
                "typed_data as it is)",
                field=f"signed.signatures[{index}]",
                signer=signer,
                recovered=recovered,
            )
        sig = normalize_signature(signature)
        signed.append(Draft(draft.kind, draft.body, actor=draft.actor, sig=sig))
    return signed
