"""PostgreSQL LISTEN/NOTIFY: queueing a job wakes listening workers at once."""

from __future__ import annotations

import asyncio

import psycopg

from courseforge.queue.wakeup import CHANNEL, conninfo, listen_for_jobs
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from tests.worker.helpers import tiny


async def listening_sessions(url: str) -> int:
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s"
    )
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn:
        row = await (await conn.execute(query, (f"LISTEN {CHANNEL}",))).fetchone()
    return int(row[0]) if row else 0


async def test_queueing_a_job_wakes_a_listener(postgres_url: str) -> None:
    woken = asyncio.Event()
    stop = asyncio.Event()
    listener = asyncio.create_task(listen_for_jobs(postgres_url, woken.set, stop))
    try:
        for _ in range(500):
            if await listening_sessions(postgres_url):
                break
            await asyncio.sleep(0.01)  # polling for the LISTEN to be registered, bounded
        assert not woken.is_set()

        settings = Settings(database_url=postgres_url, llm_provider="fake")
        async with open_runtime(settings) as runtime:
            owner = await runtime.accounts.local_user()
            await runtime.queue.enqueue_course(tiny("Wake up"), owner)

        await asyncio.wait_for(woken.wait(), timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(listener, timeout=10)
