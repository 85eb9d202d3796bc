"""A poison job (one whose unit kills its worker process) fails after its attempts run out,
while the other jobs of the queue still complete."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.job_store import JobRecord
from tests.worker.helpers import start_worker_process, tiny

CRASH_EXIT_CODE = 70
MAX_WORKER_STARTS = 8
DEADLINE_S = 90.0
FINISHED = {"completed", "failed", "cancelled"}
WORKER_ENV = {
    "COURSEFORGE_FAKE_CRASH_ON": "POISON",
    "COURSEFORGE_LEASE_S": "0.6",
    "COURSEFORGE_RETRY_BACKOFF_S": "0.1",
    "COURSEFORGE_WORKER_CONCURRENCY": "4",
}


async def _jobs(runtime: Runtime, job_ids: list[str]) -> dict[str, JobRecord]:
    return {job_id: await runtime.store.get_job(job_id) for job_id in job_ids}


def _summary(jobs: dict[str, JobRecord]) -> dict[str, tuple[str, int, str | None]]:
    return {job_id: (job.status, job.attempts, job.error) for job_id, job in jobs.items()}


async def _rescue_leases_of_dead_worker(
    runtime: Runtime, job_ids: list[str], deadline: float
) -> None:
    """No worker is alive: sweep until the dead one's leases have expired and been handled."""
    loop = asyncio.get_running_loop()
    while True:
        await runtime.queue.rescue_expired()
        jobs = await _jobs(runtime, job_ids)
        if not any(job.status == "running" for job in jobs.values()):
            return
        assert loop.time() < deadline, _summary(jobs)
        await asyncio.sleep(0.05)  # polling for the dead worker's leases to expire, bounded


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@pytest.mark.timeout(150)
async def test_a_poison_job_fails_after_its_attempts_and_the_others_complete(
    database_url: str,
) -> None:
    # The sweeps run here, so this process uses the workers' short backoff too.
    settings = Settings(database_url=database_url, llm_provider="fake", retry_backoff_s=0.1)
    workers: list[subprocess.Popen[str]] = []
    loop = asyncio.get_running_loop()
    async with open_runtime(settings) as runtime:
        owner = await runtime.accounts.local_user()
        poison = (await runtime.queue.enqueue_course(tiny("POISON pill course"), owner)).job_id
        normal = [
            (await runtime.queue.enqueue_course(tiny(f"Healthy course {i}"), owner)).job_id
            for i in range(3)
        ]
        job_ids = [poison, *normal]
        try:
            deadline = loop.time() + DEADLINE_S
            while True:
                jobs = await _jobs(runtime, job_ids)
                if all(job.status in FINISHED for job in jobs.values()):
                    break
                assert loop.time() < deadline, _summary(jobs)
                if not workers or workers[-1].poll() is not None:
                    assert len(workers) < MAX_WORKER_STARTS, (
                        [w.returncode for w in workers],
                        _summary(jobs),
                    )
                    if workers:
                        await _rescue_leases_of_dead_worker(runtime, job_ids, deadline)
                    workers.append(start_worker_process(database_url, **WORKER_ENV))
                    continue
                await asyncio.sleep(0.05)  # polling the jobs' state while a worker runs, bounded
        finally:
            for process in workers:
                _stop(process)
        jobs = await _jobs(runtime, job_ids)

    failed = jobs[poison]
    assert failed.status == "failed", _summary(jobs)
    assert failed.attempts == 3
    assert failed.error is not None
    assert "3 attempts" in failed.error
    # The jobs that shared a worker with the poison are not charged with its crashes.
    assert [jobs[job_id].status for job_id in normal] == ["completed"] * 3, _summary(jobs)
    assert not any(job.status == "running" for job in jobs.values())
    assert CRASH_EXIT_CODE in [process.returncode for process in workers]
