"""PostgreSQL: what makes a job claimable NOTIFYs workers inside its own transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from courseforge.queue.wakeup import CHANNEL, conninfo
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from tests.worker.helpers import tiny


@pytest.fixture
async def runtime(postgres_url: str) -> AsyncIterator[Runtime]:
    async with open_runtime(Settings(database_url=postgres_url, llm_provider="fake")) as opened:
        yield opened


@pytest.fixture
async def listener(postgres_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(
        conninfo(postgres_url), autocommit=True
    ) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        yield conn


async def notifications(listener: psycopg.AsyncConnection[Any]) -> int:
    """How many notifications were sent since the last call. A marker sent now comes
    after them all (PostgreSQL delivers notifications in commit order), so no waiting
    on time is needed to know that none is missing."""
    await listener.execute(f"NOTIFY {CHANNEL}, 'marker'")
    count = 0
    async for notification in listener.notifies(timeout=10):
        if notification.payload == "marker":
            return count
        count += 1
    raise AssertionError("the marker notification never came")


def count_commits(runtime: Runtime) -> list[int]:
    commits = [0]

    def on_commit(_conn: object) -> None:
        commits[0] += 1

    event.listen(runtime.database.engine.sync_engine, "commit", on_commit)
    return commits


async def test_an_enqueue_is_one_transaction_and_wakes_listeners(
    runtime: Runtime, listener: psycopg.AsyncConnection[Any]
) -> None:
    owner = await runtime.accounts.local_user()
    commits = count_commits(runtime)

    enqueued = await runtime.queue.enqueue_course(tiny("Wake up"), owner)

    assert enqueued.created
    assert commits == [1]
    assert await notifications(listener) == 1


async def test_a_duplicate_enqueue_wakes_nobody(
    runtime: Runtime, listener: psycopg.AsyncConnection[Any]
) -> None:
    owner = await runtime.accounts.local_user()
    await runtime.queue.enqueue_course(tiny("Once"), owner)
    assert await notifications(listener) == 1

    twin = await runtime.queue.enqueue_course(tiny("Once"), owner)

    assert not twin.created
    assert await notifications(listener) == 0


async def test_retry_and_release_wake_listeners_in_their_transaction(
    runtime: Runtime, listener: psycopg.AsyncConnection[Any]
) -> None:
    owner = await runtime.accounts.local_user()
    job_id = (await runtime.queue.enqueue_course(tiny("Again"), owner)).job_id
    await notifications(listener)
    assert await runtime.queue.claim_job(job_id, "w1")
    commits = count_commits(runtime)

    assert await runtime.queue.release("w1", [job_id]) == [job_id]
    assert (commits, await notifications(listener)) == ([1], 1)
    assert await runtime.queue.release("w1", [job_id]) == []  # nothing handed back
    assert await notifications(listener) == 0

    await runtime.queue.cancel(job_id)
    commits[0] = 0
    assert await runtime.queue.retry(job_id)
    assert (commits, await notifications(listener)) == ([1], 1)
