"""Outline drafting: a queued job of kind `outline` whose candidates the client reads."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from courseforge.api.context import Context, CurrentUser
from courseforge.api.errors import not_found, responses
from courseforge.api.idempotency import EnqueueOnce
from courseforge.api.params import JobId
from courseforge.api.routes.jobs import visible_snapshot
from courseforge.api.schemas import OutlineJobOut, Queued
from courseforge.api.upload_form import MultipartRoute, brief_from_form
from courseforge.domain.jobs import JobKind
from courseforge.domain.outline import OutlineRequest
from courseforge.store.job_view import snapshot_view

router = APIRouter(prefix="/api/outlines", tags=["outlines"])
DUPLICATE = "an identical outline draft is already queued or running"


async def draft_outlines_from_form(
    request: Request, context: Context, user: CurrentUser, enqueue_once: EnqueueOnce
) -> JSONResponse:
    brief = await brief_from_form(request, context.runtime.settings)
    return await enqueue_once(
        lambda: context.runtime.queue.enqueue_outline(brief, user), duplicate=DUPLICATE
    )


# Before the JSON route at the same path; it matches multipart requests only.
router.add_api_route(
    "",
    draft_outlines_from_form,
    methods=["POST"],
    status_code=202,
    include_in_schema=False,
    route_class_override=MultipartRoute,
)


@router.post(
    "",
    status_code=202,
    response_model=Queued,
    responses=responses(400, 401, 409, 413, 415, 422, 429),
)
async def draft_outlines(
    brief: OutlineRequest, context: Context, user: CurrentUser, enqueue_once: EnqueueOnce
) -> JSONResponse:
    """Starts drafting outline candidates for a topic or source material.

    Also takes `multipart/form-data`: the same fields as form fields, plus an optional
    `file` (.txt, .md, .pdf with a text layer, .docx; up to COURSEFORGE_UPLOAD_MAX_BYTES,
    413 above) whose text becomes `source_material`; a file that cannot be used is a 422
    naming `file`."""
    return await enqueue_once(
        lambda: context.runtime.queue.enqueue_outline(brief, user), duplicate=DUPLICATE
    )


@router.get("/{job_id}", response_model=OutlineJobOut, responses=responses(401, 404, 422))
async def outline_candidates(job_id: JobId, context: Context, user: CurrentUser) -> OutlineJobOut:
    """The drafting job's status, and its candidates once they are written."""
    snapshot = await visible_snapshot(context, job_id, user)
    if snapshot.job.kind != JobKind.OUTLINE:
        raise not_found("outline job", job_id)
    candidates = await context.runtime.store.outline_candidates(job_id)
    view = snapshot_view(snapshot, context.runtime.clock.now())
    return OutlineJobOut(job=view, candidates=candidates)
