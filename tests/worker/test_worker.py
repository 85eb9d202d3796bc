"""Workers: run queued jobs, honour cancellation, never rescue a healthy job, survive kills."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa

from courseforge.domain.events import JobEvent
from courseforge.llm.function_provider import FunctionProvider, valid_answer
from courseforge.llm.port import CompletionRequest, LLMProvider
from courseforge.pipeline.events import RecordingSink
from courseforge.pipeline.runner import LeaseLostError
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from tests.worker.helpers import (
    job_statuses,
    query,
    start_worker_process,
    tiny,
    wait_for,
    worker_loop,
)


def always_valid(request: CompletionRequest, _call: int) -> str:
    return valid_answer(request)


@asynccontextmanager
async def running_worker(
    database_url: str, provider: LLMProvider, **settings: object
) -> AsyncIterator[Runtime]:
    config = Settings(
        database_url=database_url,
        llm_provider="fake",
        poll_interval_s=0.02,
        **settings,  # type: ignore[arg-type]
    )
    async with open_runtime(config, provider=provider) as runtime, worker_loop(runtime):
        yield runtime


async def statuses(runtime: Runtime, job_ids: list[str]) -> list[str]:
    return [(await runtime.store.get_job(job_id)).status for job_id in job_ids]


async def test_a_worker_runs_queued_jobs_to_completion(database_url: str) -> None:
    provider = FunctionProvider(always_valid)
    async with running_worker(database_url, provider, worker_concurrency=2) as runtime:
        owner = await runtime.accounts.local_user()
        job_ids = [
            (
                await runtime.queue.enqueue_course(
                    tiny(f"Course number {i}"), owner, auto_publish=i == 0
                )
            ).job_id
            for i in range(3)
        ]
        done: list[str] = []

        async def all_completed() -> bool:
            done[:] = await statuses(runtime, job_ids)
            return done == ["completed"] * 3

        deadline = asyncio.get_running_loop().time() + 30
        while not await all_completed():
            assert asyncio.get_running_loop().time() < deadline, done
            await asyncio.sleep(0.02)  # polling the jobs' state, bounded
        jobs = [await runtime.store.get_job(job_id) for job_id in job_ids]
        published = [await runtime.store.course_status(job.course_id or "") for job in jobs]
    assert all(job.course_id for job in jobs)
    assert all(job.finished_at is not None for job in jobs)
    assert published == ["published", "draft", "draft"]  # only the first asked for it


async def test_cancelling_a_running_job_stops_it_and_retry_resumes(database_url: str) -> None:
    lessons_asked = asyncio.Event()
    release = asyncio.Event()

    class HoldsLessons(FunctionProvider):
        async def complete(self, request: CompletionRequest):  # type: ignore[no-untyped-def]
            if request.metadata["unit"].startswith("lesson:"):
                lessons_asked.set()
                await release.wait()
            return await super().complete(request)

    provider = HoldsLessons(always_valid)
    async with running_worker(database_url, provider, lease_s=0.3) as runtime:
        owner = await runtime.accounts.local_user()
        job_id = (await runtime.queue.enqueue_course(tiny("Cancel me"), owner)).job_id
        await asyncio.wait_for(lessons_asked.wait(), timeout=30)

        assert await runtime.queue.cancel(job_id) == "cancelling"
        for _ in range(3000):
            if (await runtime.store.get_job(job_id)).status == "cancelled":
                break
            await asyncio.sleep(0.01)  # the heartbeat (every lease/3) delivers the request
        job = await runtime.store.get_job(job_id)
        assert job.status == "cancelled"
        assert set(await runtime.store.load_units(job_id)) == {"outline"}
        events = [event.type for _, event in await runtime.store.list_events(job_id)]
        assert events[-1] == "job_cancelled"

        release.set()
        asked_before = len(provider.requests)
        assert await runtime.queue.retry(job_id)
        for _ in range(3000):
            if (await runtime.store.get_job(job_id)).status == "completed":
                break
            await asyncio.sleep(0.01)  # polling the retried job's state, bounded
        assert (await runtime.store.get_job(job_id)).status == "completed"
    assert "outline" not in provider.units_requested()[asked_before:]


async def test_a_long_healthy_job_is_never_rescued(database_url: str) -> None:
    """Runs for many lease lengths while a second worker sweeps for expired leases."""

    class Slow(FunctionProvider):
        async def complete(self, request: CompletionRequest):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.8)  # a slow model: each call outlasts the lease
            return await super().complete(request)

    provider = Slow(always_valid)
    async with (
        # A lease long enough that a heartbeat held up a few hundred ms on a loaded machine
        # (SQLite: one writer at a time) still lands before the run's own lease timer
        # (worker/leases.py, 90 % of the lease) would stop it.
        running_worker(database_url, provider, lease_s=1.2) as runtime,
        running_worker(database_url, FunctionProvider(always_valid), lease_s=1.2) as sweeper,
    ):
        sweeper_maintenance = sweeper.queue.rescue_expired
        owner = await runtime.accounts.local_user()
        job_id = (await runtime.queue.enqueue_course(tiny("A slow course"), owner)).job_id
        for _ in range(6000):
            await sweeper_maintenance()
            if (await runtime.store.get_job(job_id)).status == "completed":
                break
            await asyncio.sleep(0.01)  # sweeping for expired leases while the job runs
        job = await runtime.store.get_job(job_id)
    assert job.status == "completed"
    assert job.attempts == 1
    messages = [e.fields.get("message", "") for _, e in await _events(database_url, job_id)]
    assert not any("expired" in str(message) for message in messages)


async def _events(database_url: str, job_id: str) -> list[tuple[int, JobEvent]]:
    async with open_runtime(Settings(database_url=database_url, llm_provider="fake")) as rt:
        return await rt.store.list_events(job_id)


@pytest.mark.timeout(120)
def test_a_killed_worker_loses_only_its_units_in_flight(database_url: str) -> None:
    async def enqueue() -> list[str]:
        async with open_runtime(Settings(database_url=database_url, llm_provider="fake")) as rt:
            owner = await rt.accounts.local_user()
            return [
                (await rt.queue.enqueue_course(tiny(f"Crash course {i}"), owner)).job_id
                for i in range(3)
            ]

    job_ids = asyncio.run(enqueue())
    victim = start_worker_process(
        database_url,
        COURSEFORGE_FAKE_LATENCY_MS="300",
        COURSEFORGE_LEASE_S="1",
        COURSEFORGE_WORKER_CONCURRENCY="3",
    )
    try:
        wait_for(
            lambda: len(query(database_url, "SELECT key FROM job_units")) >= 3,
            what="some units to finish",
        )
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        victim.kill()
    done_before = {
        (row.job_id, row.key) for row in query(database_url, "SELECT job_id, key FROM job_units")
    }
    at_kill = job_statuses(database_url)
    assert set(at_kill.values()) <= {"running", "pending"}

    provider = FunctionProvider(always_valid)

    async def finish() -> list[str]:
        async with running_worker(
            database_url, provider, lease_s=5.0, retry_backoff_s=0.1, worker_concurrency=3
        ) as runtime:
            for _ in range(6000):
                await runtime.queue.rescue_expired()
                if await statuses(runtime, job_ids) == ["completed"] * 3:
                    break
                await asyncio.sleep(0.01)  # waiting for the dead worker's leases to expire
            return await statuses(runtime, job_ids)

    assert asyncio.run(finish()) == ["completed"] * 3
    asked_again = {
        (request_job, unit)
        for request_job, unit in _asked(provider)
        if (request_job, unit) in done_before
    }
    assert not asked_again
    attempts = {
        row.id: row.attempts for row in query(database_url, "SELECT id, attempts FROM jobs")
    }
    # The victim's jobs were claimed again (a second attempt); the others once.
    assert attempts == {job: 2 if at_kill[job] == "running" else 1 for job in job_ids}


def _asked(provider: FunctionProvider) -> set[tuple[str, str]]:
    """(job, unit) of each request the provider received."""
    return {(request.metadata["job_id"], request.metadata["unit"]) for request in provider.requests}


async def test_a_run_whose_job_was_taken_over_does_not_write_its_ending(
    database_url: str,
) -> None:
    runtimes: list[Runtime] = []

    class TakenOverMidRun(FunctionProvider):
        async def complete(self, request: CompletionRequest):  # type: ignore[no-untyped-def]
            if request.metadata["unit"] == "metadata":  # meanwhile another worker took it
                async with runtimes[0].database.transaction() as conn:
                    await conn.execute(
                        sa.text("UPDATE jobs SET lease_owner = 'w2' WHERE id = :id"),
                        {"id": request.metadata["job_id"]},
                    )
            return await super().complete(request)

    settings = Settings(database_url=database_url, llm_provider="fake")
    async with open_runtime(settings, provider=TakenOverMidRun(always_valid)) as runtime:
        runtimes.append(runtime)
        owner = await runtime.accounts.local_user()
        job_id = (await runtime.queue.enqueue_course(tiny("Taken over"), owner)).job_id
        assert await runtime.queue.claim_job(job_id, "w1")

        with pytest.raises(LeaseLostError):
            await runtime.pipeline(RecordingSink(), holder="w1").run(job_id)

        job = await runtime.store.get_job(job_id)
        events = [event.type for _, event in await runtime.store.list_events(job_id)]
    assert job.status == "running"
    assert "job_completed" not in events
