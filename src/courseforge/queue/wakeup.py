"""Waking idle workers the moment a job is queued: PostgreSQL LISTEN/NOTIFY.

Whoever makes a job claimable at once (enqueue, retry, release) sends a notification
after committing; every listening worker, on any host, looks at once instead of at its
next poll. Polling stays as the fallback (and is all there is on SQLite).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from courseforge.logs import get_logger

CHANNEL = "courseforge_jobs"
RECONNECT_DELAY_S = 1.0
_log = get_logger(__name__)


def conninfo(database_url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen_for_jobs(database_url: str, wake: Callable[[], None], stop: asyncio.Event) -> None:
    """Calls `wake` on every notification until `stop`; reconnects if the server goes away."""
    while not stop.is_set():
        try:
            await _listen_once(database_url, wake, stop)
        except (psycopg.Error, OSError) as error:
            _log.warning("job_listener_lost", error=str(error))
            wake()  # something may have been queued while we were deaf
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RECONNECT_DELAY_S)


async def _listen_once(database_url: str, wake: Callable[[], None], stop: asyncio.Event) -> None:
    async with await psycopg.AsyncConnection.connect(
        conninfo(database_url), autocommit=True
    ) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                waiting = asyncio.create_task(_next_notification(conn))
                done, _ = await asyncio.wait(
                    {waiting, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
                if waiting in done:
                    waiting.result()
                    wake()
                else:
                    waiting.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiting
        finally:
            stopping.cancel()


async def _next_notification(conn: psycopg.AsyncConnection[object]) -> None:
    async for _ in conn.notifies():
        return
