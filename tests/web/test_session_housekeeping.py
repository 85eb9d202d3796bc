"""An API process forgets browser sessions that can no longer be used (its housekeeping)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from courseforge.runtime import open_runtime
from courseforge.store.tables import browser_sessions
from tests.api.conftest import ServerThread, api_settings


async def session_count(database_url: str) -> int:
    async with (
        open_runtime(api_settings(database_url)) as runtime,
        runtime.database.connect() as conn,
    ):
        statement = sa.select(sa.func.count()).select_from(browser_sessions)
        return int((await conn.execute(statement)).scalar_one())


async def test_expired_sessions_are_purged_by_the_api_process(database_url: str) -> None:
    settings = api_settings(database_url)
    async with open_runtime(settings) as runtime:
        alice = await runtime.accounts.create_user("alice", "Acme", "teacher")
        await runtime.sessions.start_session(alice)  # stale: logged in long ago
        await runtime.sessions.start_session(alice)  # fresh
        async with runtime.database.transaction() as conn:
            long_ago = runtime.clock.now() - timedelta(days=settings.session_max_days + 1)
            first = sa.select(sa.func.min(browser_sessions.c.created_at)).scalar_subquery()
            await conn.execute(
                browser_sessions.update()
                .where(browser_sessions.c.created_at == first)
                .values(created_at=long_ago, last_used_at=long_ago)
            )
    assert await session_count(database_url) == 2

    with ServerThread(settings, with_worker=False, latency_ms=0):
        async with asyncio.timeout(20):
            while await session_count(database_url) != 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # polling a condition, not waiting for time to pass
