"""Reads and writes of jobs, their checkpoints, LLM calls, events and the courses they make.

Each write that changes what a job has achieved is one transaction: a finished unit,
its progress counters and its event land together or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.clock import Clock, SystemClock
from courseforge.domain.accounts import User
from courseforge.domain.course import Course
from courseforge.domain.events import EventType, JobEvent
from courseforge.domain.jobs import ACTIVE_STATUSES as ACTIVE_STATUSES  # the read models'
from courseforge.domain.jobs import JobKind, JobStatus
from courseforge.domain.outline import CourseOutline, CourseRequest, OutlineRequest
from courseforge.domain.text import slugify
from courseforge.domain.usage import LLMCallRecord
from courseforge.store.database import Database
from courseforge.store.event_feed import event_of
from courseforge.store.job_endings import end_jobs, held_by
from courseforge.store.tables import (
    course_versions,
    courses,
    job_events,
    job_units,
    jobs,
    llm_calls,
)

CANDIDATE_PREFIX = "outline:"  # the units of an outline job: outline:1 ... outline:K


class JobNotFoundError(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}")
        self.job_id = job_id


@dataclass(frozen=True)
class NewJob:
    """What a job is created with. `request` is an OutlineRequest for an outline job."""

    kind: JobKind
    request: CourseRequest
    outline: CourseOutline | None = None
    owner: User | None = None
    priority: int = 0
    auto_publish: bool = False
    dedup_key: str | None = None


@dataclass(frozen=True)
class CreatedJob:
    job_id: str
    course_id: str | None  # a course job's course exists from the start, as a draft


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: JobKind
    status: JobStatus
    step: str | None
    request: CourseRequest  # an OutlineRequest when kind is "outline"
    outline: CourseOutline | None
    items_completed: int
    items_total: int
    current_item: str | None
    attempts: int
    error: str | None
    failed_unit: str | None
    llm_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    course_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class UnitCompletion:
    key: str
    step: str
    result: Any
    events: list[JobEvent]


@dataclass(frozen=True)
class Progress:
    step: str
    items_completed: int
    items_total: int
    current_item: str | None


class JobStore:
    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self.database = database
        self._clock = clock or SystemClock()
        self._transaction = database.transaction

    # --- jobs -------------------------------------------------------------------

    async def create_course_job(
        self,
        request: CourseRequest,
        outline: CourseOutline | None = None,
        *,
        owner: User | None = None,
        priority: int = 0,
        auto_publish: bool = False,
        dedup_key: str | None = None,
    ) -> str:
        """Inserts a pending course job (and its draft course); see `insert_job`."""
        new = NewJob(
            JobKind.COURSE,
            request,
            outline,
            owner=owner,
            priority=priority,
            auto_publish=auto_publish,
            dedup_key=dedup_key,
        )
        return (await self.create_job(new)).job_id

    async def create_job(self, new: NewJob) -> CreatedJob:
        async with self._transaction() as conn:
            return await insert_job(conn, new, self._clock.now())

    async def get_job(self, job_id: str) -> JobRecord:
        async with self.database.connect() as conn:
            row = (
                (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).mappings().first()
            )
        if row is None:
            raise JobNotFoundError(job_id)
        return _job_record(row)

    async def mark_running(self, job_id: str, items_total: int) -> None:
        """The run begins (the queue's claim already made the job `running` and counted it);
        a failure an earlier run left on it is cleared."""
        now = self._clock.now()
        await self._update_job(
            job_id,
            status=JobStatus.RUNNING,
            error=None,
            failed_unit=None,
            finished_at=None,
            items_total=items_total,
            started_at=sa.func.coalesce(jobs.c.started_at, now),
        )

    async def mark_finished(
        self,
        job_id: str,
        status: JobStatus,
        *,
        error: str | None = None,
        failed_unit: str | None = None,
        holder: str | None = None,
        event: EventType | None = None,
        fields: dict[str, Any] | None = None,
    ) -> bool:
        """Ends the job. With `holder`, only while that worker still holds its lease: a
        worker that lost the job to another must not write its ending. `event` (with its
        `fields`) is appended in the same transaction, so whoever sees the status sees the
        event. Says whether it ended the job."""
        now = self._clock.now()
        which = jobs.c.id == job_id if holder is None else held_by(job_id, holder)
        statement = end_jobs(which, status, now, error=error, failed_unit=failed_unit)
        async with self._transaction() as conn:
            ended = bool((await conn.execute(statement)).rowcount)
            if ended and event is not None:
                await insert_event(conn, job_id, event, fields or {}, now)
        return ended

    async def mark_cancelled(self, job_id: str, holder: str | None = None) -> None:
        """Stopped on request (or interrupted): finished units stay, a retry resumes."""
        await self.mark_finished(job_id, JobStatus.CANCELLED, holder=holder, event="job_cancelled")

    async def set_outline(self, job_id: str, outline: CourseOutline) -> None:
        await self._update_job(job_id, outline=outline.model_dump(mode="json"))

    async def _update_job(self, job_id: str, **values: Any) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(updated_at=self._clock.now(), **values)
            )

    # --- checkpoints ------------------------------------------------------------

    async def load_units(self, job_id: str) -> dict[str, Any]:
        query = sa.select(job_units.c.key, job_units.c.result).where(job_units.c.job_id == job_id)
        async with self.database.connect() as conn:
            return {row.key: row.result for row in await conn.execute(query)}

    async def complete_units(
        self,
        job_id: str,
        completions: list[UnitCompletion],
        progress: Progress,
        calls: list[LLMCallRecord],
    ) -> bool:
        """Checkpoints, the job's counters, their events and LLM calls, in one transaction.

        Units that finish together are written together (a group commit): on SQLite's
        single writer that is one commit instead of one per unit. Returns whether a cancel
        of the job has been asked for, so that a run stops within one unit of work.
        """
        now = self._clock.now()
        async with self._transaction() as conn:
            await conn.execute(
                job_units.insert(),
                [
                    {
                        "job_id": job_id,
                        "key": c.key,
                        "step": c.step,
                        "result": c.result,
                        "completed_at": now,
                    }
                    for c in completions
                ],
            )
            await self._insert_calls(conn, job_id, calls)
            cancel_requested = (
                await conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id)
                    .values(
                        step=progress.step,
                        items_completed=progress.items_completed,
                        items_total=progress.items_total,
                        current_item=progress.current_item,
                        updated_at=now,
                        **_usage_increments(calls),
                    )
                    .returning(jobs.c.cancel_requested)
                )
            ).scalar_one()
            await conn.execute(
                job_events.insert(),
                [
                    {"job_id": job_id, "type": e.type, "payload": e.fields, "created_at": now}
                    for c in completions
                    for e in c.events
                ],
            )
        return bool(cancel_requested)

    # --- LLM calls --------------------------------------------------------------

    async def record_calls(self, job_id: str, calls: list[LLMCallRecord]) -> None:
        if not calls:
            return
        async with self._transaction() as conn:
            await self._insert_calls(conn, job_id, calls)
            await conn.execute(
                jobs.update().where(jobs.c.id == job_id).values(**_usage_increments(calls))
            )

    async def _insert_calls(
        self, conn: AsyncConnection, job_id: str, calls: list[LLMCallRecord]
    ) -> None:
        if not calls:
            return
        now = self._clock.now()
        await conn.execute(
            llm_calls.insert(),
            [
                {
                    "job_id": job_id,
                    "unit": c.unit,
                    "provider": c.provider,
                    "model": c.model,
                    "tier": c.tier,
                    "attempt": c.attempt,
                    "outcome": c.outcome,
                    "tokens_in": c.tokens_in,
                    "tokens_out": c.tokens_out,
                    "latency_ms": c.latency_ms,
                    "cost_usd": c.cost_usd,
                    "error": c.error,
                    "created_at": now,
                }
                for c in calls
            ],
        )

    async def list_calls(self, job_id: str) -> list[dict[str, Any]]:
        query = sa.select(llm_calls).where(llm_calls.c.job_id == job_id).order_by(llm_calls.c.id)
        async with self.database.connect() as conn:
            return [dict(row) for row in (await conn.execute(query)).mappings()]

    # --- events -----------------------------------------------------------------

    async def append_events(self, events: list[JobEvent]) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                job_events.insert(),
                [
                    {
                        "job_id": e.job_id,
                        "type": e.type,
                        "payload": e.fields,
                        "created_at": e.timestamp,
                    }
                    for e in events
                ],
            )

    async def list_events(self, job_id: str, after_id: int = 0) -> list[tuple[int, JobEvent]]:
        query = (
            sa.select(job_events)
            .where(job_events.c.job_id == job_id, job_events.c.id > after_id)
            .order_by(job_events.c.id)
        )
        async with self.database.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [(row["id"], event_of(row)) for row in rows]

    async def outline_candidates(self, job_id: str) -> list[CourseOutline]:
        """The outline candidates an outline job has finished, in candidate order."""
        query = sa.select(job_units.c.key, job_units.c.result).where(
            job_units.c.job_id == job_id, job_units.c.key.startswith(CANDIDATE_PREFIX)
        )
        async with self.database.connect() as conn:
            rows = (await conn.execute(query)).all()
        ordered = sorted(rows, key=lambda row: int(row.key.removeprefix(CANDIDATE_PREFIX)))
        return [CourseOutline.model_validate(row.result) for row in ordered]

    # --- courses ----------------------------------------------------------------

    async def save_course(
        self,
        job_id: str,
        course: Course,
        quality: dict[str, Any],
        *,
        holder: str | None = None,
    ) -> str | None:
        """Stores the course as a new version of the job's course (made when the job was,
        or here for a job older than that); published at once when the job asked for
        `auto_publish`. The course's title and slug follow its newest version.

        With `holder`, only while that worker still holds the job's lease, checked under
        a lock on the job's row in the same transaction: a run whose job was taken over
        stores nothing and gets None."""
        now = self._clock.now()
        async with self._transaction() as conn:
            job = (await conn.execute(_job_for_course(job_id, locked=holder is not None))).one()
            running = job.status == JobStatus.RUNNING
            if holder is not None and (job.lease_owner != holder or not running):
                return None
            course_id = job.course_id
            if course_id is None:
                course_id = await insert_draft_course(
                    conn, job_id, course.title, now, job.owner_id, job.organization_id
                )
            await _insert_version(conn, course_id, course, quality, now)
            if job.auto_publish:
                await conn.execute(
                    courses.update()
                    .where(courses.c.id == course_id)
                    .values(status="published", published_at=now)
                )
        return str(course_id)

    async def course_status(self, course_id: str) -> str:
        """`draft` or `published`."""
        async with self.database.connect() as conn:
            query = sa.select(courses.c.status).where(courses.c.id == course_id)
            status = (await conn.execute(query)).scalar()
        if status is None:
            raise LookupError(f"no course with id {course_id!r}")
        return str(status)

    async def load_course(self, course_id: str) -> tuple[Course, dict[str, Any]]:
        query = (
            sa.select(course_versions.c.content, course_versions.c.quality)
            .join(courses, courses.c.id == course_versions.c.course_id)
            .where(
                courses.c.id == course_id, course_versions.c.version == courses.c.current_version
            )
        )
        async with self.database.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise LookupError(f"no course with id {course_id!r}")
        return Course.model_validate(row.content), dict(row.quality)


async def insert_job(conn: AsyncConnection, new: NewJob, now: datetime) -> CreatedJob:
    """A pending job, its `job_created` event and, for a course job, its draft course (so
    the course has an id clients can follow from the start). The unique index refuses a
    second active twin of the same owner (IntegrityError)."""
    job_id = str(uuid.uuid4())
    owner = new.owner
    await conn.execute(
        jobs.insert().values(
            id=job_id,
            kind=new.kind,
            status=JobStatus.PENDING,
            request=new.request.model_dump(mode="json"),
            outline=new.outline.model_dump(mode="json") if new.outline else None,
            priority=new.priority,
            auto_publish=new.auto_publish,
            owner_id=owner.id if owner else None,
            organization_id=owner.organization_id if owner else None,
            dedup_key=new.dedup_key,
            created_at=now,
            updated_at=now,
        )
    )
    course_id = None
    if new.kind == JobKind.COURSE:
        title = new.outline.title if new.outline else new.request.topic
        owner_id, organization_id = (owner.id, owner.organization_id) if owner else (None, None)
        course_id = await insert_draft_course(conn, job_id, title, now, owner_id, organization_id)
    await insert_event(conn, job_id, "job_created", {"kind": new.kind}, now)
    return CreatedJob(job_id, course_id)


async def insert_draft_course(
    conn: AsyncConnection,
    job_id: str,
    title: str,
    now: datetime,
    owner_id: str | None = None,
    organization_id: str | None = None,
) -> str:
    """An empty course (no version yet) for the job, which points to it; owned like it."""
    course_id = str(uuid.uuid4())
    await conn.execute(
        courses.insert().values(
            id=course_id,
            job_id=job_id,
            slug=slugify(title),
            title=title,
            status="draft",
            current_version=0,
            owner_id=owner_id,
            organization_id=organization_id,
            created_at=now,
            updated_at=now,
        )
    )
    await conn.execute(jobs.update().where(jobs.c.id == job_id).values(course_id=course_id))
    return course_id


async def insert_event(
    conn: AsyncConnection, job_id: str, type_: EventType, fields: dict[str, Any], at: datetime
) -> int:
    """Appends one event to a job's stream; its id orders the stream."""
    result = await conn.execute(
        job_events.insert()
        .values(job_id=job_id, type=type_, payload=fields, created_at=at)
        .returning(job_events.c.id)
    )
    return int(result.scalar_one())


def _job_for_course(job_id: str, *, locked: bool) -> sa.Select[Any]:
    """What storing a job's course reads of the job. `locked` (PostgreSQL; SQLite's
    BEGIN IMMEDIATE already excludes other writers): the row stays locked until the
    version is stored, so a takeover of the lease cannot slip in between. FOR NO KEY
    UPDATE, so that inserts referencing the job (events) do not wait on it."""
    query = sa.select(
        jobs.c.course_id,
        jobs.c.auto_publish,
        jobs.c.owner_id,
        jobs.c.organization_id,
        jobs.c.lease_owner,
        jobs.c.status,
    ).where(jobs.c.id == job_id)
    return query.with_for_update(key_share=True) if locked else query


async def _insert_version(
    conn: AsyncConnection, course_id: str, course: Course, quality: dict[str, Any], now: datetime
) -> None:
    """The course's next version, which becomes its current one."""
    version = (
        await conn.execute(
            courses.update()
            .where(courses.c.id == course_id)
            .values(
                current_version=courses.c.current_version + 1,
                title=course.title,
                slug=course.slug,
                updated_at=now,
            )
            .returning(courses.c.current_version)
        )
    ).scalar_one()
    await conn.execute(
        course_versions.insert().values(
            course_id=course_id,
            version=version,
            content=course.model_dump(mode="json"),
            quality=quality,
            created_at=now,
        )
    )


def _usage_increments(calls: list[LLMCallRecord]) -> dict[str, Any]:
    return {
        "llm_calls": jobs.c.llm_calls + len(calls),
        "tokens_in": jobs.c.tokens_in + sum(c.tokens_in for c in calls),
        "tokens_out": jobs.c.tokens_out + sum(c.tokens_out for c in calls),
        "cost_usd": jobs.c.cost_usd + sum(c.cost_usd for c in calls),
    }


def _job_record(row: Any) -> JobRecord:
    return JobRecord(
        id=row["id"],
        kind=JobKind(row["kind"]),
        status=JobStatus(row["status"]),
        step=row["step"],
        request=_request_of(row["kind"], row["request"]),
        outline=CourseOutline.model_validate(row["outline"]) if row["outline"] else None,
        items_completed=row["items_completed"],
        items_total=row["items_total"],
        current_item=row["current_item"],
        attempts=row["attempts"],
        error=row["error"],
        failed_unit=row["failed_unit"],
        llm_calls=row["llm_calls"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        cost_usd=row["cost_usd"],
        course_id=row["course_id"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _request_of(kind: str, document: Any) -> CourseRequest:
    shape = OutlineRequest if kind == JobKind.OUTLINE else CourseRequest
    return shape.model_validate(document)
