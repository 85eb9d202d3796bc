"""A worker outlives a database outage: a run cut short is handed back and finishes,
jobs queued meanwhile run, and a failing heartbeat stops a run only before its lease
could end. PostgreSQL behind a proxy that drops every connection and refuses new ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from structlog.testing import capture_logs

from courseforge.llm.fake import FakeProvider
from courseforge.runtime import DatabaseRuntime, Runtime, open_database_runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.outages import Backoff, BackoffPolicy
from courseforge.worker.worker import Worker
from tests.fakes.tcp_proxy import TcpProxy, proxy_to
from tests.worker.helpers import tiny

OUTAGE_S = 1.0  # how long the database stays away once a run has met the outage


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float, what: str) -> None:
    """Polls `check` (a condition in this process or in the database) for up to `within` s."""
    try:
        async with asyncio.timeout(within):
            while not await _value(check()):  # noqa: ASYNC110 (polling, not waiting for time)
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def _value(result: bool | Awaitable[bool]) -> bool:
    return result if isinstance(result, bool) else await result


async def job_status(direct: DatabaseRuntime, job_id: str) -> str:
    return (await direct.store.get_job(job_id)).status


async def has_checkpoints(direct: DatabaseRuntime, job_id: str) -> bool:
    return bool(await direct.store.load_units(job_id))


async def completed(direct: DatabaseRuntime, job_ids: list[str]) -> bool:
    return all([await job_status(direct, job_id) == "completed" for job_id in job_ids])


@asynccontextmanager
async def worker_behind(
    proxy: TcpProxy, postgres_url: str, latency_ms: float, **settings: object
) -> AsyncIterator[tuple[Worker, Runtime, DatabaseRuntime]]:
    """A running worker that reaches the database through `proxy`, and a runtime that
    reaches it directly (to queue and look while the worker's database is away)."""
    config = Settings(
        database_url=proxy.url(postgres_url),
        llm_provider="fake",
        poll_interval_s=0.05,
        maintenance_interval_s=0.2,
        retry_backoff_s=0.1,
        db_retry_max_s=0.2,
        shutdown_grace_s=0.1,
        **settings,  # type: ignore[arg-type]
    )
    stop = asyncio.Event()
    provider = FakeProvider(latency_ms=latency_ms)
    async with (
        open_runtime(config, provider=provider) as runtime,
        open_database_runtime(Settings(database_url=postgres_url)) as direct,
    ):
        worker = runtime.worker()
        task = asyncio.create_task(worker.run(stop))
        try:
            yield worker, runtime, direct
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)


async def test_a_run_cut_short_by_an_outage_finishes_and_new_jobs_run_after(
    postgres_url: str,
) -> None:
    with proxy_to(postgres_url) as proxy:
        async with worker_behind(proxy, postgres_url, latency_ms=300, lease_s=5) as (
            worker,
            _runtime,
            direct,
        ):
            owner = await direct.accounts.local_user()
            first = (await direct.queue.enqueue_course(tiny("Outage course"), owner)).job_id
            await eventually(lambda: first in worker.running_jobs, 10, "the first claim")
            await eventually(
                lambda: has_checkpoints(direct, first), 10, "the run's first checkpoint"
            )

            with proxy.outage():
                await eventually(lambda: not worker.running_jobs, 10, "the run to meet the outage")
                second = (await direct.queue.enqueue_course(tiny("Queued meanwhile"), owner)).job_id
                await asyncio.sleep(OUTAGE_S)  # the outage lasts: claims and heartbeats fail

            await eventually(lambda: completed(direct, [first, second]), 30, "both jobs' ends")
            assert worker.alive()
            job = await direct.store.get_job(first)
            assert job.attempts == 1, "the outage was handed back, not counted as a lost run"


async def test_a_failing_heartbeat_stops_a_run_only_before_its_lease_could_end(
    postgres_url: str,
) -> None:
    lease_s = 3.0  # a heartbeat every second
    with proxy_to(postgres_url) as proxy:
        # Each model call takes a minute: the run writes nothing while the database is away.
        async with worker_behind(proxy, postgres_url, latency_ms=60_000, lease_s=lease_s) as (
            worker,
            _runtime,
            direct,
        ):
            owner = await direct.accounts.local_user()
            job_id = (await direct.queue.enqueue_course(tiny("Slow course"), owner)).job_id
            await eventually(lambda: job_id in worker.running_jobs, 10, "the claim")

            cut_at = time.monotonic()
            with proxy.outage():
                await asyncio.sleep(1.2)  # longer than a heartbeat's period, shorter than a lease
            await eventually(lambda: time.monotonic() > cut_at + lease_s + 0.2, 10, "a lease")
            assert job_id in worker.running_jobs, "renewed after the outage: the run goes on"

            with proxy.outage():
                cut_at = time.monotonic()
                await eventually(lambda: not worker.running_jobs, lease_s + 2, "the run to stop")
                stopped_after = time.monotonic() - cut_at
            assert 1.0 < stopped_after < lease_s, stopped_after
            assert await job_status(direct, job_id) in ("running", "pending")


def test_an_outage_is_logged_when_it_starts_and_ends_with_growing_jittered_waits() -> None:
    with capture_logs() as logs:
        backoff = Backoff("claim", BackoffPolicy(initial_s=0.1, max_s=1.0))
        waits = [backoff.failed(OSError("connection refused")) for _ in range(10)]
        backoff.succeeded()
    assert 0.05 <= waits[0] <= 0.1
    assert all(0.5 <= wait <= 1.0 for wait in waits[5:]), waits
    assert len(set(waits)) == len(waits), "jittered"
    warnings = [entry["event"] for entry in logs if entry["log_level"] == "warning"]
    assert warnings == ["loop_failing", "loop_recovered"]
