"""Jobs: list, snapshot (the polling fallback), logs, cancel, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from courseforge.api.caching import NOT_MODIFIED, unless_unchanged
from courseforge.api.context import Context, CurrentUser
from courseforge.api.errors import ApiError, not_found, responses
from courseforge.api.params import Cursor, JobId
from courseforge.api.schemas import JobAction, JobPage, LogPage, log_entry
from courseforge.domain.jobs import JobStatus
from courseforge.store.job_listing import JobSnapshot, StatusFilter
from courseforge.store.job_view import JobView, job_view, snapshot_view

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
MAX_PAGE = 200


@router.get("", response_model=JobPage, responses=responses(400, 401, 422))
async def list_jobs(
    context: Context,
    user: CurrentUser,
    status: Annotated[StatusFilter | None, Query(description="a status, or active")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Cursor = None,
) -> JobPage:
    """Your jobs (an admin: the organization's), newest first, a page at a time."""
    page = await context.jobs.list_jobs(user, status=status, limit=limit, cursor=cursor)
    now = context.runtime.clock.now()
    items = [job_view(job, now) for job in page.items]
    return JobPage(items=items, next_cursor=page.next_cursor)


@router.get(
    "/{job_id}",
    response_model=JobView,
    responses={**responses(401, 404, 422), **NOT_MODIFIED},
)
async def get_job(
    job_id: JobId,
    context: Context,
    user: CurrentUser,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> JobView | Response:
    """A job's snapshot: status, step, progress, ETA, timing, cost, error."""
    snapshot = await visible_snapshot(context, job_id, user)
    view = snapshot_view(snapshot, context.runtime.clock.now())
    return unless_unchanged(view, if_none_match, response)


@router.get("/{job_id}/logs", response_model=LogPage, responses=responses(401, 404, 422))
async def job_logs(job_id: JobId, context: Context, user: CurrentUser) -> LogPage:
    """The job's log lines and how it ended, oldest first."""
    lines = await context.jobs.logs(job_id, user)
    return LogPage(items=[log_entry(line) for line in lines])


@router.post(
    "/{job_id}/cancel",
    status_code=202,
    response_model=JobAction,
    responses=responses(401, 404, 409, 422),
)
async def cancel_job(job_id: JobId, context: Context, user: CurrentUser) -> JobAction:
    """Cancels a pending job at once, a running one within one unit of work."""
    await visible_snapshot(context, job_id, user)
    outcome = await context.runtime.queue.cancel(job_id)
    context.broker.job_changed(job_id)  # its streams hear of it now, even without NOTIFY
    if outcome == "not_found":
        raise not_found("job", job_id)
    if outcome == "finished":
        raise ApiError(
            409, "the job has already finished; there is nothing to cancel", job_id=job_id
        )
    detail = "cancelled" if outcome == "cancelled" else "cancelling within one unit of work"
    return JobAction(job_id=job_id, status=outcome, detail=detail)


@router.post(
    "/{job_id}/retry",
    status_code=202,
    response_model=JobAction,
    responses=responses(401, 404, 409, 422),
)
async def retry_job(job_id: JobId, context: Context, user: CurrentUser) -> JobAction:
    """Queues a failed or cancelled job again; it resumes from its first unfinished unit."""
    snapshot = await visible_snapshot(context, job_id, user)
    if snapshot.job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise ApiError(
            409,
            f"only a failed or cancelled job can be retried; this one is {snapshot.job.status}",
            job_id=job_id,
        )
    if not await context.runtime.queue.retry(job_id):
        raise ApiError(
            409, "an identical job is already queued or running; retry refused", job_id=job_id
        )
    return JobAction(job_id=job_id, status=JobStatus.PENDING, detail="queued again")


async def visible_snapshot(context: Context, job_id: str, user: CurrentUser) -> JobSnapshot:
    """The job if `user` may see it; JobNotFoundError (a 404) otherwise."""
    return await context.jobs.snapshot(job_id, user)
