"""Exports for auditors: rows as CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from fastapi.responses import StreamingResponse

from api import models
from api.errors import ApiError, ForbiddenError
from api.routes.deps import (
    ERRORS,
    Authenticated,
    ServicesDep,
)
from api.routes.guarded import resource_router

router = resource_router()


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
