"""Official e-receipts (公益事业捐赠电子票据) of donations: attached by the charity, shown to
the donor (ADR 0041).

The charity that received a donation (or the platform for it) attaches the code, number
and check code of the official e-receipt it issued on the government's platform. Those
three let anyone look the e-receipt up there, and it shows the payer's name: they are
personal data. So they are kept in a service table (``ledger.store.official_receipts``),
never in the journal, and shown only

- to the charity (and the platform), through ``GET`` on the same path;
- to the donor, on the donation page opened from the receipt link: its script, once it
  has proven the receipt secret is this donation's, sends a key derived from it here
  (``reveal_key``; the secret itself never leaves the browser) and shows the answer.
  The server derives the same key from the secret it keeps (``Services.receipt_secret``).

An attachment is never overwritten: a different receipt is a new version with its reason,
the charity sees every version, the donor the current one.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.errors import ApiError, ForbiddenError, problem_response
from api.keys import Principal
from api.per_app import per_app
from api.routes.deps import ERRORS, NO_STORE, RoleGuard, ServicesDep
from api.routes.guarded import resource_router
from api.rpc import RateLimiter, client_of
from api.services import Services
from api.webhooks import now_ms
from ledger.errors import NotFoundError
from ledger.store.official_receipts import (
    MAX_VERSIONS,
    OfficialReceipt,
    OfficialReceipts,
    VersionTakenError,
)

REVEAL_RATE_PER_S = 1.0
REVEAL_BURST = 10
"""A donation page asks once as it opens; a client asking more often is refused (429)."""


def _recipient(services: Services, path: Mapping[str, str]) -> str:
    """The charity that received the donation the path names (404: no such donation)."""
    donation_id = path["donation_id"]
    if "\x00" in donation_id:  # no id holds one (PostgreSQL text cannot even be asked)
        raise NotFoundError("donation", donation_id)
    return services.donation(donation_id).charity_id


class _Recipient(RoleGuard):
    """The charity that received the donation, or the platform for it, before the body.

    To another charity the donation is not found, as other tenants' things are: its
    e-receipt is not that charity's to read or write.
    """

    def check(self, principal: Principal, services: Services, path: Mapping[str, str]) -> None:
        try:
            super().check(principal, services, path)
        except ForbiddenError:
            if principal.role == "charity":
                raise NotFoundError("donation", path["donation_id"]) from None
            raise


RecipientOrPlatform = Annotated[
    Principal,
    Depends(
        _Recipient(
            "charity",
            "platform",
            detail="only the charity that received the donation, or the platform for it, "
            "may do this",
            owner=_recipient,
        )
    ),
]


def _plain(text: str | None) -> str | None:
    if text is not None and (
        not text.strip() or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)
    ):
        raise ValueError("must be text on one line, without control characters")
    return text


class OfficialReceiptAttach(BaseModel):
    """The official e-receipt the charity issued for the donation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"code": "11060126", "number": "0000123456", "check_code": "8A3F2C"}]
        },
    )
    code: Annotated[
        str,
        Field(
            pattern=r"^[0-9]{8}$",
            description="票据代码, the e-receipt's code: 8 digits (ASCII)",
        ),
    ]
    number: Annotated[
        str,
        Field(pattern=r"^[0-9]{10}$", description="票据号码, its number: 10 digits (ASCII)"),
    ]
    check_code: Annotated[
        str,
        Field(
            pattern=r"^[0-9A-Za-z]{6}$",
            description="校验码, its check code: 6 letters or digits, as printed",
        ),
    ]
    reason: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=200,
            description="why this receipt replaces the one attached before "
            "(required to replace one; ignored when the same receipt is sent again)",
        ),
        AfterValidator(_plain),
    ] = None


class OfficialReceiptVersion(BaseModel):
    version: int = Field(description="1 for the first attachment, then one more a correction")
    code: str
    number: str
    check_code: str
    reason: str | None = Field(description="why it replaced the version before")
    attached_by: str = Field(description="charity:<id> or platform")
    attached_at: datetime


class OfficialReceiptPublic(OfficialReceiptVersion):
    """The donation's official e-receipt as it stands, and every earlier version."""

    donation_id: str
    charity_id: str
    earlier: list[OfficialReceiptVersion] = Field(description="earlier versions, oldest first")


class OfficialReceiptForDonor(BaseModel):
    """What the donor's page shows: the e-receipt as it stands."""

    donation_id: str
    code: str
    number: str
    check_code: str
    attached_at: datetime
    corrected: bool = Field(description="whether the charity replaced an earlier attachment")


REVEAL_LABEL = b"shanlian official receipt\n"
"""What ``reveal_key`` hashes first: its key is good for this and nothing else."""


def reveal_key(receipt_secret: bytes, donation_id: str) -> bytes:
    """SHA-256(REVEAL_LABEL ‖ receipt secret ‖ donation id as UTF-8): what the donor's page
    sends for the official e-receipt, so that the receipt secret stays in the browser
    (verify-page.js computes the same)."""
    return hashlib.sha256(REVEAL_LABEL + receipt_secret + donation_id.encode("utf-8")).digest()


class RevealKey(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reveal_key": "0" * 64}]},
    )
    reveal_key: Annotated[
        str,
        Field(
            pattern=r"^[0-9a-f]{64}$",
            description="SHA-256 of 'shanlian official receipt\\n', the 16 bytes of the receipt "
            "code (after #s= in the receipt link) and the donation id (UTF-8), as 64 "
            "lowercase hex digits",
        ),
    ]


def _version(receipt: OfficialReceipt) -> OfficialReceiptVersion:
    return OfficialReceiptVersion.model_validate(receipt, from_attributes=True)


def _public(versions: list[OfficialReceipt]) -> OfficialReceiptPublic:
    current = versions[-1]
    return OfficialReceiptPublic(
        **_version(current).model_dump(),
        donation_id=current.donation_id,
        charity_id=current.charity_id,
        earlier=[_version(v) for v in versions[:-1]],
    )


def receipts_of(services: Services) -> OfficialReceipts:
    return OfficialReceipts(services.store)


router = resource_router(tag="receipts")
PATH = "/donations/{donation_id}/official-receipt"


@router.put(PATH, responses=ERRORS)
def attach_official_receipt(
    donation_id: str,
    body: OfficialReceiptAttach,
    services: ServicesDep,
    principal: RecipientOrPlatform,
    response: Response,
) -> OfficialReceiptPublic:
    """Attach the official e-receipt issued for the donation (the charity that received it,
    or the platform for it).

    The same receipt sent again changes nothing. A different one replaces it only with a
    ``reason`` (422 ``reason_required`` without), as a new version: nothing attached is
    overwritten, and the charity sees every version. At most ten versions (409).
    The code, number and check code never enter the journal or any public answer: the
    donor sees them on their own donation page, opened from the receipt link.
    """
    donation = services.donation(donation_id)
    response.headers.update(NO_STORE)
    store = receipts_of(services)
    versions = store.versions(donation_id)
    if versions and versions[-1].same_receipt(body.code, body.number, body.check_code):
        return _public(versions)
    if versions and body.reason is None:
        raise ApiError(
            422,
            "reason_required",
            "reason: this donation has an official receipt attached already; to replace it, "
            "say why (the earlier one is kept and shown to the charity)",
            field="reason",
        )
    if len(versions) >= MAX_VERSIONS:
        raise ApiError(
            409,
            "too_many_corrections",
            f"this donation's official receipt was attached {MAX_VERSIONS} times: "
            "ask the platform to look into it",
        )
    receipt = OfficialReceipt(
        donation_id=donation_id,
        version=len(versions) + 1,
        charity_id=donation.charity_id,
        code=body.code,
        number=body.number,
        check_code=body.check_code,
        reason=body.reason if versions else None,
        attached_by=principal.actor,
        attached_ms=now_ms(),
    )
    try:
        store.attach(receipt)
    except VersionTakenError:
        raise ApiError(
            409,
            "conflict",
            "another attachment to this donation was written at the same time: read it "
            "and try again",
        ) from None
    return _public([*versions, receipt])


@router.get(PATH, responses=ERRORS)
def official_receipt(
    donation_id: str, services: ServicesDep, principal: RecipientOrPlatform, response: Response
) -> OfficialReceiptPublic:
    """The donation's official e-receipt with every earlier version (the charity that
    received it, or the platform); 404 when none is attached."""
    services.donation(donation_id)
    response.headers.update(NO_STORE)
    versions = receipts_of(services).versions(donation_id)
    if not versions:
        raise NotFoundError("official receipt for donation", donation_id)
    return _public(versions)


def _limiter(request: Request) -> RateLimiter:
    return per_app(
        request.app,
        "official_receipt_rates",
        lambda: RateLimiter(REVEAL_RATE_PER_S, REVEAL_BURST, max_wait=0.0, max_clients=10_000),
    )


_NOT_SHOWN = "no official receipt to show for this donation and receipt code"


@router.post(
    PATH + "/reveal",
    responses={
        404: problem_response(_NOT_SHOWN),
        422: ERRORS[422],
        429: problem_response("this client is over its rate (see Retry-After)"),
    },
)
def reveal_official_receipt(
    donation_id: str,
    body: RevealKey,
    services: ServicesDep,
    request: Request,
    response: Response,
) -> OfficialReceiptForDonor:
    """The official e-receipt for its donor: the body holds a key derived from the receipt
    code of the receipt link (``reveal_key``), which proves the donation is theirs (the
    donation page sends it once its own check has proven the code).

    A wrong code and a donation without an e-receipt get the same 404; the answer is never
    cached, and each client may ask ten times at once, then once a second (429).
    """
    response.headers.update(NO_STORE)
    served, wait = _limiter(request).reserve(client_of(request), 1)
    if not served:
        seconds = max(1, math.ceil(wait))
        error = ApiError(
            429,
            "rate_limited",
            f"rate limit: {REVEAL_BURST} at once, then {REVEAL_RATE_PER_S:g} a second; "
            f"retry in {seconds} s",
            retry_after_s=seconds,
        )
        error.headers = {"Retry-After": str(seconds)}  # type: ignore[attr-defined]
        raise error
    if "\x00" in donation_id or not re.fullmatch(r"[0-9A-Za-z_]{1,43}", donation_id):
        raise ApiError(404, "not_found", _NOT_SHOWN)
    try:
        expected = reveal_key(services.receipt_secret(donation_id), donation_id)
    except NotFoundError:
        raise ApiError(404, "not_found", _NOT_SHOWN) from None
    if not hmac.compare_digest(bytes.fromhex(body.reveal_key), expected):
        raise ApiError(404, "not_found", _NOT_SHOWN)
    current = receipts_of(services).current(donation_id)
    if current is None:
        raise ApiError(404, "not_found", _NOT_SHOWN)
    return OfficialReceiptForDonor.model_validate(current, from_attributes=True)
