"""Limits on what a request may send, checked before any route reads it; and the one
place an unexpected error becomes a 500."""

from __future__ import annotations

import json
import uuid

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from courseforge.api.errors import internal_error
from courseforge.logs import get_logger
from courseforge.web.csrf import FORM_TYPES, MULTIPART_TYPE

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPE = "application/json"
# API routes that also take a multipart form with an uploaded file.
UPLOAD_PATHS = frozenset({"/api/outlines"})
_log = get_logger(__name__)


class RequestGuard:
    """Body size (413) and content type (415) for requests with a body; a request id for all.

    A multipart body (an uploaded file: the upload routes, the web UI's forms) may be
    `upload_bytes` larger than others; the route checks the file itself.

    The id comes from the client's X-Request-ID (when sane) or is made here; it is sent
    back and bound to every log line of the request.

    An exception no handler answered is logged here, once, and answered as a 500 with
    the request id. Caught here rather than by an `Exception` handler: Starlette re-raises
    after such a handler, and uvicorn would log it a second time.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, upload_bytes: int = 0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_multipart_bytes = max_body_bytes + upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = _request_id(headers.get("x-request-id"))
        structlog.contextvars.bind_contextvars(request_id=request_id)

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        limit = self.max_multipart_bytes if kind == MULTIPART_TYPE else self.max_body_bytes
        refusal = _refusal(scope["method"], scope["path"], headers, kind, limit)
        if refusal is not None:
            await _refuse(send_with_id, *refusal)
            return
        try:
            await self.app(scope, _counting(receive, limit), send_with_id)
        except Exception:
            _log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if not started:  # else the client sees the stream end early; nothing to add
                await internal_error(request_id)(scope, receive, send_with_id)


def _refusal(
    method: str, path: str, headers: dict[str, str], kind: str, limit: int
) -> tuple[int, str] | None:
    if method not in BODY_METHODS:
        return None
    length = headers.get("content-length")
    if length is not None and length.isascii() and length.isdigit() and int(length) > limit:
        return 413, f"the request body is over the limit of {limit} bytes"
    if length not in (None, "0") and not _accepted(kind, path):
        return 415, _UNSUPPORTED.get(path, _UNSUPPORTED_DEFAULT)
    return None


def _accepted(kind: str, path: str) -> bool:
    """The API takes JSON (and uploads on its upload routes); the web UI's pages (outside
    /api) take HTML form posts, url-encoded or multipart."""
    if kind == JSON_TYPE:
        return True
    if path.startswith("/api/"):
        return kind == MULTIPART_TYPE and path in UPLOAD_PATHS
    return kind in FORM_TYPES


_UNSUPPORTED_DEFAULT = "send the body as JSON with Content-Type: application/json"
_UNSUPPORTED = {
    path: "send the body as JSON (Content-Type: application/json), or a file upload as "
    "multipart/form-data"
    for path in UPLOAD_PATHS
}


def _counting(receive: Receive, limit: int) -> Receive:
    """A chunked body without Content-Length is counted as it arrives."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLargeError(limit)
        return message

    return counted


class BodyTooLargeError(HTTPException):
    """An HTTPException, so that FastAPI's body parsing passes it on as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the limit of {limit} bytes")


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _request_id(offered: str | None) -> str:
    if offered and len(offered) <= 64 and offered.isascii() and offered.isprintable():
        return offered
    return uuid.uuid4().hex
