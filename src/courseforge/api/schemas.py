"""The API's request and response bodies (the domain's own models are reused where they fit)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from courseforge.api.params import ID_PATTERN
from courseforge.domain.outline import (
    MAX_PRIORITY,
    MAX_QUESTIONS_PER_QUIZ,
    MAX_TASKS_PER_LESSON,
    CourseOutline,
)
from courseforge.store.course_listing import CourseDetail, CourseSummary, VersionSummary
from courseforge.store.job_listing import LogLine
from courseforge.store.job_view import JobView


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
    tasks_per_lesson: int = Field(default=3, ge=1, le=MAX_TASKS_PER_LESSON)
    questions_per_quiz: int = Field(default=4, ge=1, le=MAX_QUESTIONS_PER_QUIZ)
    auto_publish: bool = False
    priority: int = Field(default=0, ge=0, le=MAX_PRIORITY, description="higher runs first")


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None


class OutlineJobOut(BaseModel):
    job: JobView
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
