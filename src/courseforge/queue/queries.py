"""Every statement the queue runs, each under its name: the queue's SQL in one place.

They are SQLAlchemy Core statements, so one text serves PostgreSQL and SQLite; where
the two differ it is said. Times come from the caller's clock (tests drive it), so the
hosts of a deployment must keep their clocks in sync (NTP), as with any lease.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from courseforge.store.tables import job_events, jobs, users

ACTIVE = ("pending", "running")
FINISHED = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class RunningCaps:
    """How many jobs may run at once: per owner by role, per organization, in all."""

    student: int = 1
    teacher: int = 3
    admin: int = 10
    organization: int = 50
    total: int = 100


def serialize_claims() -> sa.TextClause:
    """PostgreSQL: claims queue on one transaction-scoped lock so the running caps hold
    exactly (counting running jobs and taking one must not interleave between workers).
    SQLite needs none: BEGIN IMMEDIATE already admits one writer at a time."""
    return sa.text("SELECT pg_advisory_xact_lock(7304918251)")


def notify_job_available() -> sa.TextClause:
    """PostgreSQL: tells listening workers (see wakeup.py) to look now."""
    return sa.text("SELECT pg_notify('courseforge_jobs', '')")


def count_running() -> sa.Select[int]:
    return sa.select(sa.func.count()).select_from(jobs).where(jobs.c.status == "running")


def claim_next_jobs(
    worker: str,
    limit: int,
    now: datetime,
    lease_until: datetime,
    caps: RunningCaps,
    *,
    suspect: bool = False,
) -> sa.Update:
    """Takes up to `limit` due pending jobs, keeping every owner and organization within
    its running cap, even within one batch. Owners take turns (fair share: a job's place
    is its owner's running jobs plus its rank among that owner's waiting jobs), then the
    most urgent, then the oldest.

    PostgreSQL: `FOR UPDATE SKIP LOCKED` lets a claim pass rows another transaction holds
    instead of waiting on them, and no job is taken twice. SQLite: the same statement
    inside a BEGIN IMMEDIATE transaction, which excludes other writers.

    `suspect` picks among jobs whose earlier run was lost with its worker (attempts > 0):
    such a job may be a poison job that kills its worker, so it is run alone.
    """
    ranked = _ranked_pending(now, caps, suspect)
    within_caps = sa.and_(
        sa.or_(ranked.c.owner_id.is_(None), ranked.c.owner_load <= ranked.c.owner_cap),
        sa.or_(ranked.c.organization_id.is_(None), ranked.c.org_load <= caps.organization),
    )
    due = (
        sa.select(jobs.c.id)
        .join(ranked, ranked.c.id == jobs.c.id)
        .where(within_caps)
        .order_by(ranked.c.owner_load, jobs.c.priority.desc(), jobs.c.created_at)
        .limit(limit)
        .with_for_update(of=jobs, skip_locked=True)
    )
    return _take(jobs.c.id.in_(due.scalar_subquery()), worker, now, lease_until)


def _ranked_pending(now: datetime, caps: RunningCaps, suspect: bool) -> sa.Subquery:
    """Due pending jobs with the load their owner and organization would have if taken."""
    running = jobs.alias("running")
    owner = users.alias("owner")
    urgency = (jobs.c.priority.desc(), jobs.c.created_at)

    def running_for(column: str) -> sa.ScalarSelect[int]:
        return (
            sa.select(sa.func.count())
            .select_from(running)
            .where(running.c.status == "running", running.c[column] == jobs.c[column])
            .scalar_subquery()
        )

    def rank_within(column: str) -> sa.Over[int]:
        return sa.func.row_number().over(partition_by=jobs.c[column], order_by=urgency)

    owner_cap = sa.case(
        (owner.c.role == "student", caps.student),
        (owner.c.role == "teacher", caps.teacher),
        else_=caps.admin,
    )
    return (
        sa.select(
            jobs.c.id,
            jobs.c.owner_id,
            jobs.c.organization_id,
            (running_for("owner_id") + rank_within("owner_id")).label("owner_load"),
            (running_for("organization_id") + rank_within("organization_id")).label("org_load"),
            owner_cap.label("owner_cap"),
        )
        .select_from(jobs.outerjoin(owner, owner.c.id == jobs.c.owner_id))
        .where(
            jobs.c.status == "pending",
            sa.or_(jobs.c.scheduled_for.is_(None), jobs.c.scheduled_for <= now),
            jobs.c.attempts > 0 if suspect else jobs.c.attempts == 0,
        )
        .subquery("ranked")
    )


def claim_job(job_id: str, worker: str, now: datetime, lease_until: datetime) -> sa.Update:
    """Takes one named pending job (the command line runs the job it just queued)."""
    return _take(sa.and_(jobs.c.id == job_id, jobs.c.status == "pending"), worker, now, lease_until)


def _take(which: sa.ColumnElement[bool], worker: str, now: datetime, until: datetime) -> sa.Update:
    return (
        jobs.update()
        .where(which)
        .values(
            status="running",
            lease_owner=worker,
            lease_expires_at=until,
            attempts=jobs.c.attempts + 1,
            started_at=sa.func.coalesce(jobs.c.started_at, now),
            updated_at=now,
        )
        .returning(jobs.c.id)
    )


def extend_leases(
    worker: str, job_ids: Collection[str], now: datetime, lease_until: datetime
) -> sa.Update:
    """The heartbeat: renews the leases this worker still holds; says which to cancel."""
    return (
        jobs.update()
        .where(jobs.c.id.in_(job_ids), jobs.c.status == "running", jobs.c.lease_owner == worker)
        .values(lease_expires_at=lease_until, updated_at=now)
        .returning(jobs.c.id, jobs.c.cancel_requested)
    )


def release_leases(worker: str, job_ids: Collection[str], now: datetime) -> sa.Update:
    """A worker shutting down hands its jobs back at once; the attempt does not count."""
    return (
        jobs.update()
        .where(jobs.c.id.in_(job_ids), jobs.c.status == "running", jobs.c.lease_owner == worker)
        .values(
            status="pending",
            lease_owner=None,
            lease_expires_at=None,
            attempts=jobs.c.attempts - 1,
            updated_at=now,
        )
        .returning(jobs.c.id)
    )


def select_expired_leases(now: datetime, limit: int) -> sa.Select[str, int, str | None]:
    """Running jobs whose worker stopped renewing: crashed, killed or cut off."""
    return (
        sa.select(jobs.c.id, jobs.c.attempts, jobs.c.lease_owner)
        .where(jobs.c.status == "running", jobs.c.lease_expires_at < now)
        .order_by(jobs.c.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def requeue_lost_job(job_id: str, now: datetime, not_before: datetime) -> sa.Update:
    return (
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.status == "running", jobs.c.lease_expires_at < now)
        .values(
            status="pending",
            lease_owner=None,
            lease_expires_at=None,
            scheduled_for=not_before,
            updated_at=now,
        )
    )


def fail_lost_job(job_id: str, now: datetime, error: str) -> sa.Update:
    return (
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.status == "running", jobs.c.lease_expires_at < now)
        .values(
            status="failed",
            error=error,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
    )


def cancel_requested_among(job_ids: Collection[str]) -> sa.Select[str]:
    return sa.select(jobs.c.id).where(jobs.c.id.in_(job_ids), jobs.c.cancel_requested)


def cancel_lost_job(job_id: str, now: datetime) -> sa.Update:
    return (
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.status == "running", jobs.c.lease_expires_at < now)
        .values(
            status="cancelled",
            cancel_requested=False,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
    )


def cancel_pending_job(job_id: str, now: datetime) -> sa.Update:
    return (
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.status == "pending")
        .values(status="cancelled", cancel_requested=False, finished_at=now, updated_at=now)
    )


def request_cancel_of_running_job(job_id: str, now: datetime) -> sa.Update:
    return (
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.status == "running")
        .values(cancel_requested=True, updated_at=now)
    )


def requeue_finished_job(job_id: str, now: datetime) -> sa.Update:
    """Retry: a failed or cancelled job waits again; its checkpoints stay, so it resumes."""
    return (
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.status.in_(("failed", "cancelled")))
        .values(
            status="pending",
            attempts=0,
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
        jobs.c.status.in_(FINISHED), jobs.c.finished_at < finished_before
    )
    return job_events.delete().where(job_events.c.job_id.in_(old_jobs.scalar_subquery()))


def find_active_duplicate(owner_id: str, dedup_key: str) -> sa.Select[str]:
    return sa.select(jobs.c.id).where(
        jobs.c.owner_id == owner_id, jobs.c.dedup_key == dedup_key, jobs.c.status.in_(ACTIVE)
    )
