"""Every error the API answers has one shape, `{"detail": "...", ...}`, and a clear message.

Validation errors say which field and why, in words; nothing a client sends reaches a
500 (an unexpected failure is logged once by the RequestGuard and answered with
`internal_error`, which names the request id).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from courseforge.queue.quotas import CreationRateExceededError
from courseforge.store.course_listing import CourseNotFoundError, CourseNotReadyError
from courseforge.store.job_store import JobNotFoundError
from courseforge.store.pages import InvalidCursorError
from courseforge.store.stream_tickets import TicketLimitError


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[FieldError] | None = None
    job_id: str | None = None
    request_id: str | None = Field(default=None, description="on a 500: quote it to us")


class ApiError(Exception):
    """An answer other than success, raised anywhere below a route."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        job_id: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers
        self.job_id = job_id


def not_found(what: str, identifier: str) -> ApiError:
    return ApiError(404, f"no {what} with id {identifier!r}")


def error_response(
    status_code: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = ErrorBody(detail=detail, **extra).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status_code, headers=headers)


def internal_error(request_id: str) -> JSONResponse:
    return error_response(
        500, "internal error; quote the request id to the operators", request_id=request_id
    )


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error codes, all with the one error body."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


_DESCRIPTIONS = {
    400: "Malformed request (bad cursor, id or header)",
    401: "Missing or invalid bearer token",
    403: "Not allowed for this role",
    404: "Not found (or not yours)",
    409: "Conflicts with the current state",
    503: "Not ready",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Invalid input",
    429: "Over a quota; see Retry-After",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status_code, error.detail, error.headers, job_id=error.job_id)

    # What the stores and the queue refuse, answered the same from every route.
    @app.exception_handler(JobNotFoundError)
    async def _no_job(request: Request, error: JobNotFoundError) -> JSONResponse:
        return error_response(404, f"no job with id {error.job_id!r}")

    @app.exception_handler(CourseNotFoundError)
    async def _no_course(request: Request, error: CourseNotFoundError) -> JSONResponse:
        return error_response(404, f"no course with id {error.course_id!r}")

    @app.exception_handler(CourseNotReadyError)
    async def _not_ready(request: Request, error: CourseNotReadyError) -> JSONResponse:
        return error_response(409, str(error))

    @app.exception_handler(InvalidCursorError)
    async def _bad_cursor(request: Request, error: InvalidCursorError) -> JSONResponse:
        return error_response(400, str(error))

    @app.exception_handler(CreationRateExceededError)
    async def _over_rate(request: Request, error: CreationRateExceededError) -> JSONResponse:
        retry_after = max(1, round(error.retry_after_s))
        return error_response(429, str(error), {"Retry-After": str(retry_after)})

    @app.exception_handler(TicketLimitError)
    async def _over_tickets(request: Request, error: TicketLimitError) -> JSONResponse:
        return error_response(429, str(error), {"Retry-After": str(error.retry_after_s)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [_field_error(item) for item in error.errors()]
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems[:5])
        return error_response(422, f"invalid request: {summary}", errors=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = dict(error.headers) if error.headers else None
        if error.status_code == 405:
            headers = {"Allow": _allowed_methods(request)}
        return error_response(error.status_code, str(error.detail), headers)


def _allowed_methods(request: Request) -> str:
    """Every method of every route at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def _field_error(item: Any) -> FieldError:
    location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query")]
    return FieldError(field=".".join(location) or "request", message=str(item.get("msg", "")))
