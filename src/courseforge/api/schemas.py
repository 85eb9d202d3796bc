"""The API's request and response bodies (the domain's own models are reused where they fit)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from courseforge.api.params import ID_PATTERN
from courseforge.domain.outline import CourseOutline
from courseforge.store.course_listing import CourseDetail, CourseSummary, VersionSummary
from courseforge.store.job_eta import percent_done
from courseforge.store.job_listing import JobSnapshot, LogLine
from courseforge.store.job_store import JobRecord


class Queued(BaseModel):
    job_id: str
    course_id: str | None = None


class CourseCreate(BaseModel):
    """An approved (possibly edited) outline, validated like a drafted one."""

    model_config = ConfigDict(extra="forbid", strict=True)

    outline: CourseOutline
    outline_job_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="the outline job it came from: its brief is reused",
    )
    tasks_per_lesson: int = Field(default=3, ge=1, le=6)
    questions_per_quiz: int = Field(default=4, ge=1, le=12)
    auto_publish: bool = False
    priority: int = Field(default=0, ge=0, le=10, description="higher runs first")


class Progress(BaseModel):
    items_completed: int
    items_total: int
    percent: int
    current_item: str | None


class JobOut(BaseModel):
    id: str
    kind: str
    status: str
    step: str | None
    topic: str
    progress: Progress
    eta_seconds: float | None
    attempts: int
    error: str | None
    failed_unit: str | None
    course_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    llm_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    cancel_requested: bool = False


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class OutlineJobOut(BaseModel):
    job: JobOut
    candidates: list[CourseOutline]


class LogEntry(BaseModel):
    id: int
    type: str
    timestamp: datetime
    level: str
    message: str


class LogPage(BaseModel):
    items: list[LogEntry]


class JobAction(BaseModel):
    job_id: str
    status: str
    detail: str


class StreamTicket(BaseModel):
    ticket: str
    expires_in: float
    url: str


class Health(BaseModel):
    status: Literal["ok"]
    database: str | None = None
    migration: str | None = None


def job_out(record: JobRecord, eta_seconds: float | None = None, cancel: bool = False) -> JobOut:
    duration = (
        (record.finished_at - record.started_at).total_seconds()
        if record.finished_at and record.started_at
        else None
    )
    return JobOut(
        id=record.id,
        kind=record.kind,
        status=record.status,
        step=record.step,
        topic=record.request.topic,
        progress=Progress(
            items_completed=record.items_completed,
            items_total=record.items_total,
            percent=percent_done(record.status, record.items_completed, record.items_total),
            current_item=record.current_item,
        ),
        eta_seconds=eta_seconds,
        attempts=record.attempts,
        error=record.error,
        failed_unit=record.failed_unit,
        course_id=record.course_id,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        duration_seconds=duration,
        llm_calls=record.llm_calls,
        tokens_in=record.tokens_in,
        tokens_out=record.tokens_out,
        cost_usd=record.cost_usd,
        cancel_requested=cancel,
    )


def snapshot_out(snapshot: JobSnapshot) -> JobOut:
    return job_out(snapshot.job, snapshot.eta_seconds, snapshot.cancel_requested)


def log_entry(line: LogLine) -> LogEntry:
    return LogEntry(
        id=line.event_id, type=line.type, timestamp=line.at, level=line.level, message=line.message
    )


class CourseOut(BaseModel):
    id: str
    title: str
    slug: str
    status: str
    current_version: int = Field(description="0 until the first version is stored")
    job_id: str | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class CourseDetailOut(CourseOut):
    version: int | None = Field(description="the version shown; null before the first")
    content: dict[str, Any] | None
    quality: dict[str, Any] | None


class CoursePage(BaseModel):
    items: list[CourseOut]
    next_cursor: str | None


class VersionOut(BaseModel):
    version: int
    created_at: datetime
    quality_score: float | None


def course_out(summary: CourseSummary) -> CourseOut:
    return CourseOut.model_validate(asdict(summary))


def course_detail_out(detail: CourseDetail) -> CourseDetailOut:
    return CourseDetailOut(
        **asdict(detail.summary),
        version=detail.version,
        content=detail.content,
        quality=detail.quality,
    )


def version_out(version: VersionSummary) -> VersionOut:
    return VersionOut.model_validate(asdict(version))
