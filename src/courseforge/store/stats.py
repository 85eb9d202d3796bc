"""How an organization's jobs fare: outcomes, where they fail, how long they take, cost.

Rates are shares of the finished jobs (completed, failed or cancelled) and None while
none has finished. Percentiles are computed here, over the completed jobs' durations,
the same way on both databases (linear interpolation between the closest ranks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.domain.accounts import User
from courseforge.domain.jobs import FINISHED_STATUSES, JobKind, JobStatus
from courseforge.store.database import Database
from courseforge.store.tables import jobs
from courseforge.store.utc_day import utc_day
from courseforge.store.visibility import visible_to

# Where a job failed before any step began (e.g. its worker was lost too often).
NO_STEP = "unknown"


@dataclass(frozen=True)
class JobStats:
    counts: dict[str, int]  # every status, zeros included
    finished: int
    success_rate: float | None  # completed / finished
    cancellation_rate: float | None  # cancelled / finished
    failures_by_step: dict[str, int]  # failed jobs by the step they failed in
    failure_rate_by_step: dict[str, float]  # those / finished
    duration_p50_s: float | None  # completed jobs, started to finished
    duration_p95_s: float | None
    duration_p99_s: float | None
    mean_cost_per_course_usd: float | None  # completed course jobs


@dataclass(frozen=True)
class DailyJobs:
    """The jobs that finished on one UTC day, and what they cost."""

    day: date
    completed: int
    failed: int
    cancelled: int
    cost_usd: float  # every finished job's spend, outlines and failures included


class JobStatistics:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def job_stats(self, viewer: User, *, since: datetime | None = None) -> JobStats:
        """Over the jobs the viewer may see (an admin: the organization's), created at or
        after `since` when given."""
        scope = [visible_to(viewer, jobs)]
        if since is not None:
            scope.append(jobs.c.created_at >= since)
        async with self._database.connect() as conn:
            counts = await _counts_by_status(conn, scope)
            failures = await _failures_by_step(conn, scope)
            durations = await _completed_durations(conn, scope)
            cost = await _mean_course_cost(conn, scope)
        finished = sum(counts[status] for status in FINISHED_STATUSES)
        p50, p95, p99 = (percentile(durations, q) for q in (0.50, 0.95, 0.99))
        return JobStats(
            counts=counts,
            finished=finished,
            success_rate=_share(counts[JobStatus.COMPLETED], finished),
            cancellation_rate=_share(counts[JobStatus.CANCELLED], finished),
            failures_by_step=failures,
            failure_rate_by_step={step: n / finished for step, n in failures.items()},
            duration_p50_s=p50,
            duration_p95_s=p95,
            duration_p99_s=p99,
            mean_cost_per_course_usd=cost,
        )

    async def daily_series(self, viewer: User, days: int, now: datetime) -> list[DailyJobs]:
        """One entry per UTC day, oldest first, for the `days` days up to `now`'s (days
        without a finished job as zeros); jobs count on the day they finished."""
        if days < 1:
            raise ValueError(f"days must be at least 1, not {days}")
        first = now.astimezone(UTC).date() - timedelta(days=days - 1)
        start = datetime.combine(first, time(), tzinfo=UTC)
        async with self._database.connect() as conn:
            rows = await _finished_by_day(conn, viewer, start, start + timedelta(days=days))
        every_day = (first + timedelta(days=n) for n in range(days))
        return [rows.get(day) or DailyJobs(day, 0, 0, 0, 0.0) for day in every_day]


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


Scope = list[sa.ColumnElement[bool]]


async def _counts_by_status(conn: AsyncConnection, scope: Scope) -> dict[str, int]:
    query = sa.select(jobs.c.status, sa.func.count()).where(*scope).group_by(jobs.c.status)
    counts = dict.fromkeys((status.value for status in JobStatus), 0)
    for status, count in (await conn.execute(query)).all():
        counts[status] = count
    return counts


async def _failures_by_step(conn: AsyncConnection, scope: Scope) -> dict[str, int]:
    query = (
        sa.select(jobs.c.step, sa.func.count())
        .where(*scope, jobs.c.status == JobStatus.FAILED)
        .group_by(jobs.c.step)
    )
    return {step or NO_STEP: count for step, count in (await conn.execute(query)).all()}


async def _completed_durations(conn: AsyncConnection, scope: Scope) -> list[float]:
    query = sa.select(jobs.c.started_at, jobs.c.finished_at).where(
        *scope,
        jobs.c.status == JobStatus.COMPLETED,
        jobs.c.started_at.is_not(None),
        jobs.c.finished_at.is_not(None),
    )
    rows = (await conn.execute(query)).all()
    return [(row.finished_at - row.started_at).total_seconds() for row in rows]


async def _mean_course_cost(conn: AsyncConnection, scope: Scope) -> float | None:
    query = sa.select(sa.func.avg(jobs.c.cost_usd)).where(
        *scope, jobs.c.kind == JobKind.COURSE, jobs.c.status == JobStatus.COMPLETED
    )
    mean = (await conn.execute(query)).scalar()
    return float(mean) if mean is not None else None


def _count_of(status: JobStatus) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((jobs.c.status == status, 1), else_=0))


async def _finished_by_day(
    conn: AsyncConnection, viewer: User, start: datetime, end: datetime
) -> dict[date, DailyJobs]:
    day = utc_day(jobs.c.finished_at)
    query = (
        sa.select(
            day.label("day"),
            _count_of(JobStatus.COMPLETED).label("completed"),
            _count_of(JobStatus.FAILED).label("failed"),
            _count_of(JobStatus.CANCELLED).label("cancelled"),
            sa.func.sum(jobs.c.cost_usd).label("cost_usd"),
        )
        .where(
            visible_to(viewer, jobs),
            jobs.c.status.in_(FINISHED_STATUSES),
            jobs.c.finished_at >= start,
            jobs.c.finished_at < end,
        )
        .group_by(day)
    )
    rows = (await conn.execute(query)).all()
    return {entry.day: entry for entry in map(_daily_jobs, rows)}


def _daily_jobs(row: sa.Row[Any]) -> DailyJobs:
    return DailyJobs(
        date.fromisoformat(row.day),
        int(row.completed),
        int(row.failed),
        int(row.cancelled),
        float(row.cost_usd or 0.0),
    )
