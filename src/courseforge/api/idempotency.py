"""`Idempotency-Key` on POST: the same key and body get the first answer again.

The key is claimed before the request runs, so of two requests racing with one key
only one runs; the other is told to come back (409, Retry-After: 1). Only answers that
mean "this was done" (2xx, and the 409 of a duplicate job) are kept; a refusal that may
change (429, 5xx) frees the key, so the client can retry with it.

`EnqueueOnce` is the flow of the routes that queue a job: enqueue under the key, 202 for
a new job, 409 naming the identical job already queued.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse

from courseforge.api.context import Context, CurrentUser
from courseforge.api.errors import ApiError
from courseforge.api.params import declared_text
from courseforge.api.schemas import Queued
from courseforge.domain.accounts import User
from courseforge.queue.job_queue import Enqueued
from courseforge.store.idempotency import (
    PENDING,
    IdempotencyStore,
    StoredResponse,
    request_fingerprint,
)

MAX_KEY_LENGTH = 200
# Visible ASCII, inner spaces allowed: what a header carries unchanged.
VALID_KEY = re.compile(rf"[!-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?")
IdempotencyKey = Annotated[
    str | None,
    Header(description="repeat-safe POST: same key, same answer"),
    declared_text(f"^{VALID_KEY.pattern}$"),
]
Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class IdempotentEnqueue:
    """A POST that queues a job, under the request's Idempotency-Key if it has one."""

    request: Request
    user: User
    key: str | None
    store: IdempotencyStore

    async def __call__(
        self, enqueue: Callable[[], Awaitable[Enqueued]], *, duplicate: str
    ) -> JSONResponse:
        """`duplicate` says what the identical job already queued is, in the 409."""

        async def produce() -> Answer:
            return queued_answer(await enqueue(), duplicate)

        return await idempotent(self.request, self.user, self.key, self.store, produce)


async def _enqueue_once(
    request: Request, context: Context, user: CurrentUser, idempotency_key: IdempotencyKey = None
) -> IdempotentEnqueue:
    return IdempotentEnqueue(request, user, idempotency_key, context.idempotency)


EnqueueOnce = Annotated[IdempotentEnqueue, Depends(_enqueue_once)]


def queued_answer(queued: Enqueued, duplicate: str) -> Answer:
    if not queued.created:
        return 409, {"detail": f"{duplicate}: job {queued.job_id}", "job_id": queued.job_id}
    queued_body = Queued(job_id=queued.job_id, course_id=queued.course_id)
    return 202, queued_body.model_dump(exclude_none=True)


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
    if not VALID_KEY.fullmatch(key):
        raise ApiError(
            400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )


def _respond(answer: Answer) -> JSONResponse:
    status, body = answer
    return JSONResponse(body, status_code=status)
