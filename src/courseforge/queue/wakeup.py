"""Waking idle workers the moment a job is queued: PostgreSQL LISTEN/NOTIFY.

Whoever makes a job claimable at once (enqueue, retry, release) sends a notification
in the same transaction (PostgreSQL delivers it at commit); every listening worker, on
any host, looks at once instead of at its next poll. Polling stays as the fallback (and
is all there is on SQLite).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from courseforge.store.database import CONNECT_TIMEOUT_S
from courseforge.store.outages import Backoff, BackoffPolicy

CHANNEL = "courseforge_jobs"
EVENTS_CHANNEL = "courseforge_events"  # payload: a job id (sent by a trigger on job_events)


def conninfo(database_url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen_for_jobs(
    database_url: str,
    wake: Callable[[], None],
    stop: asyncio.Event,
    *,
    backoff: BackoffPolicy | None = None,
) -> None:
    """Calls `wake` on every notification until `stop`; reconnects if the server goes away."""
    await listen_channel(
        database_url, CHANNEL, lambda _payload: wake(), stop, on_reconnect=wake, backoff=backoff
    )


async def listen_channel(
    database_url: str,
    channel: str,
    on_payload: Callable[[str], None],
    stop: asyncio.Event,
    *,
    on_reconnect: Callable[[], None],
    backoff: BackoffPolicy | None = None,
) -> None:
    """Calls `on_payload` with each notification's payload on `channel` until `stop`.

    If the connection drops (or cannot be made) it tries again with backoff for as long
    as it takes; once listening again it calls `on_reconnect`, because whatever was sent
    in between is lost.
    """
    retries = Backoff(f"listen:{channel}", backoff or BackoffPolicy())
    lost = False

    def listening() -> None:
        retries.succeeded()
        if lost:
            on_reconnect()

    while not stop.is_set():
        try:
            await _listen_once(database_url, channel, on_payload, stop, listening)
        except Exception as error:  # the server went away (or never answered): again
            lost = True
            if await retries.wait_after(error, stop):
                return


async def _listen_once(
    database_url: str,
    channel: str,
    on_payload: Callable[[str], None],
    stop: asyncio.Event,
    listening: Callable[[], None],
) -> None:
    async with await psycopg.AsyncConnection.connect(
        conninfo(database_url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
    ) as conn:
        await conn.execute(f"LISTEN {channel}")
        listening()
        # One long-lived reader: notifications that arrive together are all handed on
        # (a reader per notification would drop the rest of a packet).
        reading = asyncio.create_task(_read_notifications(conn, on_payload))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading  # re-raises the reader's error, if that is why it ended


async def _read_notifications(
    conn: psycopg.AsyncConnection[object], on_payload: Callable[[str], None]
) -> None:
    async for notification in conn.notifies():
        on_payload(notification.payload)
    raise psycopg.OperationalError("the notification stream ended")
