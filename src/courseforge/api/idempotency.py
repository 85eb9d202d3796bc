"""`Idempotency-Key` on POST: the same key and body get the first answer again.

The key is claimed before the request runs, so of two requests racing with one key
only one runs; the other is told to come back (409, Retry-After: 1). Only answers that
mean "this was done" (2xx, and the 409 of a duplicate job) are kept; a refusal that may
change (429, 5xx) frees the key, so the client can retry with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from courseforge.api.errors import ApiError
from courseforge.domain.accounts import User
from courseforge.store.idempotency import (
    PENDING,
    IdempotencyStore,
    StoredResponse,
    request_fingerprint,
)

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
    held = await store.claim(user.id, key, fingerprint)
    if held is not None:
        return _replay(held, fingerprint)
    try:
        status, body = await produce()
    except BaseException:
        await asyncio.shield(store.forget(user.id, key))
        raise
    if 200 <= status < 300 or status == 409:
        await store.settle(user.id, key, status, body)
    else:
        await store.forget(user.id, key)
    return _respond((status, body))


def _replay(held: StoredResponse, fingerprint: str) -> JSONResponse:
    if held.fingerprint != fingerprint:
        raise ApiError(
            422, "this Idempotency-Key was already used for a different request; use a new key"
        )
    if held.status_code == PENDING:
        raise ApiError(
            409,
            "a request with this Idempotency-Key is still running; retry in a moment",
            headers={"Retry-After": "1"},
        )
    response = _respond((held.status_code, held.body))
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
