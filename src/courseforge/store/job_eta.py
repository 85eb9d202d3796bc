"""How far along a job is, and how long it still needs, judged from similar finished jobs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import fmean

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.store.job_store import ACTIVE_STATUSES
from courseforge.store.tables import jobs

# Recent runs follow the current models and prompts; older ones would blur the estimate.
HISTORY_SIZE = 50


@dataclass(frozen=True)
class FinishedRun:
    seconds: float  # started_at to finished_at
    units: int  # items_total


def percent_done(status: str, items_completed: int, items_total: int) -> int:
    """0 to 100, rounded down: a job shows 100 only once it has completed."""
    if status == "completed":
        return 100
    if items_total <= 0:
        return 0
    return max(0, min(99, items_completed * 100 // items_total))


def estimate_seconds_left(
    history: list[FinishedRun], items_completed: int, items_total: int
) -> float | None:
    """The mean seconds per unit of the history times the units left; None without history.

    A job that has not planned its units yet (items_total 0, still queued) is taken to be
    as long as the history's mean.
    """
    runs = [run for run in history if run.units > 0]
    if not runs:
        return None
    seconds_per_unit = fmean(run.seconds / run.units for run in runs)
    if items_total > 0:
        left = max(items_total - items_completed, 0)
    else:
        left = round(fmean(run.units for run in runs))
    return round(seconds_per_unit * left, 1)


class RunHistory:
    """`similar_runs`, kept for a few seconds: an estimate need not be fresher, and a
    snapshot polled by many clients should not re-read the history every time."""

    def __init__(self, ttl_s: float = 10.0) -> None:
        self._ttl_s = ttl_s
        self._kept: dict[str, tuple[float, list[FinishedRun]]] = {}

    async def of(self, conn: AsyncConnection, kind: str) -> list[FinishedRun]:
        now = time.monotonic()
        kept = self._kept.get(kind)
        if kept is not None and kept[0] > now:
            return kept[1]
        runs = await similar_runs(conn, kind)
        self._kept[kind] = (now + self._ttl_s, runs)
        return runs


async def eta_seconds(
    conn: AsyncConnection,
    kind: str,
    status: str,
    items_completed: int,
    items_total: int,
    history: RunHistory | None = None,
) -> float | None:
    """Seconds until a pending or running job finishes (its wait in the queue not counted)."""
    if status not in ACTIVE_STATUSES:
        return None
    runs = await history.of(conn, kind) if history else await similar_runs(conn, kind)
    return estimate_seconds_left(runs, items_completed, items_total)


async def similar_runs(conn: AsyncConnection, kind: str) -> list[FinishedRun]:
    """The last completed runs of this kind, across all owners: only their timing is read."""
    query = (
        sa.select(jobs.c.started_at, jobs.c.finished_at, jobs.c.items_total)
        .where(
            jobs.c.kind == kind,
            jobs.c.status == "completed",
            jobs.c.started_at.is_not(None),
            jobs.c.finished_at.is_not(None),
            jobs.c.items_total > 0,
        )
        .order_by(jobs.c.finished_at.desc())
        .limit(HISTORY_SIZE)
    )
    rows = (await conn.execute(query)).all()
    return [
        FinishedRun((row.finished_at - row.started_at).total_seconds(), row.items_total)
        for row in rows
    ]
