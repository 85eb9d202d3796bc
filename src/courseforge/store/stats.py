"""How an organization's jobs fare: outcomes, where they fail, how long they take, cost.

Rates are shares of the finished jobs (completed, failed or cancelled) and None while
none has finished. Percentiles are computed here, over the completed jobs' durations,
the same way on both databases (linear interpolation between the closest ranks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.domain.accounts import User
from courseforge.domain.jobs import FINISHED_STATUSES, JobKind, JobStatus
from courseforge.store.database import Database
from courseforge.store.tables import jobs
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
