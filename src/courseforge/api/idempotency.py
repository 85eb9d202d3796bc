"""`Idempotency-Key` on POST: the same key and body get the first answer again.

Only answers that mean "this was done" (2xx, and the 409 of a duplicate job) are kept;
a refusal that may change (429, 5xx) is not, so the client can retry with the same key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from courseforge.api.errors import ApiError
from courseforge.domain.accounts import User
from courseforge.store.idempotency import IdempotencyStore, request_fingerprint

MAX_KEY_LENGTH = 200
Answer = tuple[int, dict[str, Any]]


async def idempotent(
    request: Request,
    user: User,
    key: str | None,
    store: IdempotencyStore,
    produce: Callable[[], Awaitable[Answer]],
) -> JSONResponse:
    if key is None:
        return _respond(await produce())
    _check_key(key)
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
    stored = await store.find(user.id, key)
    if stored is None:
        status, body = await produce()
        if not (200 <= status < 300 or status == 409):
            return _respond((status, body))
        stored = await store.remember(user.id, key, fingerprint, status, body)
        if stored.fingerprint == fingerprint:
            return _respond((stored.status_code, stored.body))
    if stored.fingerprint != fingerprint:
        raise ApiError(
            422, "this Idempotency-Key was already used for a different request; use a new key"
        )
    response = _respond((stored.status_code, stored.body))
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise ApiError(
            400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )


def _respond(answer: Answer) -> JSONResponse:
    status, body = answer
    return JSONResponse(body, status_code=status)
