"""`courseforge worker` as a real process: it runs queued jobs and stops cleanly on signals."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO

import pytest
import sqlalchemy as sa

from courseforge.store.database import sync_url
from tests.cli.helpers import enqueue

JobRow = sa.Row[tuple[str, str, int, str | None]]


class WorkerProcess:
    """The worker subprocess, with its output read line by line on a thread."""

    def __init__(self, database_url: str, **env: str) -> None:
        environment = {
            **os.environ,
            "COURSEFORGE_DATABASE_URL": database_url,
            "COURSEFORGE_LLM_PROVIDER": "fake",
            "COURSEFORGE_POLL_INTERVAL_S": "0.1",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "courseforge", "worker", "--concurrency", "2"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,))
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            self.output.append(line)
            if text in line:
                return
        raise AssertionError(f"the worker never printed {text!r}:\n{self.transcript()}")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then its exit code (bounded in time)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        """Kills it if still running; its output pipe ends, so the reader ends too."""
        self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def transcript(self) -> str:
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "".join(self.output)


@pytest.fixture
def start_worker() -> Iterator[Callable[..., WorkerProcess]]:
    """Starts worker processes; any still running at the end of the test is killed."""
    started: list[WorkerProcess] = []

    def start(database_url: str, **env: str) -> WorkerProcess:
        started.append(WorkerProcess(database_url, **env))
        return started[-1]

    yield start
    for worker in started:
        worker.close()


def job_rows(database_url: str) -> dict[str, JobRow]:
    engine = sa.create_engine(sync_url(database_url))
    query = sa.text("SELECT id, status, attempts, lease_owner FROM jobs")
    with engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(query)}
    engine.dispose()
    return rows


def wait_until(database_url: str, condition: Callable[[dict[str, JobRow]], bool]) -> None:
    """Polls the jobs table until `condition` holds (a condition, bounded in time)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if condition(job_rows(database_url)):
            return
        time.sleep(0.05)  # polling another process's progress, not waiting for time
    raise AssertionError(f"condition not reached: {job_rows(database_url)}")


def test_worker_runs_queued_jobs_then_stops_on_sigterm(
    database_url: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    before = enqueue(database_url, "Rust ownership", "Python typing")
    worker = start_worker(database_url)
    worker.wait_for_line("LLM provider: fake")
    worker.wait_for_line("runs up to 2 jobs at once")
    after = enqueue(database_url, "SQL joins")

    wait_until(
        database_url,
        lambda rows: all(rows[job_id].status == "completed" for job_id in [*before, *after]),
    )

    assert worker.stop() == 0, worker.transcript()
    assert "Worker stopped." in worker.transcript()


def test_sigterm_hands_a_running_job_back_to_the_queue(
    database_url: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    # Each model call outlasts the worker's shutdown grace, so the job is still mid-run.
    [job_id] = enqueue(database_url, "Rust ownership")
    worker = start_worker(database_url, COURSEFORGE_FAKE_LATENCY_MS="60000")
    wait_until(database_url, lambda rows: rows[job_id].status == "running")
    assert job_rows(database_url)[job_id].attempts == 1

    assert worker.stop() == 0, worker.transcript()

    row = job_rows(database_url)[job_id]
    assert row.status == "pending"
    assert row.lease_owner is None  # released: another worker may claim it at once
    assert row.attempts == 0  # a release does not use up an attempt


def test_a_second_signal_exits_at_once_with_130(
    sqlite_url: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    [job_id] = enqueue(sqlite_url, "Rust ownership")
    worker = start_worker(sqlite_url, COURSEFORGE_FAKE_LATENCY_MS="60000")
    wait_until(sqlite_url, lambda rows: rows[job_id].status == "running")

    worker.process.send_signal(signal.SIGTERM)
    worker.wait_for_line("Stopping")
    worker.process.send_signal(signal.SIGTERM)

    assert worker.process.wait(timeout=5) == 130, worker.transcript()
    # Not handed back: its lease expires and a worker rescues it, as after a crash.
    assert job_rows(sqlite_url)[job_id].status == "running"
