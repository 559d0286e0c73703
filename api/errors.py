"""Errors as RFC 9457 problem details, mapped from domain errors in one place."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.anchoring import AnchorBusyError, AnchorDeferredError, JournalDivergedError
from chain.errors import ChainError
from ledger.errors import (
    AccountingError,
    EntryError,
    IdempotencyConflictError,
    ProofSizeError,
)
from ledger.errors import NotFoundError as NotFoundError  # the one not-found error (ADR 0026)
from ledger.store.sequencer import SequencerBusyError, SequencerClosedError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("shanlian.api")


class Problem(BaseModel):
    """An RFC 9457 problem, with a stable ``code`` and, for a bad field, its name."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "type": "https://shanlian.org/problems/invalid_field",
                    "title": "Invalid field",
                    "status": 422,
                    "detail": "amount: Input should be greater than 0",
                    "code": "invalid_field",
                    "field": "amount",
                }
            ]
        }
    }


def problem_response(description: str) -> dict[str, Any]:
    """An error answer as the OpenAPI documents it: a problem+json document."""
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


class ApiError(Exception):
    """An error the API answers with a problem document."""

    def __init__(
        self, status: int, code: str, detail: str, *, field: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.extra = extra


class UnauthorizedError(ApiError):
    def __init__(self, detail: str = "a bearer token is required") -> None:
        super().__init__(401, "unauthorized", detail)


class ForbiddenError(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(403, "forbidden", detail)


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    428: "Precondition required",
    429: "Too many requests",
    503: "Service unavailable",
    507: "Insufficient storage",
}

_ENTRY_FIELD = re.compile(r"^(?:entries\[\d+\]\.)?(?:body\.)?")


def request_field(field: str) -> str:
    """The request's name for a field the ledger named (``entries[0].body.amount`` → ``amount``)."""
    return _ENTRY_FIELD.sub("", field)


def problem(
    status: int,
    code: str,
    detail: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": f"https://shanlian.org/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field is not None:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_field(loc: tuple[Any, ...]) -> str:
    # Union members add their tag to the location (``allocate.literal['fifo']``): not a field.
    parts = [
        p
        for p in loc
        if p not in ("body", "query", "path", "header") and not (isinstance(p, str) and "[" in p)
    ]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or str(loc[-1] if loc else "body")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, error: ApiError) -> JSONResponse:
        # RFC 9110 §15.5.2: a 401 names the scheme that would be accepted.
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        headers = getattr(error, "headers", None) or headers  # e.g. Retry-After
        return problem(error.status, error.code, error.detail, error.field, headers, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        if first.get("type") == "json_invalid":
            reason = first.get("ctx", {}).get("error", "invalid JSON")
            return problem(422, "invalid_json", f"the body is not JSON: {reason}", "body")
        field = _validation_field(tuple(first.get("loc", ())))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        if first.get("type") == "missing" and tuple(first.get("loc", ()))[:1] == ("header",):
            return problem(428, "header_required", f"the {field} header is required", field)
        return problem(422, "invalid_field", f"{field}: {message}", field)

    @app.exception_handler(NotFoundError)
    async def _missing(_: Request, error: NotFoundError) -> JSONResponse:
        return problem(404, "not_found", str(error))

    @app.exception_handler(AccountingError)
    async def _rule(_: Request, error: AccountingError) -> JSONResponse:
        field = request_field(error.field)
        return problem(422, "accounting_rule", f"{field}: {error.message}", field)

    @app.exception_handler(EntryError)
    async def _entry(_: Request, error: EntryError) -> JSONResponse:
        field = request_field(error.field)
        return problem(422, "invalid_field", f"{field}: {error.message}", field)

    @app.exception_handler(IdempotencyConflictError)
    async def _idempotency(_: Request, error: IdempotencyConflictError) -> JSONResponse:
        return problem(
            409,
            "idempotency_conflict",
            "this Idempotency-Key was used for a different request; use a new key",
            "Idempotency-Key",
        )

    # The write queue is full, or closing: nothing was stored, and the same request may
    # be sent again (with its Idempotency-Key) once Retry-After has passed.
    retry_later = {
        SequencerBusyError: (429, "too_many_writes", "retry with the same Idempotency-Key"),
        SequencerClosedError: (
            503,
            "shutting_down",
            "nothing was stored, retry with the same Idempotency-Key",
        ),
    }

    async def _retry_later(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, SequencerBusyError | SequencerClosedError)
        status, code, advice = next(v for k, v in retry_later.items() if isinstance(error, k))
        return problem(
            status, code, f"{error}; {advice}", headers={"Retry-After": str(error.retry_after_s)}
        )

    for error_class in retry_later:
        app.add_exception_handler(error_class, _retry_later)

    @app.exception_handler(ProofSizeError)
    async def _proof_size(_: Request, error: ProofSizeError) -> JSONResponse:
        return problem(422, "invalid_size", str(error))

    @app.exception_handler(AnchorBusyError)
    async def _busy(_: Request, error: AnchorBusyError) -> JSONResponse:
        return problem(409, "anchoring_elsewhere", str(error))

    @app.exception_handler(AnchorDeferredError)
    async def _deferred(_: Request, error: AnchorDeferredError) -> JSONResponse:
        # Not an outage: the operator's own fee cap or budget says wait (ADR 0038).
        return problem(
            503,
            "anchor_deferred",
            str(error),
            headers={"Retry-After": "60"},
            state=error.status.state,
        )

    @app.exception_handler(JournalDivergedError)
    async def _diverged(_: Request, error: JournalDivergedError) -> JSONResponse:
        log.error("%s", error)
        return problem(503, "journal_diverged", str(error))

    @app.exception_handler(ChainError)
    async def _chain(_: Request, error: ChainError) -> JSONResponse:
        log.warning("chain error: %s", error)
        return problem(503, "chain_unavailable", f"the chain could not be reached: {error}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        headers = dict(error.headers) if error.headers else None
        return problem(error.status_code, code, str(error.detail), headers=headers)
