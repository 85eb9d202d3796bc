"""The API outlives a database outage: event streams keep delivering once it is back
(the LISTEN reader reconnects, the in-process worker resumes the job), and /readyz says
503 while the database is away or the in-process worker's loop is stuck."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import psycopg
import pytest
from httpx_sse import aconnect_sse

from courseforge.llm.fake import FakeProvider
from courseforge.queue.wakeup import conninfo
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from tests.api.conftest import LiveApi, ServerThread, add_people, api_settings
from tests.api.helpers import Received
from tests.fakes.tcp_proxy import TcpProxy, proxy_to
from tests.worker.helpers import tiny, worker_loop

OUTAGE_S = 1.0  # how long the database stays away once the stream is under way
FAST_RETRIES = {"db_retry_max_s": 0.2, "lease_s": 5.0, "maintenance_interval_s": 0.2}


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    try:
        async with asyncio.timeout(within):
            while not await check():  # noqa: ASYNC110 (polling a condition, bounded)
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@asynccontextmanager
async def api_behind(
    proxy: TcpProxy, postgres_url: str, *, with_worker: bool, **overrides: object
) -> AsyncIterator[LiveApi]:
    """An API server that reaches PostgreSQL through `proxy` (its people added directly)."""
    settings = api_settings(proxy.url(postgres_url), **{**FAST_RETRIES, **overrides})
    with ServerThread(settings, with_worker=with_worker, latency_ms=150) as server:
        live = LiveApi(f"http://127.0.0.1:{server.port}", postgres_url)
        await add_people(live)
        yield live


@asynccontextmanager
async def worker_elsewhere(postgres_url: str) -> AsyncIterator[None]:
    """A worker in another "process" (this event loop) that reaches PostgreSQL directly."""
    settings = Settings(database_url=postgres_url, llm_provider="fake", poll_interval_s=0.05)
    async with (
        open_runtime(settings, provider=FakeProvider(latency_ms=150)) as runtime,
        worker_loop(runtime),
    ):
        yield


@pytest.mark.parametrize("api_only", [False, True], ids=["with-worker", "api-only"])
async def test_an_event_stream_goes_on_after_a_database_outage(
    postgres_url: str, api_only: bool
) -> None:
    # API-only: nothing but the LISTEN reader tells the broker of news (no sweep).
    overrides = {"event_sweep_s": 600.0} if api_only else {}
    with proxy_to(postgres_url) as proxy:
        async with AsyncExitStack() as stack:
            api = await stack.enter_async_context(
                api_behind(proxy, postgres_url, with_worker=not api_only, **overrides)
            )
            if api_only:
                await stack.enter_async_context(worker_elsewhere(postgres_url))
            async with open_runtime(Settings(database_url=postgres_url, llm_provider="fake")) as rt:
                brief = tiny("Streams across an outage").model_copy(update={"modules": 2})
                job_id = (await rt.queue.enqueue_course(brief, api.users["alice"])).job_id
            received: list[Received] = []
            async with api.client("alice") as client:
                stream = asyncio.create_task(collect(client, job_id, received))

                async def streaming() -> bool:
                    return any(event.type == "step_progress" for event in received)

                await eventually(streaming, 20, "the job's first progress")
                with proxy.outage():
                    before = len(received)
                    await asyncio.sleep(OUTAGE_S)  # the outage lasts
                await asyncio.wait_for(stream, timeout=45)
    assert received[-1].type == "job_completed", [event.type for event in received]
    assert len(received) > before, "events after the outage reached the stream"
    ids = [event.id for event in received]
    assert ids == sorted(set(ids))


async def collect(client: httpx.AsyncClient, job_id: str, into: list[Received]) -> None:
    """Follows the job's stream to its end, each event kept as it comes."""
    async with aconnect_sse(client, "GET", f"/api/jobs/{job_id}/events") as source:
        source.response.raise_for_status()
        async for sse in source.aiter_sse():
            if sse.data:  # not a heartbeat
                into.append(Received(int(sse.id), sse.event, json.loads(sse.data)))


def readiness(client: httpx.AsyncClient, status: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await client.get("/readyz")).status_code == status

    return check


async def test_readyz_is_503_while_the_database_is_away_or_the_worker_loop_is_stuck(
    postgres_url: str,
) -> None:
    with proxy_to(postgres_url) as proxy:
        async with (
            api_behind(proxy, postgres_url, with_worker=True, lease_s=1.0) as api,
            api.client() as client,
        ):
            await eventually(readiness(client, 200), 10, "ready")
            with proxy.outage():
                await eventually(readiness(client, 503), 10, "not ready (no database)")
                assert "database" in (await client.get("/readyz")).json()["detail"]
            await eventually(readiness(client, 200), 10, "ready after the outage")

            # The database answers, but the worker's claim waits on a lock nobody lets go.
            connect = psycopg.AsyncConnection.connect(conninfo(postgres_url))
            async with await connect as conn, conn.transaction():
                await conn.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
                started = time.monotonic()
                await eventually(readiness(client, 503), 10, "not ready (stuck)")
                assert "worker" in (await client.get("/readyz")).json()["detail"]
                assert time.monotonic() - started >= 0.5, "a busy loop is not a stuck one"
            await eventually(readiness(client, 200), 10, "ready once the loop turns")
