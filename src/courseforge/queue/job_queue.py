"""The queue's operations, each a short transaction around one named statement.

A job once accepted is never lost (it is a row), never run by two workers at once (a
claim takes it under a lease only its holder renews), and never stuck (an expired
lease makes it claimable again, after a backoff, until its attempts run out).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.clock import Clock, SystemClock
from courseforge.domain.accounts import User
from courseforge.domain.jobs import JobKind, JobStatus
from courseforge.domain.outline import CourseOutline, CourseRequest, OutlineRequest
from courseforge.queue import claim_queries, queries
from courseforge.queue.quotas import CreationQuotas, check_creation_rate
from courseforge.store.database import Database
from courseforge.store.job_store import JobStore, NewJob, insert_event, insert_job

CancelOutcome = Literal["cancelled", "cancelling", "finished", "not_found"]
# How a run whose unit gave up ended: queued again after a backoff, failed, cancelled (a
# cancel was asked meanwhile), or nothing (another worker holds the job now).
FailedRunOutcome = Literal["retrying", "failed", "cancelled", "not_held"]


@dataclass(frozen=True)
class QueuePolicy:
    lease_s: float = 30.0
    max_attempts: int = 3  # runs lost with their worker before the job fails (a poison job)
    max_runs: int = 8  # runs (the first and automatic retries after a unit gave up)
    backoff_initial_s: float = 2.0
    backoff_max_s: float = 60.0
    # How long a job lost before may wait for an idle worker (in lease lengths) before
    # busy workers stop taking fresh jobs to make one idle (see `suspect_overdue`).
    suspect_patience_leases: float = 4.0

    @property
    def suspect_patience(self) -> timedelta:
        return timedelta(seconds=self.lease_s * self.suspect_patience_leases)

    def backoff(self, attempts: int) -> float:
        """Exponential, with full jitter so many lost jobs do not return at the same instant."""
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2 ** max(0, attempts - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Claim:
    job_ids: list[str]
    alone: bool  # a job lost before: its worker must run nothing beside it


@dataclass(frozen=True)
class FailedRun:
    outcome: FailedRunOutcome
    retry_in_s: float | None = None  # "retrying": when the job is claimable again


@dataclass(frozen=True)
class Enqueued:
    job_id: str
    created: bool  # False: an identical job of the same owner is already active
    course_id: str | None = None  # the course a course job makes (it exists already)


class JobQueue:
    def __init__(
        self,
        database: Database,
        store: JobStore,
        clock: Clock | None = None,
        policy: QueuePolicy | None = None,
        caps: queries.RunningCaps | None = None,
        quotas: CreationQuotas | None = None,
    ) -> None:
        self.caps = caps or queries.RunningCaps()
        self.quotas = quotas or CreationQuotas()
        self._database = database
        self._store = store
        self._clock = clock or SystemClock()
        self.policy = policy or QueuePolicy()
        self._local_wakers: list[Callable[[], None]] = []

    def wake_on_new_work(self, wake: Callable[[], None]) -> None:
        """Calls `wake` whenever this queue object makes a job claimable: this process's
        own workers hear of it at once (NOTIFY reaches other processes; SQLite has none)."""
        self._local_wakers.append(wake)

    def _work_added(self) -> None:
        for wake in self._local_wakers:
            wake()

    async def enqueue_course(
        self,
        request: CourseRequest,
        owner: User,
        outline: CourseOutline | None = None,
        *,
        priority: int = 0,
        auto_publish: bool = False,
        rate_limited: bool = False,
    ) -> Enqueued:
        """Queues a course job and creates its (draft) course. `rate_limited`: within the
        owner's creation rate or CreationRateExceededError (the API's users; the local
        command line is not limited)."""
        new = NewJob(
            JobKind.COURSE,
            request,
            outline,
            owner=owner,
            priority=priority,
            auto_publish=auto_publish,
            dedup_key=dedup_key(request, outline),
        )
        return await self._enqueue(new, owner, rate_limited=rate_limited)

    async def enqueue_outline(
        self, request: OutlineRequest, owner: User, *, priority: int = 0
    ) -> Enqueued:
        """Queues drafting `request.candidates` outlines to choose from; always within the
        owner's creation rate for outline jobs (else CreationRateExceededError)."""
        key = dedup_key(request, None, kind=JobKind.OUTLINE)
        new = NewJob(JobKind.OUTLINE, request, owner=owner, priority=priority, dedup_key=key)
        return await self._enqueue(new, owner, rate_limited=True)

    async def _enqueue(self, new: NewJob, owner: User, *, rate_limited: bool) -> Enqueued:
        """The twin if one is active; else the new job, if the owner is within the rate."""
        assert new.dedup_key is not None
        try:
            async with self._database.transaction() as conn:
                if rate_limited:
                    await conn.execute(queries.lock_owner(owner.id))
                twin = await _active_twin(conn, owner, new.dedup_key)
                if twin is not None:
                    return twin
                now = self._clock.now()
                if rate_limited:
                    await check_creation_rate(conn, owner, new.kind, now, self.quotas)
                created = await insert_job(conn, new, now)
                await _notify_workers(conn)
        except sa.exc.IntegrityError:  # an unlocked twin was inserted beside this one
            async with self._database.connect() as conn:
                twin = await _active_twin(conn, owner, new.dedup_key)
            if twin is None:  # the twin finished in between: try once more
                return await self._enqueue(new, owner, rate_limited=rate_limited)
            return twin
        self._work_added()
        return Enqueued(created.job_id, created=True, course_id=created.course_id)

    async def claim(self, worker: str, limit: int) -> list[str]:
        """Up to `limit` jobs for an idle `worker` (see `claim_batch`)."""
        return (await self.claim_batch(worker, limit, idle=True)).job_ids

    async def claim_batch(self, worker: str, limit: int, *, idle: bool) -> Claim:
        """Up to `limit` jobs for `worker`, within the running caps (extra jobs wait).

        A job whose earlier run died with its worker may be a poison job (one that kills
        every worker running it): only an `idle` worker takes it, alone, so that it can
        take down no other job. Otherwise fresh jobs are claimed.
        """
        async with self._database.transaction() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(claim_queries.serialize_claims())
            now, until = self._clock.now(), self._lease_end()  # once the lock is ours
            params = claim_queries.claim_params(worker, limit, now, until, self.caps)
            taken = (await conn.execute(claim_queries.claim_next_jobs(idle=idle), params)).all()
        return Claim([row.id for row in taken], alone=any(row.lost_runs > 0 for row in taken))

    async def suspect_overdue(self) -> bool:
        """Whether a job lost before, which only an idle worker takes (alone), has been
        claimable for longer than the policy's patience, within its running caps. Under
        constant load no worker is ever idle: a worker told so stops claiming fresh jobs
        until it is idle, then takes it."""
        now = self._clock.now()
        claimable_before = now - self.policy.suspect_patience
        params = claim_queries.overdue_suspect_params(now, claimable_before, self.caps)
        async with self._database.connect() as conn:
            found = await conn.execute(claim_queries.find_overdue_suspect(), params)
            return found.first() is not None

    async def claim_job(self, job_id: str, worker: str) -> bool:
        params = {
            "job_id": job_id,
            "worker": worker,
            "now": self._clock.now(),
            "lease_until": self._lease_end(),
        }
        async with self._database.transaction() as conn:
            return (await conn.execute(claim_queries.claim_job(), params)).scalar() is not None

    async def claim_when_due(self, job_id: str, worker: str, delay_s: float) -> bool:
        """Waits out a retry's backoff, then takes the job again (the command line's own
        job); False when it is no longer pending (cancelled meanwhile, or taken)."""
        await self._clock.sleep(delay_s)
        return await self.claim_job(job_id, worker)

    async def heartbeat(self, worker: str, job_ids: list[str]) -> tuple[set[str], set[str]]:
        """Renews leases; returns (jobs still held, jobs whose cancellation was asked)."""
        if not job_ids:
            return set(), set()
        statement = queries.extend_leases(worker, job_ids, self._clock.now(), self._lease_end())
        async with self._database.transaction() as conn:
            rows = (await conn.execute(statement)).all()
        return {row.id for row in rows}, {row.id for row in rows if row.cancel_requested}

    async def complete(self, worker: str, job_ids: list[str]) -> list[str]:
        """Ends jobs `worker` finished as `completed`, all in one statement; only those it
        still holds the lease of (returned). For callers that finish jobs in batches and
        have nothing else to write (a course run ends its own job, with its events)."""
        if not job_ids:
            return []
        params = {"job_ids": job_ids, "worker": worker, "now": self._clock.now()}
        async with self._database.transaction() as conn:
            return list((await conn.execute(queries.complete_jobs(), params)).scalars())

    async def release(self, worker: str, job_ids: list[str]) -> list[str]:
        if not job_ids:
            return []
        statement = queries.release_leases(worker, job_ids, self._clock.now())
        async with self._database.transaction() as conn:
            released = list((await conn.execute(statement)).scalars())
            for job_id in released:
                message = "Worker stopped; the job is queued again"
                await self._log(conn, job_id, "warning", message)
            if released:
                await _notify_workers(conn)
        if released:
            self._work_added()
        return released

    async def rescue_expired(self, limit: int = 100) -> list[str]:
        """Jobs of dead workers: queued again after a backoff, or failed after max attempts."""
        now = self._clock.now()
        async with self._database.transaction() as conn:
            expired = (await conn.execute(queries.select_expired_leases(now, limit))).all()
            cancel_requested = set(
                (
                    await conn.execute(queries.cancel_requested_among([r[0] for r in expired]))
                ).scalars()
            )
            for job_id, attempts, lost_runs, worker in expired:
                if job_id in cancel_requested:
                    # Its worker died before it could stop: finish the cancellation here.
                    cancelled = JobStatus.CANCELLED
                    await conn.execute(queries.finish_lost_job(job_id, now, cancelled, None))
                    await insert_event(conn, job_id, "job_cancelled", {}, now)
                    continue
                if lost_runs + 1 >= self.policy.max_attempts:
                    error = (
                        f"gave up after {attempts} attempts: the worker running it stopped "
                        f"renewing its lease {lost_runs + 1} times (last: {worker})"
                    )
                    failed = JobStatus.FAILED
                    await conn.execute(queries.finish_lost_job(job_id, now, failed, error))
                    await insert_event(
                        conn, job_id, "job_failed", {"error": error, "unit": None}, now
                    )
                    continue
                delay = self.policy.backoff(attempts)
                not_before = now + timedelta(seconds=delay)
                await conn.execute(queries.requeue_lost_job(job_id, now, not_before))
                message = f"Lease of {worker} expired; queued again in {delay:.0f} s"
                await self._log(conn, job_id, "warning", message)
        return [row[0] for row in expired]

    async def end_failed_run(
        self, worker: str, job_id: str, unit: str, reason: str, *, permanent: bool
    ) -> FailedRun:
        """A run of `worker`'s in which `unit` gave up. A cause that may pass (transient
        errors, invalid answers) queues the job again after a backoff while it has
        attempts left (`max_runs`), to resume from its checkpoints; a permanent one (bad
        key, unknown model, a budget) or the last attempt fails it, naming the unit. A
        cancel asked meanwhile wins. Only while `worker` holds the lease."""
        now = self._clock.now()
        error = f"{unit}: {reason}"
        async with self._database.transaction() as conn:
            held = (await conn.execute(queries.lock_held_run(job_id, worker))).first()
            if held is None:
                return FailedRun("not_held")
            if held.cancel_requested:
                await conn.execute(queries.end_run(job_id, worker, now, JobStatus.CANCELLED))
                await insert_event(conn, job_id, "job_cancelled", {}, now)
                return FailedRun("cancelled")
            if permanent or held.attempts >= self.policy.max_runs:
                await conn.execute(
                    queries.end_run(job_id, worker, now, JobStatus.FAILED, error, unit)
                )
                why = "not retried" if permanent else f"attempt {held.attempts}, the last"
                await self._log(conn, job_id, "error", f"{error} ({why})", unit=unit)
                fields = {"error": error, "unit": unit}
                await insert_event(conn, job_id, "job_failed", fields, now)
                return FailedRun("failed")
            delay = self.policy.backoff(held.attempts)
            not_before = now + timedelta(seconds=delay)
            await conn.execute(
                queries.requeue_failed_run(job_id, worker, now, not_before, error, unit)
            )
            message = (
                f"unit {unit} gave up ({reason}); retrying the job in {delay:.3g} s "
                f"(attempt {held.attempts + 1} of {self.policy.max_runs})"
            )
            await self._log(conn, job_id, "warning", message, unit=unit)
        return FailedRun("retrying", delay)

    async def cancel(self, job_id: str) -> CancelOutcome:
        now = self._clock.now()
        async with self._database.transaction() as conn:
            if (await conn.execute(queries.cancel_pending_job(job_id, now))).rowcount:
                await insert_event(conn, job_id, "job_cancelled", {}, now)
                return "cancelled"
            if (await conn.execute(queries.request_cancel_of_running_job(job_id, now))).rowcount:
                await self._log(conn, job_id, "info", "Cancellation requested")
                return "cancelling"
        try:
            await self._store.get_job(job_id)
        except LookupError:
            return "not_found"
        return "finished"

    async def retry(self, job_id: str) -> bool:
        """A failed or cancelled job is queued again; False when it is neither, or when
        an identical job of the same owner is active (that one is the retry)."""
        now = self._clock.now()
        try:
            async with self._database.transaction() as conn:
                if not (await conn.execute(queries.requeue_finished_job(job_id, now))).rowcount:
                    return False
                await self._log(conn, job_id, "info", "Queued again; finished units are kept")
                await _notify_workers(conn)
        except sa.exc.IntegrityError:
            return False
        self._work_added()
        return True

    async def purge_old_events(self, older_than: timedelta) -> int:
        statement = queries.delete_old_events(self._clock.now() - older_than)
        async with self._database.transaction() as conn:
            return (await conn.execute(statement)).rowcount

    def _lease_end(self) -> datetime:
        return self._clock.now() + timedelta(seconds=self.policy.lease_s)

    async def _log(
        self, conn: AsyncConnection, job_id: str, level: str, message: str, **details: str
    ) -> None:
        fields = {"level": level, "message": message, "details": details}
        await insert_event(conn, job_id, "log", fields, self._clock.now())


async def _notify_workers(conn: AsyncConnection) -> None:
    """PostgreSQL: wakes listening workers; sent in the transaction that makes a job
    claimable, so it costs no round trip of its own and is delivered only at its commit
    (a rolled-back enqueue wakes nobody, and a woken worker finds the job)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(queries.notify_job_available())


async def _active_twin(conn: AsyncConnection, owner: User, key: str) -> Enqueued | None:
    row = (await conn.execute(queries.find_active_duplicate(owner.id, key))).first()
    return Enqueued(row.id, created=False, course_id=row.course_id) if row else None


def dedup_key(
    request: CourseRequest, outline: CourseOutline | None, kind: JobKind = JobKind.COURSE
) -> str:
    """Same owner + same kind, brief and outline = the same job."""
    document: dict[str, object] = {
        "request": request.model_dump(mode="json"),
        "outline": outline.model_dump(mode="json") if outline else None,
    }
    if kind != JobKind.COURSE:  # course jobs keep the keys they had before there were other kinds
        document["kind"] = kind
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
