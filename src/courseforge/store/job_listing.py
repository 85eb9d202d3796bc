"""Read-only views of jobs for operators: the newest jobs, one job's snapshot, its log.

Kept apart from JobStore, which holds the writes a run makes; these reads serve the
command line (and any dashboard) and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.store.database import Database
from courseforge.store.job_store import ACTIVE_STATUSES, JobNotFoundError, JobRecord, _job_record
from courseforge.store.tables import job_events, jobs

StatusFilter = Literal["pending", "running", "completed", "failed", "cancelled", "active"]
STATUS_FILTERS: tuple[str, ...] = get_args(StatusFilter)
# What a person reads as a job's log: its log lines and how it ended.
LOG_EVENT_TYPES = ("log", "job_completed", "job_failed", "job_cancelled")


@dataclass(frozen=True)
class JobSnapshot:
    """A job and the queue's bookkeeping about it (lease, schedule, cancellation)."""

    job: JobRecord
    lease_owner: str | None
    lease_expires_at: datetime | None
    scheduled_for: datetime | None
    cancel_requested: bool


@dataclass(frozen=True)
class LogLine:
    event_id: int
    type: str
    at: datetime
    level: str
    message: str


class JobListing:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def list_jobs(self, status: str | None, limit: int) -> list[JobRecord]:
        """Newest first; `status` is one status, "active" (pending or running) or None (all)."""
        query = sa.select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        if status == "active":
            query = query.where(jobs.c.status.in_(ACTIVE_STATUSES))
        elif status is not None:
            query = query.where(jobs.c.status == status)
        async with self._database.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_job_record(row) for row in rows]

    async def snapshot(self, job_id: str) -> JobSnapshot:
        async with self._database.connect() as conn:
            query = sa.select(jobs).where(jobs.c.id == job_id)
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise JobNotFoundError(job_id)
        return JobSnapshot(
            job=_job_record(row),
            lease_owner=row["lease_owner"],
            lease_expires_at=row["lease_expires_at"],
            scheduled_for=row["scheduled_for"],
            cancel_requested=row["cancel_requested"],
        )

    async def logs(self, job_id: str) -> list[LogLine]:
        """The job's log lines and its end, oldest first; progress events are left out."""
        query = (
            sa.select(job_events)
            .where(job_events.c.job_id == job_id, job_events.c.type.in_(LOG_EVENT_TYPES))
            .order_by(job_events.c.id)
        )
        async with self._database.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            if not rows and not await _exists(conn, job_id):
                raise JobNotFoundError(job_id)
        return [_log_line(row) for row in rows]


async def _exists(conn: AsyncConnection, job_id: str) -> bool:
    found = await conn.execute(sa.select(jobs.c.id).where(jobs.c.id == job_id))
    return found.first() is not None


def _log_line(row: Any) -> LogLine:
    payload: dict[str, Any] = row["payload"]
    level, message = _describe(row["type"], payload)
    return LogLine(row["id"], row["type"], row["created_at"], level, message)


def _describe(event_type: str, payload: dict[str, Any]) -> tuple[str, str]:
    """The level and text of one event as a log line."""
    if event_type == "log":
        return str(payload.get("level", "info")), str(payload.get("message", ""))
    if event_type == "job_completed":
        return "success", f"Job completed; course {payload.get('courseId')}"
    if event_type == "job_failed":
        unit = payload.get("unit")
        where = f" at {unit}" if unit else ""
        return "error", f"Job failed{where}: {payload.get('error')}"
    return "warning", "Job cancelled"
