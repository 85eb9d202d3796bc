"""The claim: which due pending jobs a worker takes, within the running caps, fairly.

Kept apart from the queue's other statements (queries.py) because it is the one
statement that ranks: a bounded window of candidates, each owner's and organization's
running jobs, its caps. SQLAlchemy Core, so one text serves PostgreSQL and SQLite.
"""

from __future__ import annotations

import functools
from datetime import datetime

import sqlalchemy as sa

from courseforge.domain.jobs import JobStatus
from courseforge.queue.queries import PENDING, RUNNING, RunningCaps
from courseforge.store.tables import UTCDateTime, jobs, users


def serialize_claims() -> sa.TextClause:
    """PostgreSQL: claims queue on one transaction-scoped lock so the running caps hold
    exactly (counting running jobs and taking one must not interleave between workers).
    SQLite needs none: BEGIN IMMEDIATE already admits one writer at a time."""
    return sa.text("SELECT pg_advisory_xact_lock(7304918251)")


# How many of the most urgent pending jobs a claim ranks for fairness and caps: bounded,
# so a claim costs the same with ten thousand jobs waiting as with ten.
CLAIM_WINDOW = 200


def claim_params(
    worker: str, limit: int, now: datetime, lease_until: datetime, caps: RunningCaps
) -> dict[str, object]:
    """The values for `claim_next_jobs`' parameters."""
    return {
        "worker": worker,
        "limit": limit,
        "lease_until": lease_until,
        "cap_total": caps.total,
        **_rank_params(now, caps),
    }


def overdue_suspect_params(
    now: datetime, claimable_before: datetime, caps: RunningCaps
) -> dict[str, object]:
    """The values for `find_overdue_suspect`'s parameters."""
    return {"claimable_before": claimable_before, **_rank_params(now, caps)}


def _rank_params(now: datetime, caps: RunningCaps) -> dict[str, object]:
    return {
        "now": now,
        "window": CLAIM_WINDOW,
        "cap_student": caps.student,
        "cap_teacher": caps.teacher,
        "cap_admin": caps.admin,
        "cap_organization": caps.organization,
    }


@functools.cache
def claim_next_jobs(*, idle: bool = False) -> sa.Update:
    """Takes up to `:limit` due pending jobs, keeping every owner and organization within
    its running cap and all running jobs within `:cap_total`, even within one batch.
    Owners take turns (fair share: a job's place is its owner's running jobs plus its
    rank among that owner's waiting jobs), then the most urgent, then the oldest. Built
    once; values come as parameters (`claim_params`). Returns the ids and lost runs.

    A job whose earlier run was lost with its worker (lost_runs > 0) may be a poison job
    that kills its worker: only an `idle` worker takes one, and then that one alone. A
    busy worker takes only jobs never lost (fresh ones, and those whose unit gave up and
    that wait for their automatic retry: their worker ended that run).

    The ranking reads no row lock; only the jobs picked are locked, `FOR UPDATE SKIP
    LOCKED` (on PostgreSQL a row another transaction holds is passed, not waited on, and
    no job is taken twice) and taken only if still pending. SQLite: the same statement
    inside a BEGIN IMMEDIATE transaction, which excludes other writers.
    """
    picked = _picked(idle)
    locked = (
        sa.select(jobs.c.id)
        .where(jobs.c.id.in_(sa.select(picked.c.id)), jobs.c.status == PENDING)
        .with_for_update(skip_locked=True)
    )
    return _take_statement(jobs.c.id.in_(locked.scalar_subquery()))


def _picked(idle: bool) -> sa.Subquery:
    """The jobs a claim takes: the first eligible job lost before, if any (an idle claim),
    else up to `:limit` fresh ones; never more than the room under `:cap_total`."""
    ranked = _ranked_candidates(with_suspects=idle)
    suspect = ranked.c.lost_runs > 0
    order = (ranked.c.owner_load, ranked.c.priority.desc(), ranked.c.created_at)
    eligible = (
        sa.select(
            ranked.c.id,
            ranked.c.lost_runs,
            sa.func.row_number().over(partition_by=suspect, order_by=order).label("place"),
            sa.func.sum(sa.case((suspect, 1), else_=0)).over().label("suspects"),
        )
        .where(_within_caps(ranked))
        .subquery("eligible")
    )
    running = sa.select(sa.func.count()).where(jobs.c.status == RUNNING).scalar_subquery()
    fresh = sa.and_(
        eligible.c.lost_runs == 0,
        eligible.c.suspects == 0,
        eligible.c.place <= sa.bindparam("limit", type_=sa.Integer),
    )
    return (
        sa.select(eligible.c.id)
        .where(
            eligible.c.place + running <= sa.bindparam("cap_total", type_=sa.Integer),
            sa.or_(sa.and_(eligible.c.lost_runs > 0, eligible.c.place == 1), fresh),
        )
        .subquery("picked")
    )


@functools.cache
def find_overdue_suspect() -> sa.Select[tuple[str]]:
    """A job lost before (claimed only by an idle worker, alone) that has been claimable
    since before `:claimable_before`, that an idle claim would see and that its caps
    would let run now. Under constant load no worker is ever idle: workers that see such
    a job stop taking fresh ones until they are idle, so that one of them takes it.
    (A lost or released job's `scheduled_for` is when it became claimable again.)
    Parameters: `overdue_suspect_params`."""
    ranked = _ranked_candidates(with_suspects=True)
    claimable_before = sa.bindparam("claimable_before", type_=UTCDateTime)
    return (
        sa.select(ranked.c.id)
        .where(
            ranked.c.lost_runs > 0,
            ranked.c.scheduled_for <= claimable_before,
            _within_caps(ranked),
        )
        .limit(1)
    )


def _within_caps(ranked: sa.Subquery) -> sa.ColumnElement[bool]:
    return sa.and_(
        sa.or_(ranked.c.owner_id.is_(None), ranked.c.owner_load <= ranked.c.owner_cap),
        sa.or_(
            ranked.c.organization_id.is_(None),
            ranked.c.org_load <= sa.bindparam("cap_organization", type_=sa.Integer),
        ),
    )


def _ranked_candidates(*, with_suspects: bool) -> sa.Subquery:
    """The `:window` most urgent due pending jobs (fresh ones only, or also those lost
    before), each with the load its owner and organization would carry if it were
    taken, and its owner's cap."""
    candidates = (
        sa.select(
            jobs.c.id,
            jobs.c.owner_id,
            jobs.c.organization_id,
            jobs.c.priority,
            jobs.c.created_at,
            jobs.c.lost_runs,
            jobs.c.scheduled_for,
        )
        .where(
            jobs.c.status == PENDING,
            sa.or_(jobs.c.scheduled_for.is_(None), jobs.c.scheduled_for <= sa.bindparam("now")),
            sa.true() if with_suspects else jobs.c.lost_runs == 0,
        )
        .order_by(jobs.c.priority.desc(), jobs.c.created_at)
        .limit(sa.bindparam("window", type_=sa.Integer))
        .subquery("candidates")
    )
    by_owner = _running_per("owner_id")
    by_org = _running_per("organization_id")
    owner = users.alias("owner")
    urgency = (candidates.c.priority.desc(), candidates.c.created_at)

    def load(column: str, running: sa.Subquery) -> sa.ColumnElement[int]:
        rank = sa.func.row_number().over(partition_by=candidates.c[column], order_by=urgency)
        return sa.func.coalesce(running.c.running, 0) + rank

    owner_cap = sa.case(
        (owner.c.role == "student", sa.bindparam("cap_student", type_=sa.Integer)),
        (owner.c.role == "teacher", sa.bindparam("cap_teacher", type_=sa.Integer)),
        else_=sa.bindparam("cap_admin", type_=sa.Integer),
    )
    return (
        sa.select(
            candidates.c.id,
            candidates.c.owner_id,
            candidates.c.organization_id,
            candidates.c.priority,
            candidates.c.created_at,
            candidates.c.lost_runs,
            candidates.c.scheduled_for,
            load("owner_id", by_owner).label("owner_load"),
            load("organization_id", by_org).label("org_load"),
            owner_cap.label("owner_cap"),
        )
        .select_from(
            candidates.outerjoin(by_owner, by_owner.c.key == candidates.c.owner_id)
            .outerjoin(by_org, by_org.c.key == candidates.c.organization_id)
            .outerjoin(owner, owner.c.id == candidates.c.owner_id)
        )
        .subquery("ranked")
    )


def _running_per(column: str) -> sa.Subquery:
    """Running jobs counted per owner (or organization), once per claim."""
    return (
        sa.select(jobs.c[column].label("key"), sa.func.count().label("running"))
        .where(jobs.c.status == RUNNING)
        .group_by(jobs.c[column])
        .subquery(f"running_per_{column}")
    )


@functools.cache
def claim_job() -> sa.Update:
    """Takes one named pending job, `:job_id` (the command line runs the job it queued).
    Parameters: job_id, worker, now, lease_until."""
    return _take_statement(
        sa.and_(jobs.c.id == sa.bindparam("job_id", type_=sa.String), jobs.c.status == PENDING)
    )


def _take_statement(which: sa.ColumnElement[bool]) -> sa.Update:
    now = sa.bindparam("now", type_=UTCDateTime)
    return (
        jobs.update()
        .where(which)
        .values(
            status=JobStatus.RUNNING,
            lease_owner=sa.bindparam("worker", type_=sa.String),
            lease_expires_at=sa.bindparam("lease_until", type_=UTCDateTime),
            attempts=jobs.c.attempts + 1,
            started_at=sa.func.coalesce(jobs.c.started_at, now),
            updated_at=now,
        )
        .returning(jobs.c.id, jobs.c.lost_runs)
    )
