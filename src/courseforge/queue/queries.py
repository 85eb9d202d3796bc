"""Every statement the queue runs, each under its name (the claim's in claim_queries.py).

They are SQLAlchemy Core statements, so one text serves PostgreSQL and SQLite; where
the two differ it is said. Times come from the caller's clock (tests drive it), so the
hosts of a deployment must keep their clocks in sync (NTP), as with any lease.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from courseforge.domain.jobs import ACTIVE_STATUSES, FINISHED_STATUSES, JobKind, JobStatus
from courseforge.store.job_endings import end_jobs, held_by
from courseforge.store.tables import UTCDateTime, job_events, jobs, users

PENDING, RUNNING = JobStatus.PENDING, JobStatus.RUNNING


@dataclass(frozen=True)
class RunningCaps:
    """How many jobs may run at once: per owner by role, per organization, in all."""

    student: int = 1
    teacher: int = 3
    admin: int = 10
    organization: int = 50
    total: int = 100


def notify_job_available() -> sa.TextClause:
    """PostgreSQL: tells listening workers (see wakeup.py) to look now."""
    return sa.text("SELECT pg_notify('courseforge_jobs', '')")


def extend_leases(
    worker: str, job_ids: Collection[str], now: datetime, lease_until: datetime
) -> sa.Update:
    """The heartbeat: renews the leases this worker still holds; says which to cancel."""
    return (
        jobs.update()
        .where(jobs.c.id.in_(job_ids), jobs.c.status == RUNNING, jobs.c.lease_owner == worker)
        .values(lease_expires_at=lease_until, updated_at=now)
        .returning(jobs.c.id, jobs.c.cancel_requested)
    )


@functools.cache
def complete_jobs() -> sa.Update:
    """Acknowledges finished jobs in one statement (a group commit of completions): each
    of `:job_ids` becomes completed if `:worker` still holds its lease. Parameters:
    job_ids (a list), worker, now."""
    held = sa.and_(
        jobs.c.id.in_(sa.bindparam("job_ids", expanding=True)),
        jobs.c.status == RUNNING,
        jobs.c.lease_owner == sa.bindparam("worker", type_=sa.String),
    )
    now = sa.bindparam("now", type_=UTCDateTime)
    return end_jobs(held, JobStatus.COMPLETED, now).returning(jobs.c.id)


def release_leases(worker: str, job_ids: Collection[str], now: datetime) -> sa.Update:
    """A worker shutting down hands its jobs back at once; the attempt does not count.
    Claimable from now (`scheduled_for`: how long a job lost before has waited since)."""
    return (
        jobs.update()
        .where(jobs.c.id.in_(job_ids), jobs.c.status == RUNNING, jobs.c.lease_owner == worker)
        .values(
            status=PENDING,
            lease_owner=None,
            lease_expires_at=None,
            attempts=jobs.c.attempts - 1,
            scheduled_for=now,
            updated_at=now,
        )
        .returning(jobs.c.id)
    )


def select_expired_leases(now: datetime, limit: int) -> sa.Select[str, int, int, str | None]:
    """Running jobs whose worker stopped renewing: crashed, killed or cut off."""
    return (
        sa.select(jobs.c.id, jobs.c.attempts, jobs.c.lost_runs, jobs.c.lease_owner)
        .where(jobs.c.status == RUNNING, jobs.c.lease_expires_at < now)
        .order_by(jobs.c.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _lost(job_id: str, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(jobs.c.id == job_id, jobs.c.status == RUNNING, jobs.c.lease_expires_at < now)


def requeue_lost_job(job_id: str, now: datetime, not_before: datetime) -> sa.Update:
    """A lost run counts: the job is now suspect (see claim_queries)."""
    return (
        jobs.update()
        .where(_lost(job_id, now))
        .values(
            status=PENDING,
            lost_runs=jobs.c.lost_runs + 1,
            lease_owner=None,
            lease_expires_at=None,
            scheduled_for=not_before,
            updated_at=now,
        )
    )


def finish_lost_job(job_id: str, now: datetime, status: JobStatus, error: str | None) -> sa.Update:
    """A lost job that must not run again: `failed` (out of attempts) or `cancelled`."""
    return end_jobs(_lost(job_id, now), status, now, error=error).values(
        lost_runs=jobs.c.lost_runs + 1
    )


def lock_held_run(job_id: str, worker: str) -> sa.Select[int, bool]:
    """The run `worker` holds, locked while its ending is decided (None: not held)."""
    return (
        sa.select(jobs.c.attempts, jobs.c.cancel_requested)
        .where(held_by(job_id, worker))
        .with_for_update(key_share=True)
    )


def requeue_failed_run(
    job_id: str, worker: str, now: datetime, not_before: datetime, error: str, unit: str
) -> sa.Update:
    """A run whose unit gave up: the job waits until `not_before`, then resumes from its
    checkpoints; the failure stays on it until the next run begins (so a snapshot says
    why it waits). Not suspect: its worker ended the run."""
    return (
        jobs.update()
        .where(held_by(job_id, worker))
        .values(
            status=PENDING,
            error=error,
            failed_unit=unit,
            lease_owner=None,
            lease_expires_at=None,
            scheduled_for=not_before,
            updated_at=now,
        )
    )


def end_run(
    job_id: str,
    worker: str,
    now: datetime,
    status: JobStatus,
    error: str | None = None,
    unit: str | None = None,
) -> sa.Update:
    """The run `worker` holds ends the job: failed (naming the unit) or cancelled."""
    return end_jobs(held_by(job_id, worker), status, now, error=error, failed_unit=unit)


def cancel_requested_among(job_ids: Collection[str]) -> sa.Select[str]:
    return sa.select(jobs.c.id).where(jobs.c.id.in_(job_ids), jobs.c.cancel_requested)


def cancel_pending_job(job_id: str, now: datetime) -> sa.Update:
    """A queued job (or one waiting for its retry) is cancelled at once."""
    pending = sa.and_(jobs.c.id == job_id, jobs.c.status == PENDING)
    return end_jobs(pending, JobStatus.CANCELLED, now)


def request_cancel_of_running_job(job_id: str, now: datetime) -> sa.Update:
    return (
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.status == RUNNING)
        .values(cancel_requested=True, updated_at=now)
    )


def requeue_finished_job(job_id: str, now: datetime) -> sa.Update:
    """Retry: a failed or cancelled job waits again; its checkpoints stay, so it resumes."""
    return (
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.status.in_((JobStatus.FAILED, JobStatus.CANCELLED)))
        .values(
            status=PENDING,
            attempts=0,
            lost_runs=0,
            error=None,
            failed_unit=None,
            cancel_requested=False,
            scheduled_for=None,
            finished_at=None,
            updated_at=now,
        )
    )


def delete_old_events(finished_before: datetime) -> sa.Delete:
    """Retention: the event and log rows of jobs finished long enough ago."""
    old_jobs = sa.select(jobs.c.id).where(
        jobs.c.status.in_(FINISHED_STATUSES), jobs.c.finished_at < finished_before
    )
    return job_events.delete().where(job_events.c.job_id.in_(old_jobs.scalar_subquery()))


def find_active_duplicate(owner_id: str, dedup_key: str) -> sa.Select[str, str | None]:
    """The owner's active job for the same brief, with its course (if it makes one)."""
    return sa.select(jobs.c.id, jobs.c.course_id).where(
        jobs.c.owner_id == owner_id,
        jobs.c.dedup_key == dedup_key,
        jobs.c.status.in_(ACTIVE_STATUSES),
    )


def lock_owner(owner_id: str) -> sa.Select[str]:
    """PostgreSQL: an owner's enqueues take turns on their users row, so that counting
    their recent jobs and adding one cannot interleave between processes (the creation
    rate holds exactly). FOR NO KEY UPDATE, so that inserts referencing the user (its
    foreign key checks) do not wait on it. SQLite renders no lock: BEGIN IMMEDIATE
    already admits one writer at a time."""
    return sa.select(users.c.id).where(users.c.id == owner_id).with_for_update(key_share=True)


def newest_created(
    owner_id: str, kind: JobKind, since: datetime, limit: int
) -> sa.Select[datetime]:
    """When the owner created their newest `limit` jobs of `kind` after `since`, newest
    first: the sliding window of the creation rate, read no further than the limit."""
    return (
        sa.select(jobs.c.created_at)
        .where(jobs.c.owner_id == owner_id, jobs.c.kind == kind, jobs.c.created_at > since)
        .order_by(jobs.c.created_at.desc())
        .limit(limit)
    )
