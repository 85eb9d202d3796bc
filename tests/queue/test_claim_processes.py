"""Separate OS processes claiming from one PostgreSQL server never take a job twice."""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from courseforge.domain.outline import CourseRequest
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from courseforge.store.tables import jobs
from tests.queue.caps import UNCAPPED

PROCESSES = 4
JOBS = 200

# Opens the runtime, says "ready", waits for "go" on stdin (so all claimers start
# together), then claims 5 at a time until two claims in a row come back empty.
CLAIMER = """
import asyncio, json, sys

from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from tests.queue.caps import UNCAPPED


async def main(url, worker):
    async with open_runtime(Settings(database_url=url, llm_provider="fake", **UNCAPPED)) as runtime:
        async with runtime.database.connect():
            pass
        print("ready", flush=True)
        sys.stdin.readline()
        empty = 0
        while empty < 2:
            ids = await runtime.queue.claim(worker, 5)
            empty = 0 if ids else empty + 1
            if ids:
                print(json.dumps(ids), flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _read_line(process: subprocess.Popen[str], timeout: float = 60) -> str:
    """One line of the process's output, or "" when none came within `timeout`."""
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if readable else ""


async def _enqueue_jobs(settings: Settings) -> None:
    async with open_runtime(settings) as runtime:
        owner = await runtime.accounts.local_user()
        for index in range(JOBS):
            request = CourseRequest(topic=f"Topic {index}")
            await runtime.queue.enqueue_course(request, owner, priority=index % 3)


async def _read_jobs(settings: Settings) -> list[sa.Row[tuple[str, str, str | None]]]:
    async with open_runtime(settings) as runtime, runtime.database.connect() as conn:
        query = sa.select(jobs.c.id, jobs.c.status, jobs.c.lease_owner)
        return list((await conn.execute(query)).all())


def test_processes_claim_each_job_exactly_once(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=postgres_url, llm_provider="fake", **UNCAPPED)
    asyncio.run(_enqueue_jobs(settings))

    workers = [f"proc-{index}" for index in range(PROCESSES)]
    logs = [tmp_path / f"{worker}.stderr" for worker in workers]
    processes: list[subprocess.Popen[str]] = []
    try:
        for worker, log in zip(workers, logs, strict=True):
            with log.open("w") as stderr:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-c", CLAIMER, postgres_url, worker],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=stderr,
                        text=True,
                    )
                )
        for process, log in zip(processes, logs, strict=True):
            assert _read_line(process) == "ready\n", log.read_text()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=60)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    for process, log in zip(processes, logs, strict=True):
        assert process.returncode == 0, log.read_text()
    claimed_by = {
        worker: [job_id for line in output.splitlines() for job_id in json.loads(line)]
        for worker, output in zip(workers, outputs, strict=True)
    }
    claims = Counter(job_id for taken in claimed_by.values() for job_id in taken)
    assert len(claims) == JOBS
    assert set(claims.values()) == {1}

    claimer_of = {job_id: worker for worker, taken in claimed_by.items() for job_id in taken}
    rows = asyncio.run(_read_jobs(settings))
    assert len(rows) == JOBS
    for job_id, status, lease_owner in rows:
        assert status == "running"
        assert lease_owner == claimer_of[job_id]
