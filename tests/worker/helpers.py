"""Workers in tests: in-process ones with scripted providers, and real worker processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import sqlalchemy as sa

from courseforge.domain.outline import CourseRequest
from courseforge.runtime import Runtime
from courseforge.store.database import sync_url

TINY = CourseRequest(
    topic="Worker test course",
    modules=1,
    lessons_per_module=2,
    tasks_per_lesson=1,
    questions_per_quiz=1,
)


@asynccontextmanager
async def worker_loop(runtime: Runtime) -> AsyncIterator[None]:
    """The runtime's worker running in this event loop until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.worker().run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def tiny(topic: str) -> CourseRequest:
    return TINY.model_copy(update={"topic": topic})


def job_statuses(database_url: str) -> dict[str, str]:
    engine = sa.create_engine(sync_url(database_url))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, status FROM jobs")).all()
    engine.dispose()
    return {row.id: row.status for row in rows}


def query(database_url: str, sql: str, **params: object) -> list[sa.Row[tuple[object, ...]]]:
    engine = sa.create_engine(sync_url(database_url))
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text(sql), params))
    engine.dispose()
    return rows


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """Polls a condition in another process or database, bounded in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)  # polling a condition, not waiting for time to pass
    raise AssertionError(f"timed out waiting for {what or condition}")


def start_worker_process(database_url: str, **env: str) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "COURSEFORGE_DATABASE_URL": database_url,
        "COURSEFORGE_LLM_PROVIDER": "fake",
        "COURSEFORGE_POLL_INTERVAL_S": "0.05",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    script = (
        "import asyncio, signal\n"
        "from courseforge.runtime import open_runtime\n"
        "from courseforge.settings import Settings\n"
        "async def main():\n"
        "    stop = asyncio.Event()\n"
        "    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)\n"
        "    async with open_runtime(Settings()) as runtime:\n"
        "        await runtime.worker().run(stop)\n"
        "asyncio.run(main())\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
