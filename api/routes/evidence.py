"""Evidence files: uploaded by a charity, downloaded as attachments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Response, UploadFile

from api import models
from api.errors import ApiError, ForbiddenError, NotFoundError, UnauthorizedError, problem_response
from api.evidence import SUFFIXES as EVIDENCE_SUFFIXES
from api.routes.deps import (
    ERRORS,
    CharityOnly,
    CurrentPrincipal,
    ServicesDep,
)
from api.routes.guarded import resource_router
from explorer import caching
from ledger.entries import from_hex, to_hex

router = resource_router()


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
            # A file is named by its hash: it never changes. A private one is an auditor's.
            "Cache-Control": caching.IMMUTABLE if public else caching.PRIVATE,
            "Content-Disposition": (
                f'attachment; filename="{digest.hex()}.{EVIDENCE_SUFFIXES.get(media_type, "bin")}"'
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
