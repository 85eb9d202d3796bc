"""A job as people and scripts see it: the one serialized form, answered by the API and
printed by `courseforge jobs --json`, so the two never disagree on what a field means."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from courseforge.domain.jobs import JobKind, JobStatus
from courseforge.store.job_eta import percent_done
from courseforge.store.job_listing import JobSnapshot
from courseforge.store.job_store import JobRecord


class JobProgress(BaseModel):
    items_completed: int
    items_total: int
    percent: int = Field(description="0 to 100, rounded down; 100 only once completed")
    current_item: str | None


class JobView(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    step: str | None
    topic: str
    title: str = Field(description="the course's title: its approved outline's, else the topic")
    progress: JobProgress
    eta_seconds: float | None
    attempts: int
    error: str | None
    failed_unit: str | None
    course_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None = Field(
        description="start to finish; a running job's so far; null before it starts"
    )
    llm_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    cancel_requested: bool = False


def job_view(
    job: JobRecord, now: datetime, *, eta_seconds: float | None = None, cancel: bool = False
) -> JobView:
    return JobView(
        id=job.id,
        kind=job.kind,
        status=job.status,
        step=job.step,
        topic=job.request.topic,
        title=job.outline.title if job.outline else job.request.topic,
        progress=JobProgress(
            items_completed=job.items_completed,
            items_total=job.items_total,
            percent=percent_done(job.status, job.items_completed, job.items_total),
            current_item=job.current_item,
        ),
        eta_seconds=eta_seconds,
        attempts=job.attempts,
        error=job.error,
        failed_unit=job.failed_unit,
        course_id=job.course_id,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        duration_seconds=duration_seconds(job, now),
        llm_calls=job.llm_calls,
        tokens_in=job.tokens_in,
        tokens_out=job.tokens_out,
        cost_usd=job.cost_usd,
        cancel_requested=cancel,
    )


def snapshot_view(snapshot: JobSnapshot, now: datetime) -> JobView:
    return job_view(
        snapshot.job, now, eta_seconds=snapshot.eta_seconds, cancel=snapshot.cancel_requested
    )


def duration_seconds(job: JobRecord, now: datetime) -> float | None:
    """Start to finish; a running job's so far; None before it starts or while it waits
    to run again."""
    if job.started_at is None:
        return None
    if job.finished_at is not None:
        end = job.finished_at
    elif job.status == JobStatus.RUNNING:
        end = now
    else:
        return None
    return round((end - job.started_at).total_seconds(), 3)
