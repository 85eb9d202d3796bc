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
from courseforge.web.csrf import FORM_TYPE

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_log = get_logger(__name__)


class RequestGuard:
    """Body size (413) and content type (415) for requests with a body; a request id for all.

    The id comes from the client's X-Request-ID (when sane) or is made here; it is sent
    back and bound to every log line of the request.

    An exception no handler answered is logged here, once, and answered as a 500 with
    the request id. Caught here rather than by an `Exception` handler: Starlette re-raises
    after such a handler, and uvicorn would log it a second time.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

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

        refusal = self._refusal(scope["method"], scope["path"], headers)
        if refusal is not None:
            await _refuse(send_with_id, *refusal)
            return
        try:
            await self.app(scope, self._counting(receive), send_with_id)
        except Exception:
            _log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if not started:  # else the client sees the stream end early; nothing to add
                await internal_error(request_id)(scope, receive, send_with_id)

    def _refusal(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str] | None:
        if method not in BODY_METHODS:
            return None
        length = headers.get("content-length")
        if (
            length is not None
            and length.isascii()
            and length.isdigit()
            and int(length) > self.max_body_bytes
        ):
            return 413, f"the request body is over the limit of {self.max_body_bytes} bytes"
        if length not in (None, "0"):
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            # The web UI's pages (outside /api) take HTML form posts; the API, JSON only.
            is_form_page = kind == FORM_TYPE and not path.startswith("/api/")
            if kind != "application/json" and not is_form_page:
                return 415, "send the body as JSON with Content-Type: application/json"
        return None

    def _counting(self, receive: Receive) -> Receive:
        """A chunked body without Content-Length is counted as it arrives."""
        seen = 0
        limit = self.max_body_bytes

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
