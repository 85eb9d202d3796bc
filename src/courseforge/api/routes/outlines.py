"""Outline drafting: a queued job of kind `outline` whose candidates the client reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from courseforge.api.context import Context, CurrentUser
from courseforge.api.errors import not_found, responses
from courseforge.api.idempotency import Answer, idempotent
from courseforge.api.routes.jobs import visible_snapshot
from courseforge.api.schemas import OutlineJobOut, Queued, snapshot_out
from courseforge.domain.outline import OutlineRequest
from courseforge.queue.job_queue import Enqueued

router = APIRouter(prefix="/api/outlines", tags=["outlines"])
IdempotencyKey = Annotated[
    str | None, Header(description="repeat-safe POST: same key, same answer")
]


@router.post(
    "",
    status_code=202,
    response_model=Queued,
    responses=responses(400, 401, 409, 413, 415, 422, 429),
)
async def draft_outlines(
    brief: OutlineRequest,
    request: Request,
    context: Context,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Starts drafting outline candidates for a topic or source material."""

    async def produce() -> Answer:
        queued = await context.runtime.queue.enqueue_outline(brief, user)
        return queued_answer(queued, "an identical outline draft is already queued or running")

    return await idempotent(request, user, idempotency_key, context.idempotency, produce)


@router.get("/{job_id}", response_model=OutlineJobOut, responses=responses(401, 404, 422))
async def outline_candidates(job_id: str, context: Context, user: CurrentUser) -> OutlineJobOut:
    """The drafting job's status, and its candidates once they are written."""
    snapshot = await visible_snapshot(context, job_id, user)
    if snapshot.job.kind != "outline":
        raise not_found("outline job", job_id)
    candidates = await context.runtime.store.outline_candidates(job_id)
    return OutlineJobOut(job=snapshot_out(snapshot), candidates=candidates)


def queued_answer(queued: Enqueued, duplicate: str) -> Answer:
    if not queued.created:
        return 409, {"detail": f"{duplicate}: job {queued.job_id}", "job_id": queued.job_id}
    return 202, Queued(job_id=queued.job_id, course_id=queued.course_id).model_dump(
        exclude_none=True
    )
