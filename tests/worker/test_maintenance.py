"""A worker's maintenance sweep runs every COURSEFORGE_MAINTENANCE_INTERVAL_S."""

from __future__ import annotations

import asyncio

import pytest

from courseforge.clock import FakeClock
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from tests.worker.helpers import tiny

LEASE_S = 30.0


async def test_the_sweep_runs_at_the_configured_interval(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COURSEFORGE_MAINTENANCE_INTERVAL_S", "0.05")
    settings = Settings(database_url=database_url, llm_provider="fake", lease_s=LEASE_S)
    clock = FakeClock()
    async with open_runtime(settings, clock=clock) as runtime:
        owner = await runtime.accounts.local_user()
        job_id = (await runtime.queue.enqueue_course(tiny("Orphan"), owner)).job_id
        assert await runtime.queue.claim_job(job_id, "dead-worker")
        sweeps = 0
        sweep = runtime.queue.rescue_expired

        async def counted_sweep(limit: int = 100) -> list[str]:
            nonlocal sweeps
            sweeps += 1
            return await sweep(limit)

        runtime.queue.rescue_expired = counted_sweep  # type: ignore[method-assign]
        worker = runtime.worker()
        assert worker.config.maintenance_interval_s == 0.05
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:
            for _ in range(500):
                if sweeps:
                    break
                await asyncio.sleep(0.01)  # polling for the first sweep, bounded
            assert sweeps, "the worker never swept"
            clock.advance(LEASE_S + 1)  # the dead worker's lease runs out after that sweep

            for _ in range(500):  # 5 s: far less than the 15 s default interval
                if (await runtime.store.get_job(job_id)).status == "pending":
                    break
                await asyncio.sleep(0.01)  # polling for the next sweep's rescue, bounded
            job = await runtime.store.get_job(job_id)
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=30)
    assert job.status == "pending"
    assert job.attempts == 1
    assert sweeps >= 2
