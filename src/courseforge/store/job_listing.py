"""Read-only views of jobs: a viewer's jobs a page at a time, one job's snapshot, its log.

Kept apart from JobStore, which holds the writes a run makes; these reads serve the API,
the command line and dashboards, and change nothing. With a viewer, a job they may not
see is not found, exactly like a missing one; without (the operator's command line),
every job is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.domain.accounts import User
from courseforge.store.database import Database
from courseforge.store.job_eta import RunHistory, eta_seconds
from courseforge.store.job_store import ACTIVE_STATUSES, JobNotFoundError, JobRecord, _job_record
from courseforge.store.pages import Page, fetch_page, is_row_id
from courseforge.store.tables import job_events, jobs
from courseforge.store.visibility import visible_to

StatusFilter = Literal["pending", "running", "completed", "failed", "cancelled", "active"]
STATUS_FILTERS: tuple[str, ...] = get_args(StatusFilter)
MAX_SEARCH_LENGTH = 200  # longer than any topic a person types to find a job
# What a person reads as a job's log: its log lines and how it ended.
LOG_EVENT_TYPES = ("log", "job_completed", "job_failed", "job_cancelled")


@dataclass(frozen=True)
class JobSnapshot:
    """A job, how far along it is, and the queue's bookkeeping (lease, schedule, cancel)."""

    job: JobRecord
    eta_seconds: float | None  # pending or running jobs with a history of similar ones
    priority: int
    auto_publish: bool
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


@dataclass(frozen=True)
class JobCounts:
    """How many of a viewer's jobs have each status (one grouped count)."""

    by_status: Mapping[str, int]

    def of(self, status: str | None) -> int:
        """The count behind a status filter: one status, "active", or None (all)."""
        if status is None:
            return sum(self.by_status.values())
        if status == "active":
            return sum(self.by_status.get(active, 0) for active in ACTIVE_STATUSES)
        return self.by_status.get(status, 0)


class JobListing:
    def __init__(self, database: Database, *, history_ttl_s: float = 0.0) -> None:
        self._database = database
        self._history = RunHistory(history_ttl_s)

    async def list_jobs(
        self,
        viewer: User | None,
        *,
        status: str | None,
        limit: int,
        cursor: str | None = None,
        search: str | None = None,
    ) -> Page[JobRecord]:
        """Newest first; `status` is one status, "active" (pending or running) or None (all);
        `search` keeps the jobs whose title (the outline's, or the topic) holds it, in
        any case.

        Raises InvalidCursorError for a cursor this listing did not hand out.
        """
        query = sa.select(jobs).where(
            *_seen_by(viewer), *_with_status(status), *_title_holds(search)
        )
        async with self._database.connect() as conn:
            return await fetch_page(
                conn, query, jobs, limit=limit, cursor=cursor, to_item=_job_record
            )

    async def count_jobs(self, viewer: User | None, *, search: str | None = None) -> JobCounts:
        """The viewer's jobs (those whose title holds `search`) counted by status."""
        query = (
            sa.select(jobs.c.status, sa.func.count())
            .where(*_seen_by(viewer), *_title_holds(search))
            .group_by(jobs.c.status)
        )
        async with self._database.connect() as conn:
            rows = (await conn.execute(query)).all()
        return JobCounts({status: count for status, count in rows})

    async def snapshot(self, job_id: str, viewer: User | None = None) -> JobSnapshot:
        async with self._database.connect() as conn:
            row = await _visible_job(conn, job_id, viewer)
            eta = await eta_seconds(
                conn,
                row["kind"],
                row["status"],
                row["items_completed"],
                row["items_total"],
                self._history,
            )
        return JobSnapshot(
            job=_job_record(row),
            eta_seconds=eta,
            priority=row["priority"],
            auto_publish=row["auto_publish"],
            lease_owner=row["lease_owner"],
            lease_expires_at=row["lease_expires_at"],
            scheduled_for=row["scheduled_for"],
            cancel_requested=row["cancel_requested"],
        )

    async def logs(self, job_id: str, viewer: User | None = None) -> list[LogLine]:
        """The job's log lines and its end, oldest first; progress events are left out."""
        query = (
            sa.select(job_events)
            .where(job_events.c.job_id == job_id, job_events.c.type.in_(LOG_EVENT_TYPES))
            .order_by(job_events.c.id)
        )
        async with self._database.connect() as conn:
            await _visible_job(conn, job_id, viewer)
            rows = (await conn.execute(query)).mappings().all()
        return [_log_line(row) for row in rows]


def _seen_by(viewer: User | None) -> list[sa.ColumnElement[bool]]:
    return [] if viewer is None else [visible_to(viewer, jobs)]


def _with_status(status: str | None) -> list[sa.ColumnElement[bool]]:
    if status is None:
        return []
    if status not in STATUS_FILTERS:
        raise ValueError(f"unknown status {status!r}: use one of {', '.join(STATUS_FILTERS)}")
    if status == "active":
        return [jobs.c.status.in_(ACTIVE_STATUSES)]
    return [jobs.c.status == status]


def _title_holds(search: str | None) -> list[sa.ColumnElement[bool]]:
    """The jobs whose title holds `search`: the approved outline's title when the job
    has one (what the pages show), else the brief's topic."""
    if not search:
        return []
    if len(search) > MAX_SEARCH_LENGTH:
        raise ValueError(f"search text over {MAX_SEARCH_LENGTH} characters")
    title = sa.func.coalesce(
        jobs.c.outline["title"].as_string(), jobs.c.request["topic"].as_string()
    )
    # autoescape: a typed % or _ is matched as itself, not as a LIKE wildcard.
    return [title.icontains(search, autoescape=True)]


async def _visible_job(conn: AsyncConnection, job_id: str, viewer: User | None) -> Any:
    """The job's row; JobNotFoundError when it is missing or the viewer may not see it."""
    if not is_row_id(job_id):
        raise JobNotFoundError(job_id)
    query = sa.select(jobs).where(jobs.c.id == job_id, *_seen_by(viewer))
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise JobNotFoundError(job_id)
    return row


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
