"""The HTTP routes under ``/api/v1``: parse, authorize, call a service, return a model."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Header, Query, Request, Response, UploadFile
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from api import models, receipts
from api.errors import (
    TITLES,
    ApiError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    problem_response,
)
from api.evidence import SUFFIXES as EVIDENCE_SUFFIXES
from api.keys import PUBLIC, Principal, Role
from api.services import Services
from explorer.views import checkpoint_public
from ledger.entries import MAX_SEQ, from_hex, to_hex

bearer = HTTPBearer(auto_error=False, description="platform token, charity key or auditor key")


async def get_services(request: Request) -> Services:
    # async: a plain function would cost every request a trip to the thread pool.
    return services_of(request)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _authenticate(services: Services, token: str | None) -> Principal:
    if token is None:
        return PUBLIC
    principal = services.keys.authenticate(token)
    if principal is None:
        raise UnauthorizedError("the bearer token is not valid (revoked, or never issued)")
    return principal


async def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Who is calling: anyone without a token is the public; a bad token is refused."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:  # GuardedRoute authenticated the caller before the body
        return known
    token = credentials.credentials if credentials else None
    if token is None or services.keys.is_platform(token):
        return _authenticate(services, token)  # no I/O: stay on the event loop
    return await run_in_threadpool(_authenticate, services, token)


def authenticated(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A caller with a valid token (any role)."""
    if principal.role == "public":
        raise UnauthorizedError()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
Authenticated = Annotated[Principal, Depends(authenticated)]


# -- roles before the body ---------------------------------------------------------------------

OwnerOf = Callable[[Services, Mapping[str, str]], str]
"""The charity that owns what a route's path names (its id from the path parameters)."""


class RoleGuard:
    """A dependency that admits only some roles, checked before the request body is read.

    ``GuardedRoute`` runs ``check`` before FastAPI reads, parses or validates the body, so
    a caller without the role gets 401/403 whatever it sends, and learns nothing of the
    body's schema. With ``owner``, a charity key must also be the charity that owns what
    the path names (the platform may act for any charity).
    """

    def __init__(self, *roles: Role, detail: str, owner: OwnerOf | None = None) -> None:
        self.roles = roles
        self.detail = detail
        self.owner = owner

    def check(self, principal: Principal, services: Services, path: Mapping[str, str]) -> None:
        if principal.role == "public":
            raise UnauthorizedError()
        if principal.role not in self.roles:
            raise ForbiddenError(self.detail)
        if self.owner is not None and principal.role == "charity":
            owner = self.owner(services, path)
            if principal.charity_id != owner:
                raise ForbiddenError(f"this key may not write for charity {owner!r}")

    async def __call__(
        self, request: Request, services: ServicesDep, principal: CurrentPrincipal
    ) -> Principal:
        # Through get_principal, the route's OpenAPI names the bearer scheme.
        if not getattr(request.state, "guarded", False):
            # Not under GuardedRoute (a route added elsewhere): check now, still refusing.
            await run_in_threadpool(self.check, principal, services, request.path_params)
        return principal


def _bearer_token(request: Request) -> str | None:
    # As HTTPBearer(auto_error=False) reads it: another scheme, or none, is the public.
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" and token else None


def _guards(dependant: Dependant) -> Iterator[RoleGuard]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleGuard):
            yield dependency.call
        yield from _guards(dependency)


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKeyError(key)
        obj[key] = value
    return obj


def strict_json(body: bytes) -> Any:
    """Parse a JSON request body, refusing a key given twice in one object (at any depth).

    With duplicates, parsers disagree on which value counts (Python's keeps the last, others
    the first): ``{"amount": 100, "amount": 999999}`` must not mean what one of them says.

    Raises:
        json.JSONDecodeError: not JSON (FastAPI's own answer, ``invalid_json``, follows).
        ApiError: 422 ``duplicate_key``, or ``invalid_json`` for numbers of thousands of
            digits and nesting deeper than the parser's recursion limit.
    """
    try:
        return json.loads(body, object_pairs_hook=_refuse_duplicate_keys)
    except DuplicateKeyError as error:
        raise ApiError(
            422,
            "duplicate_key",
            f"{error.key}: the key appears twice in one JSON object; send each key once",
            field=error.key,
        ) from None
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise ApiError(
            422, "invalid_json", f"the body is not JSON this service reads: {error}", field="body"
        ) from None


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("application/") and (
        media == "application/json" or media.endswith("+json")
    )


class GuardedRoute(APIRoute):
    """A route that authorizes before it reads the body, and reads JSON strictly.

    FastAPI reads and validates the body before it solves any dependency; this runs the
    route's ``RoleGuard`` dependencies first (a wrong role gets 401/403, never 422), then
    parses a JSON body with ``strict_json`` and leaves the result where FastAPI reads it.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards = list(_guards(self.dependant))

        in_memory = all(guard.owner is None for guard in guards)

        async def guarded(request: Request) -> Response:
            if guards:
                token = _bearer_token(request)
                if in_memory and (token is None or services_of(request).keys.is_platform(token)):
                    _authorize(request, guards)  # no I/O: no trip to the thread pool
                else:
                    await run_in_threadpool(_authorize, request, guards)
            if request.method in ("POST", "PUT", "PATCH") and _is_json(
                request.headers.get("content-type")
            ):
                body = await request.body()
                if body:
                    # Not JSON: FastAPI parses it again and answers invalid_json.
                    with contextlib.suppress(json.JSONDecodeError):
                        request._json = strict_json(body)
            return await handler(request)

        return guarded


def _authorize(request: Request, guards: list[RoleGuard]) -> None:
    services = services_of(request)
    principal = _authenticate(services, _bearer_token(request))
    for guard in guards:
        guard.check(principal, services, request.path_params)
    request.state.principal = principal
    request.state.guarded = True


def _disbursement_owner(services: Services, path: Mapping[str, str]) -> str:
    return services.disbursement(path["disbursement_id"]).charity_id


def _allocation_owner(services: Services, path: Mapping[str, str]) -> str:
    allocation = services.allocation(path["allocation_id"])
    return services.disbursement(allocation.disbursement_id).charity_id


PlatformOnly = Annotated[
    Principal,
    Depends(RoleGuard("platform", detail="only the platform may do this")),
]
CharityOrPlatform = Annotated[
    Principal,
    Depends(
        RoleGuard(
            "charity", "platform", detail="only a charity, or the platform for it, may do this"
        )
    ),
]
CharityInPath = Annotated[
    Principal,
    Depends(
        RoleGuard(
            "charity",
            "platform",
            detail="only that charity, or the platform for it, may do this",
            owner=lambda services, path: path["charity_id"],
        )
    ),
]
DisbursementOwner = Annotated[
    Principal,
    Depends(
        RoleGuard(
            "charity",
            "platform",
            detail="only the charity that made the disbursement, or the platform, may do this",
            owner=_disbursement_owner,
        )
    ),
]
AllocationOwner = Annotated[
    Principal,
    Depends(
        RoleGuard(
            "charity",
            "platform",
            detail="only the charity that made the disbursement, or the platform, may do this",
            owner=_allocation_owner,
        )
    ),
]
CharityOnly = Annotated[
    Principal,
    Depends(
        RoleGuard("charity", detail="evidence is uploaded by the charity that spent the money")
    ),
]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=100,
        description="same key and body: the same result, once; same key, other body: 409",
    ),
]
OptionalIdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=100)
]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: problem_response(TITLES[status]) for status in (401, 403, 404, 409, 422)
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    428: problem_response("the Idempotency-Key header is missing"),
}
# Any route may answer these: the body limit is checked before routing, and a route that
# needs the chain says when there is none (or it cannot be reached).
ANY_ROUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    413: problem_response("the request body is over the limit"),
    503: problem_response("no chain, or it cannot be reached"),
}

NO_STORE = {"Cache-Control": "no-store"}
"""On every answer that carries a secret (a receipt's, an API key): no cache may keep it."""

router = APIRouter(prefix="/api/v1", responses=ANY_ROUTE_ERRORS, route_class=GuardedRoute)


# -- charities and projects ------------------------------------------------------------------


@router.post("/charities", status_code=201, responses=ERRORS, tags=["charities"])
def register_charity(
    body: models.CharityCreate, services: ServicesDep, principal: PlatformOnly, response: Response
) -> models.CharityCreated:
    """Register a charity (platform); its API key is in the answer, and only there."""
    response.headers.update(NO_STORE)
    return services.register_charity(body, principal)


@router.get("/charities/{charity_id}", responses=ERRORS, tags=["charities"])
def get_charity(charity_id: str, services: ServicesDep) -> models.CharityPublic:
    """A charity, its projects and balances."""
    return services.views.charity_view(charity_id)


@router.post(
    "/charities/{charity_id}/projects", status_code=201, responses=ERRORS, tags=["charities"]
)
def open_project(
    charity_id: str,
    body: models.ProjectCreate,
    services: ServicesDep,
    principal: CharityInPath,
    idempotency_key: OptionalIdempotencyKey = None,
) -> models.ProjectPublic:
    """Open a project (that charity, or the platform)."""
    return services.open_project(charity_id, body, principal, idempotency_key)


@router.post(
    "/charities/{charity_id}/keys",
    status_code=201,
    responses={**ERRORS, 201: {"headers": {"Cache-Control": {"schema": {"type": "string"}}}}},
    tags=["charities"],
)
def rotate_charity_key(
    charity_id: str, services: ServicesDep, principal: CharityInPath, response: Response
) -> models.CharityKeyIssued:
    """Rotate a charity's key (itself, or the platform): a new key once; older ones refused."""
    services.require_charity(principal, charity_id)
    services.charity(charity_id)  # 404 for a charity that does not exist
    issued = services.keys.rotate_charity(charity_id)
    response.headers["Cache-Control"] = "no-store"  # the key: no cache may keep it
    return models.CharityKeyIssued(
        charity_id=charity_id,
        key_id=issued.key_id,
        api_key=issued.key,
        revoked=list(issued.revoked),
    )


@router.get("/projects/{project_id}", responses=ERRORS, tags=["charities"])
def get_project(project_id: str, services: ServicesDep) -> models.ProjectPublic:
    """A project and its balances."""
    return services.views.project_view(project_id)


# -- donations ---------------------------------------------------------------------------------


@router.post("/donations", status_code=201, responses=WRITE_ERRORS, tags=["donations"])
async def record_donation(
    body: models.DonationCreate,
    services: ServicesDep,
    principal: PlatformOnly,
    idempotency_key: IdempotencyKey,
    response: Response,
) -> models.DonationCreated:
    """Record a paid donation (platform, for the payment channel); returns the receipt.

    `paid_at` must lie from the charity's registration to `API_PAID_AT_LEEWAY_MINUTES`
    (5) after the server's clock: otherwise 422 `outside_window`, with the bounds.
    """
    response.headers.update(NO_STORE)  # the receipt secret, also when the answer is replayed
    return await services.record_donation_async(body, principal, idempotency_key)


@router.get("/donations/{donation_id}", responses=ERRORS, tags=["donations"])
def get_donation(donation_id: str, services: ServicesDep) -> models.DonationPublic:
    """A donation: status, what it funded, refunds, what is unspent. No personal data."""
    return services.views.donation_view(donation_id)


@router.post(
    "/donations/{donation_id}/refunds", status_code=201, responses=WRITE_ERRORS, tags=["donations"]
)
def refund_donation(
    donation_id: str,
    body: models.RefundCreate,
    services: ServicesDep,
    principal: PlatformOnly,
    idempotency_key: IdempotencyKey,
) -> models.Recorded:
    """Refund (part of) a donation (platform); allocated money must be reversed first."""
    return services.refund(donation_id, body, principal, idempotency_key)


@router.get(
    "/donations/{donation_id}/proof",
    responses={**ERRORS, 409: problem_response("not anchored yet (`not_anchored_yet`)")},
    tags=["proofs"],
)
def get_proof(donation_id: str, services: ServicesDep) -> models.ProofBundle:
    """The donation's proof bundle (DESIGN §6), for `shanlian verify` or the browser."""
    return models.ProofBundle.model_validate(services.proof_bundle(donation_id))


def _receipt_target(donation_id: str, services: Services, principal: Principal) -> str:
    if principal.role != "platform":
        raise ForbiddenError("receipts carry the donor's secret: the platform fetches them")
    return services.receipt_url(donation_id, services.receipt_secret(donation_id))


@router.get(
    "/donations/{donation_id}/receipt.png",
    responses={**ERRORS, 200: {"content": {"image/png": {}}}},
    response_class=Response,
    tags=["receipts"],
)
def receipt_png(donation_id: str, services: ServicesDep, principal: Authenticated) -> Response:
    """The receipt QR code as PNG (platform: it holds the receipt secret)."""
    url = _receipt_target(donation_id, services, principal)
    return Response(receipts.qr_png(url), media_type="image/png", headers=NO_STORE)


@router.get(
    "/donations/{donation_id}/receipt.svg",
    responses={**ERRORS, 200: {"content": {"image/svg+xml": {}}}},
    response_class=Response,
    tags=["receipts"],
)
def receipt_svg(donation_id: str, services: ServicesDep, principal: Authenticated) -> Response:
    """The receipt QR code as SVG (platform)."""
    url = _receipt_target(donation_id, services, principal)
    return Response(receipts.qr_svg(url), media_type="image/svg+xml", headers=NO_STORE)


@router.get(
    "/donations/{donation_id}/receipt",
    response_class=HTMLResponse,
    responses=ERRORS,
    tags=["receipts"],
)
def receipt_page(
    donation_id: str, services: ServicesDep, principal: Authenticated, response: Response
) -> str:
    """A printable receipt page with the QR code (platform)."""
    url = _receipt_target(donation_id, services, principal)
    response.headers.update(NO_STORE)
    view = services.views.donation_view(donation_id)
    return receipts.receipt_page(
        donation_id=donation_id,
        charity_name=view.charity_name,
        project_title=view.project_title,
        amount=view.amount,
        currency=view.currency,
        paid_at=view.paid_at,
        seq=view.seq,
        url=url,
        secret_hex=url.rsplit("#s=", 1)[1],
    )


# -- evidence and fund use ----------------------------------------------------------------------


@router.post(
    "/evidence",
    status_code=201,
    responses={
        **ERRORS,
        413: problem_response("the file is over the size limit or the charity's quota"),
        415: problem_response("a media type not accepted, or not the file's content"),
        429: problem_response("the charity uploaded too much lately (see Retry-After)"),
        507: problem_response("the server's disk is nearly full"),
    },
    tags=["fund use"],
)
async def upload_evidence(
    services: ServicesDep,
    principal: CharityOnly,
    file: Annotated[
        UploadFile, File(description="an invoice or photo: PDF, JPEG, PNG, WebP, text")
    ],
) -> models.EvidenceUploaded:
    """Upload an evidence file (a charity); the answer is its SHA-256, used in disbursements."""
    if principal.role != "charity":
        raise ForbiddenError("evidence is uploaded by the charity that spent the money")
    assert principal.charity_id is not None

    async def chunks() -> Any:
        while chunk := await file.read(64 * 1024):
            yield chunk

    record = await services.evidence.save(
        chunks(),
        media_type=file.content_type or "application/octet-stream",
        charity_id=principal.charity_id,
        filename=file.filename,
    )
    return models.EvidenceUploaded(
        sha256=to_hex(record.sha256), media_type=record.media_type, size=record.size
    )


@router.get(
    "/evidence/{sha256}",
    response_class=Response,
    responses={
        **ERRORS,
        200: {"content": {t: {} for t in EVIDENCE_SUFFIXES}, "description": "as an attachment"},
    },
    tags=["fund use"],
)
def download_evidence(sha256: str, services: ServicesDep, principal: CurrentPrincipal) -> Response:
    """An evidence file: public ones for anyone; others for auditors, platform, its charity."""
    try:
        digest = from_hex(sha256)
    except ValueError as error:
        raise ApiError(422, "invalid_field", f"sha256: {error}", field="sha256") from None
    records = services.evidence.records(digest)
    if not records:
        raise NotFoundError("evidence", sha256)
    public = any(r.public for r in records)
    if not public:
        if principal.role == "public":
            raise UnauthorizedError("this evidence is shown to auditors only")
        if principal.role == "charity" and principal.charity_id not in {
            r.charity_id for r in records
        }:
            raise ForbiddenError("this evidence belongs to another charity")
    content = services.evidence.read(digest)
    if content is None:
        raise ApiError(
            404,
            "evidence_file_missing",
            f"evidence {sha256} is recorded but its file is missing on this server; the "
            "charity may upload the same file again to restore it",
        )
    # The type the content was checked against (the caller's own record first); never
    # rendered by the browser: an attachment, not sniffed, sandboxed if opened anyway.
    record = next((r for r in records if r.charity_id == principal.charity_id), records[0])
    media_type = record.media_type
    return Response(
        content,
        media_type=media_type + ("; charset=utf-8" if media_type == "text/plain" else ""),
        headers={
            "Cache-Control": "public, max-age=31536000, immutable" if public else "private",
            "Content-Disposition": (
                f'attachment; filename="{digest.hex()}.{EVIDENCE_SUFFIXES.get(media_type, "bin")}"'
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.post("/disbursements", status_code=201, responses=WRITE_ERRORS, tags=["fund use"])
def record_disbursement(
    body: models.DisbursementCreate,
    services: ServicesDep,
    principal: CharityOrPlatform,
    idempotency_key: IdempotencyKey,
) -> models.DisbursementPublic:
    """Record fund use with its evidence; `allocate` funds it ("fifo" or a list)."""
    return services.record_disbursement(body, principal, idempotency_key)


@router.get("/disbursements/{disbursement_id}", responses=ERRORS, tags=["fund use"])
def get_disbursement(disbursement_id: str, services: ServicesDep) -> models.DisbursementPublic:
    """A disbursement: payee, purpose, public evidence, the donations that funded it."""
    return services.views.disbursement_view(disbursement_id)


@router.post(
    "/disbursements/{disbursement_id}/void",
    status_code=201,
    responses=WRITE_ERRORS,
    tags=["fund use"],
)
def void_disbursement(
    disbursement_id: str,
    body: models.Reason,
    services: ServicesDep,
    principal: DisbursementOwner,
    idempotency_key: IdempotencyKey,
) -> models.DisbursementPublic:
    """Void a disbursement booked in error; its allocations are reversed first."""
    return services.void_disbursement(disbursement_id, body, principal, idempotency_key)


@router.post("/allocations", status_code=201, responses=WRITE_ERRORS, tags=["fund use"])
def allocate(
    body: models.AllocationCreate,
    services: ServicesDep,
    principal: CharityOrPlatform,
    idempotency_key: IdempotencyKey,
) -> models.AllocationPublic:
    """Allocate (part of) a donation to a disbursement of the same charity."""
    return services.allocate(body, principal, idempotency_key)


@router.post(
    "/allocations/{allocation_id}/reversal",
    status_code=201,
    responses=WRITE_ERRORS,
    tags=["fund use"],
)
def reverse_allocation(
    allocation_id: str,
    body: models.Reason,
    services: ServicesDep,
    principal: AllocationOwner,
    idempotency_key: IdempotencyKey,
) -> models.AllocationPublic:
    """Reverse an allocation: the money is the donation's again."""
    return services.reverse_allocation(allocation_id, body, principal, idempotency_key)


# -- auditor exports ------------------------------------------------------------------------------


@router.get(
    "/exports/{kind}.csv",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "CSV, header first"}},
    tags=["journal"],
)
def export_csv(
    kind: Literal["donations", "disbursements", "allocations"],
    services: ServicesDep,
    principal: Authenticated,
    charity_id: Annotated[
        str | None, Query(description="only this charity", pattern=r"^ch_[A-Za-z0-9]{1,40}$")
    ] = None,
    start: Annotated[
        models.Rfc3339 | None, Query(alias="from", description="recorded at or after")
    ] = None,
    end: Annotated[models.Rfc3339 | None, Query(alias="to", description="recorded before")] = None,
) -> StreamingResponse:
    """Donations, disbursements or allocations as CSV (auditors, platform; a charity: its own)."""
    if principal.role == "charity":
        if charity_id != principal.charity_id:
            raise ForbiddenError("a charity exports its own rows: pass charity_id=<yours>")
    elif principal.role not in ("auditor", "platform"):
        raise ForbiddenError("exports are for auditors")
    for name, moment in (("from", start), ("to", end)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(422, "invalid_field", f"{name}: needs a time zone offset", field=name)
    return StreamingResponse(
        services.export_csv(kind, charity_id=charity_id, start=start, end=end),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


# -- journal, checkpoints and chain ---------------------------------------------------------------


@router.get("/checkpoints", tags=["journal"])
def list_checkpoints(services: ServicesDep) -> models.CheckpointsPublic:
    """Every anchored checkpoint, oldest first."""
    data = [checkpoint_public(c) for c in services.checkpoints.all()]
    return models.CheckpointsPublic(data=data, count=len(data))


@router.get("/checkpoints/latest", responses=ERRORS, tags=["journal"])
def latest_checkpoint(services: ServicesDep) -> models.CheckpointPublic:
    """The latest anchored checkpoint."""
    latest = services.checkpoints.latest()
    if latest is None:
        raise NotFoundError("checkpoint", "latest")
    return checkpoint_public(latest)


@router.get("/checkpoints/consistency", responses=ERRORS, tags=["journal"])
def consistency(
    services: ServicesDep,
    first: Annotated[int, Query(ge=0, le=MAX_SEQ + 1, description="the older tree size")],
    second: Annotated[int, Query(ge=0, le=MAX_SEQ + 1, description="the newer tree size")],
) -> models.ConsistencyPublic:
    """The RFC 6962 proof that the tree at `second` extends the tree at `first`."""
    return services.consistency(first, second)


@router.get(
    "/entries",
    response_class=StreamingResponse,
    responses={
        **ERRORS,
        200: {"content": {"application/jsonl": {}}, "description": "JSON Lines"},
    },
    tags=["journal"],
)
def journal(
    services: ServicesDep,
    # Bounded by the journal's largest seq: past it, after + 1 + limit overflows a BIGINT.
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="start after this seq")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> StreamingResponse:
    """The journal, one entry per line, exactly as hashed (RFC 8785), streamed."""
    return StreamingResponse(
        services.journal_lines(after, limit), media_type="application/jsonl; charset=utf-8"
    )


@router.get("/chain", tags=["journal"])
def chain(services: ServicesDep) -> models.ChainPublic:
    """Where the checkpoints are anchored, and a JSON-RPC endpoint a browser may use."""
    if services.chain is None:
        raise ApiError(503, "no_chain", "this server runs without a chain")
    client = services.chain
    settings = services.anchor_settings
    rpc_url = (
        f"{services.settings.public_url}/api/v1/chain/rpc"
        if client.is_embedded
        else services.settings.chain_rpc_public_url
    )
    return models.ChainPublic(
        chain_id=client.chain_id,
        embedded=client.is_embedded,
        ledger_anchor=client.ledger_anchor.address.lower(),
        charity_registry=client.charity_registry.address.lower(),
        rpc_url=rpc_url,
        confirmations=client.confirmations,
        anchor_interval_s=settings.interval_s if settings else 0,
        anchor_max_pending=settings.max_pending if settings else 0,
        log_origin=services.log.origin if services.log else None,
        log_vkey=services.log.vkey if services.log else None,
    )


@router.post("/anchor", responses=ERRORS, tags=["journal"])
def anchor(services: ServicesDep, principal: PlatformOnly) -> models.CheckpointPublic:
    """Anchor the journal now (platform); returns the latest checkpoint."""
    services.require_platform(principal)
    if services.worker is None:
        raise ApiError(503, "no_chain", "this server runs without a chain")
    checkpoint = services.worker.anchor_now()
    if checkpoint is None:
        raise ApiError(409, "nothing_to_anchor", "the journal is empty")
    return checkpoint_public(checkpoint)
