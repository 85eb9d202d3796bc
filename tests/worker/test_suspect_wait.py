"""A job lost before runs only alone on an idle worker; under a constant stream of fresh
jobs (the worker is never idle) it is still taken in the end, alone."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from courseforge.clock import FakeClock
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.tables import jobs
from courseforge.worker.worker import Worker, WorkerConfig
from tests.worker.helpers import tiny

LEASE_S = 30.0
STEP_S = LEASE_S / 4  # queue time that passes with each fresh job
MAX_FRESH = 200  # the suspect must have run long before this many fresh jobs


@dataclass(frozen=True)
class Start:
    job_id: str
    beside: frozenset[str]  # the jobs running when it started
    at: datetime  # by the queue's clock


class Stream:
    """No-op jobs for a worker of concurrency 2 that keep it busy: each fresh job queues
    the next, and ends only once another job has started beside it, so the worker always
    has a job running when it claims; unless it drains (takes no new job until idle).
    `log` holds a Start when a job starts and its id when it ends."""

    def __init__(self, runtime: Runtime, clock: FakeClock, suspect: str) -> None:
        self.runtime, self.clock, self.suspect = runtime, clock, suspect
        self.log: list[Start | str] = []
        self.running: set[str] = set()
        self.starts = 0
        self.over = asyncio.Event()  # a fresh job ran after the suspect, or MAX_FRESH did
        self.worker: Worker | None = None

    async def run_job(self, job_id: str) -> None:
        self.log.append(Start(job_id, frozenset(self.running), self.clock.now()))
        self.running.add(job_id)
        self.starts += 1
        seen = self.starts
        try:
            if job_id != self.suspect:
                await self._fresh(seen)
        finally:
            self.running.discard(job_id)
            self.log.append(job_id)
            await self.runtime.store.mark_finished(job_id, "completed")

    async def _fresh(self, seen: int) -> None:
        if self.suspect_ran() or seen >= MAX_FRESH:
            self.over.set()
        self.clock.advance(STEP_S)
        owner = await self.runtime.accounts.local_user()
        await self.runtime.queue.enqueue_course(tiny(f"Fresh {seen + 2}"), owner)
        # Polling: a worker's draining has no event to wait on (bounded by MAX_FRESH).
        while self.starts == seen and not self._draining():  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    def _draining(self) -> bool:
        return self.worker is not None and self.worker.draining

    def suspect_ran(self) -> bool:
        return self.suspect in self.log

    def starts_log(self) -> list[Start]:
        return [entry for entry in self.log if isinstance(entry, Start)]


async def lost_job(runtime: Runtime, clock: FakeClock, claimable_at: datetime) -> str:
    """A job whose worker died, queued again: claimable from `claimable_at`."""
    owner = await runtime.accounts.local_user()
    job_id = (await runtime.queue.enqueue_course(tiny("Lost once"), owner)).job_id
    assert await runtime.queue.claim_job(job_id, "dead-worker")
    clock.advance(LEASE_S + 1)
    assert await runtime.queue.rescue_expired() == [job_id]
    async with runtime.database.transaction() as conn:
        update = jobs.update().where(jobs.c.id == job_id).values(scheduled_for=claimable_at)
        await conn.execute(update)
    return job_id


async def test_a_suspect_job_under_constant_load_is_taken_alone_in_the_end(
    database_url: str,
) -> None:
    clock = FakeClock()
    settings = Settings(database_url=database_url, llm_provider="fake", lease_s=LEASE_S)
    async with open_runtime(settings, clock=clock) as runtime:
        # Claimable only once the worker is busy: an idle worker would take it at once.
        claimable_at = clock.now() + timedelta(seconds=LEASE_S * 3)
        suspect = await lost_job(runtime, clock, claimable_at)
        overdue_at = claimable_at + runtime.queue.policy.suspect_patience
        owner = await runtime.accounts.local_user()
        for index in range(2):
            await runtime.queue.enqueue_course(tiny(f"Fresh {index}"), owner)
        stream = Stream(runtime, clock, suspect)
        config = WorkerConfig(
            concurrency=2, poll_interval_s=0.02, maintenance_interval_s=0.01, shutdown_grace_s=0
        )
        worker = Worker(runtime.queue, runtime.store, stream.run_job, config, "busy-worker")
        stream.worker = worker
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:
            await asyncio.wait_for(stream.over.wait(), timeout=60)
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=30)
        job = await runtime.store.get_job(suspect)

    assert stream.suspect_ran(), f"{stream.starts} fresh jobs ran, never the suspect"
    starts = stream.starts_log()
    [ran] = [start for start in starts if start.job_id == suspect]
    assert ran.beside == frozenset()  # nothing ran beside it when it started
    during = stream.log[stream.log.index(ran) : stream.log.index(suspect)]
    assert during == [ran]  # nor while it ran
    assert (job.status, job.attempts) == ("completed", 2)
    # Until it was overdue, a constant stream: every fresh job started beside another
    # (but the first), so the worker was never idle; and it did not take the suspect.
    before = [start for start in starts if start.at <= overdue_at]
    assert len(before) > 2 * LEASE_S / STEP_S
    assert all(start.beside for start in before[1:])
    assert ran.at >= overdue_at
    assert starts[-1].at > ran.at  # and the worker took fresh jobs again after it
