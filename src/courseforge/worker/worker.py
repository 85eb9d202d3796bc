"""A worker runs up to `concurrency` jobs at once, each under a lease it keeps renewing.

Its loop claims jobs while it has room, renews leases (the heartbeat, which also
delivers cancellation requests), rescues the jobs of dead workers and deletes old
events. On shutdown it stops claiming, gives running jobs a grace period, then hands
the rest back to the queue so another worker can take them at once.

Every loop outlives the database: an error is logged once per outage and the loop
tries again with backoff until the database answers. A heartbeat that fails stops no
job at once; a run stops when its lease may be over (`leases.py`). A run that dies
because the database went away is handed back when it returns (the attempt does not
count: the job did nothing wrong), and resumes from its checkpoints.

A job lost before with its worker may be a poison job: only an idle worker takes it,
and runs it alone. So that it cannot wait forever under constant load (when no worker
is ever idle), a worker whose sweep finds one waiting too long drains: it takes no
fresh job until it is idle, then takes that one.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from courseforge.logs import get_logger
from courseforge.pipeline.runner import CancelRequestedError, JobFailedError, LeaseLostError
from courseforge.queue.job_queue import JobQueue
from courseforge.store.job_store import JobStore
from courseforge.store.outages import (
    Backoff,
    BackoffPolicy,
    describe,
    is_database_unreachable,
    repeat_every,
)
from courseforge.worker.leases import LeaseDeadlines

RunJob = Callable[[str], Awaitable[object]]
# Calls its first argument whenever a job may be claimable, until the event is set.
Listen = Callable[[Callable[[], None], asyncio.Event], Coroutine[object, object, None]]
StopReason = Literal["cancel_requested", "lease_lost", "shutdown", "interrupted"]
_log = get_logger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 4
    poll_interval_s: float = 1.0
    maintenance_interval_s: float = 15.0
    retention: timedelta = timedelta(hours=24)
    shutdown_grace_s: float = 10.0
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    # The claim loop goes round at least every poll (or backoff while the database is
    # away); one that has not for this long is stuck, and the worker is not alive.
    stall_s: float = 60.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        store: JobStore,
        run_job: RunJob,
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
        listen: Listen | None = None,
    ) -> None:
        self.id = worker_id or new_worker_id()
        self._queue = queue
        self._store = store
        self._run_job = run_job
        self.config = config or WorkerConfig()
        self._running: dict[str, asyncio.Task[object]] = {}
        self._stop_reasons: dict[str, StopReason] = {}
        self._deadlines = LeaseDeadlines(queue.policy.lease_s, self._lease_lapsed)
        self._hand_back: set[str] = set()  # runs the database cut short: release on return
        self._wake = asyncio.Event()
        self._listen = listen
        self._alone: str | None = None
        self._draining = False  # a job lost before waits too long: become idle to take it
        self._turned_at: float | None = None  # when the claim loop last went round
        self._background: list[asyncio.Task[None]] = []

    @property
    def draining(self) -> bool:
        """Whether this worker takes no fresh jobs until it is idle (see the module)."""
        return self._draining

    @property
    def running_jobs(self) -> frozenset[str]:
        return frozenset(self._running)

    def alive(self) -> bool:
        """Whether `run` is under way and its loops turn: the claim loop went round within
        `config.stall_s`, and none of the background loops has ended."""
        if self._turned_at is None or any(task.done() for task in self._background):
            return False
        return time.monotonic() - self._turned_at < self.config.stall_s

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        quit_background = asyncio.Event()
        loops = [self._heartbeats(quit_background), self._maintenance(quit_background)]
        if self._listen is not None:
            loops.append(self._listen(self.wake, quit_background))
        self._background = [asyncio.create_task(loop) for loop in loops]
        backoff = Backoff("claim", self.config.backoff, worker=self.id)
        try:
            while not stop.is_set():
                self._turned_at = time.monotonic()
                try:
                    await self._hand_back_cut_short()
                    await self._claim_while_room()
                except Exception as error:  # the database is away (or a bug): try again
                    await backoff.wait_after(error, stop)
                    continue
                backoff.succeeded()
                await self._idle(stop)
        finally:
            self._turned_at = None
            await self._shut_down()
            # Asked to end, not cancelled: a cancelled query would strand its connection.
            quit_background.set()
            await asyncio.gather(*self._background, return_exceptions=True)

    async def run_claimed(self, job_id: str) -> None:
        """Runs one job this process has already claimed (the command line's own job).

        A cancellation from outside (Ctrl-C) marks the job cancelled, and resumable.
        """
        current = asyncio.current_task()
        assert current is not None
        self._running[job_id] = current
        self._deadlines.renewed([job_id], asyncio.get_running_loop().time())
        quit_heartbeats = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeats(quit_heartbeats))
        try:
            retry_in = await self._execute(job_id, unexplained="interrupted")
            # Its unit gave up and the job is queued again: wait out the backoff and run it
            # again here (unless it was cancelled or taken meanwhile).
            while retry_in is not None and await self._claim_again(job_id, retry_in):
                self._running[job_id] = current
                self._deadlines.renewed([job_id], asyncio.get_running_loop().time())
                retry_in = await self._execute(job_id, unexplained="interrupted")
        finally:
            quit_heartbeats.set()
            await asyncio.shield(asyncio.gather(heartbeat, return_exceptions=True))

    async def _claim_while_room(self) -> None:
        room = self.config.concurrency - len(self._running)
        if room <= 0 or self._alone in self._running:
            return  # full, or running a job that may be poison, which runs alone
        if self._draining and self._running:
            self._draining = await self._queue.suspect_overdue()  # unless another took it
            if self._draining:
                return
        idle = not self._running
        sent_at = asyncio.get_running_loop().time()
        claim = await self._queue.claim_batch(self.id, room, idle=idle)
        if idle:
            self._draining = False  # drained: this claim took the waiting job, if still there
        self._alone = claim.job_ids[0] if claim.alone else None
        self._deadlines.renewed(claim.job_ids, sent_at)
        for job_id in claim.job_ids:
            self._running[job_id] = asyncio.create_task(self._execute(job_id, "shutdown"))
            self._running[job_id].add_done_callback(lambda _task: self._wake.set())

    async def _hand_back_cut_short(self) -> None:
        """Runs that died with the database go back to the queue now that it answers."""
        if self._hand_back:
            released = await self._queue.release(self.id, sorted(self._hand_back))
            self._hand_back.clear()
            if released:
                _log.info("jobs_handed_back", worker=self.id, jobs=released)

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
        await asyncio.wait(
            waiters, timeout=self.config.poll_interval_s, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()
        self._wake.clear()

    async def _claim_again(self, job_id: str, delay_s: float) -> bool:
        try:
            return await self._queue.claim_when_due(job_id, self.id, delay_s)
        except asyncio.CancelledError:  # Ctrl-C while it waits: cancelled, and resumable
            await asyncio.shield(self._queue.cancel(job_id))
            raise

    async def _execute(self, job_id: str, unexplained: StopReason) -> float | None:
        """Runs the job; `unexplained` is what a cancellation nobody here asked for means.
        Returns in how many seconds the job's automatic retry is due, if it has one."""
        log = _log.bind(job_id=job_id, worker=self.id)
        try:
            await self._run_job(job_id)
        except asyncio.CancelledError:
            reason = self._stop_reasons.pop(job_id, unexplained)
            log.info("job_stopped", reason=reason)
            await asyncio.shield(self._after_stop(job_id, reason))
            if reason == "interrupted":
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()  # handled here: the task goes on (or ends) normally
        except CancelRequestedError:
            log.info("job_stopped", reason="cancel_requested")
            await asyncio.shield(self._after_stop(job_id, "cancel_requested"))
        except JobFailedError as failure:
            log.warning("job_failed", unit=failure.unit, reason=failure.reason)
            return await asyncio.shield(self._end_failed_run(job_id, failure))
        except LeaseLostError:
            log.warning("job_taken_over", note="another worker holds it now; its ending is theirs")
        except Exception as error:
            if not is_database_unreachable(error):  # a bug: the lease expires, a sweep rescues
                log.exception("job_crashed", error=repr(error))
            else:
                log.warning("job_cut_short", error=describe(error), note="handed back later")
                self._hand_back.add(job_id)
        finally:
            if self._running.get(job_id) is asyncio.current_task():  # not a new run of it
                self._running.pop(job_id, None)
                self._stop_reasons.pop(job_id, None)
                self._deadlines.forget(job_id)
        return None

    async def _end_failed_run(self, job_id: str, failure: JobFailedError) -> float | None:
        """The queue retries the job after a backoff, or fails it (see end_failed_run)."""
        try:
            ending = await self._queue.end_failed_run(
                self.id, job_id, failure.unit, failure.reason, permanent=failure.permanent
            )
        except Exception as error:  # the database is away: the lease expires, a sweep rescues
            _log.warning("job_failure_unrecorded", job_id=job_id, error=describe(error))
            return None
        return ending.retry_in_s

    async def _after_stop(self, job_id: str, reason: StopReason) -> None:
        try:
            if reason in ("cancel_requested", "interrupted"):
                await self._store.mark_cancelled(job_id, holder=self.id)
            elif reason == "shutdown":
                await self._queue.release(self.id, [job_id])
            # lease_lost: another worker owns the job now (or will); leave it alone.
        except Exception as error:  # the database is away: the lease expires, a sweep rescues
            _log.warning("job_stop_unrecorded", job_id=job_id, reason=reason, error=describe(error))

    async def _heartbeats(self, quit: asyncio.Event) -> None:
        # A failed renewal stops no run: runs go on until their leases may be over.
        backoff = Backoff("heartbeat", self.config.backoff, worker=self.id)
        await repeat_every(self._queue.policy.lease_s / 3, self._renew_leases, backoff, quit)

    async def _renew_leases(self) -> None:
        sent_at = asyncio.get_running_loop().time()
        # The runs asked about: a job whose unit gave up may be queued again and claimed
        # anew meanwhile, and what this answer says is not about that new run.
        asked = dict(self._running)
        held, cancel = await self._queue.heartbeat(self.id, list(asked))
        self._deadlines.renewed(held.intersection(self._running), sent_at)
        for job_id, task in asked.items():
            if self._running.get(job_id) is not task:
                continue
            if job_id not in held:
                self._stop(job_id, "lease_lost")
            elif job_id in cancel:
                self._stop(job_id, "cancel_requested")

    def _lease_lapsed(self, job_id: str) -> None:
        _log.warning("lease_lapsed", job_id=job_id, worker=self.id, note="stopping the run")
        self._stop(job_id, "lease_lost")

    def _stop(self, job_id: str, reason: StopReason) -> None:
        task = self._running.get(job_id)
        if task is not None and not task.done():
            self._stop_reasons[job_id] = reason
            task.cancel()

    async def _maintenance(self, quit: asyncio.Event) -> None:
        backoff = Backoff("maintenance", self.config.backoff, worker=self.id)
        interval_s = self.config.maintenance_interval_s
        await repeat_every(interval_s, self._sweep, backoff, quit, first_wait_s=0.0)  # at once

    async def _sweep(self) -> None:
        rescued = await self._queue.rescue_expired()
        purged = await self._queue.purge_old_events(self.config.retention)
        if rescued or purged:
            _log.info("maintenance", rescued=len(rescued), purged_events=purged)
        if self._running and not self._draining:
            self._draining = await self._queue.suspect_overdue()
            if self._draining:
                _log.info("draining", worker=self.id, why="a job lost before waits")

    async def _shut_down(self) -> None:
        if not self._running:
            return
        running = list(self._running.values())
        _, still = await asyncio.wait(running, timeout=self.config.shutdown_grace_s)
        for job_id, task in list(self._running.items()):
            if task in still:
                self._stop(job_id, "shutdown")
        await asyncio.gather(*still, return_exceptions=True)
