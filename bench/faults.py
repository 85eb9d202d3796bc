"""Fault benchmark: do courses finish with no one acting when the model is unreliable?

Queues N standard courses (5 modules × 3 lessons × 3 tasks, bench/pipeline.py's) and
runs them through the real queue and an in-process worker (as `courseforge serve`
does) on the fake provider: once fault-free, then with a fraction of calls failing
transiently and a fraction answering schema-invalid output, each run on a fresh
database, and nobody retrying anything by hand. Prints the courses completed, the
distribution of job attempts (runs: the first and the automatic retries after a unit
gave up), the LLM calls of both runs and their ratio, against the target: every
course completed with at most 2.3× the calls of the fault-free run. Small fake latency
and small backoffs (gateway and job), so a run takes seconds, not hours.

    python -m bench.faults [--courses 20] [--error-rate 0.3] [--invalid-rate 0.3]
                           [--latency-ms 5] [--postgres-url URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.pipeline import STANDARD
from bench.queue import recreate_database
from courseforge.domain.jobs import FINISHED_STATUSES, JobStatus
from courseforge.llm.fake import FakeProvider
from courseforge.llm.gateway import RetryPolicy
from courseforge.logs import configure_logging
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.database import upgrade_database
from courseforge.store.job_store import JobRecord

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/courseforge_bench_faults"
TARGET_RATIO = 2.3
RUN_LIMIT_S = 600.0
GATEWAY_RETRIES = RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05)
UNCAPPED = {
    f"max_running_{who}": 10_000
    for who in ("student", "teacher", "admin", "per_organization", "total")
}


@dataclass
class RunResult:
    jobs: list[JobRecord]
    wall_s: float

    @property
    def completed(self) -> int:
        return sum(1 for job in self.jobs if job.status == JobStatus.COMPLETED)

    @property
    def calls(self) -> int:
        return sum(job.llm_calls for job in self.jobs)


def settings_for(url: str, courses: int) -> Settings:
    return Settings(
        database_url=url,
        llm_provider="fake",
        worker_concurrency=courses,
        poll_interval_s=0.05,
        retry_backoff_s=0.05,  # the job's first backoff (then 0.1, 0.2, ... s)
        **UNCAPPED,  # type: ignore[arg-type]
    )


async def run_courses(settings: Settings, provider: FakeProvider, courses: int) -> RunResult:
    """Queues the courses, runs one worker until every job has ended, nobody acting."""
    async with open_runtime(settings, provider=provider) as runtime:
        runtime.llm = runtime.llm.with_policy(GATEWAY_RETRIES)
        owner = await runtime.accounts.local_user()
        job_ids = []
        for number in range(1, courses + 1):
            brief = STANDARD.model_copy(update={"topic": f"{STANDARD.topic}, cohort {number}"})
            job_ids.append((await runtime.queue.enqueue_course(brief, owner)).job_id)
        stop = asyncio.Event()
        started = time.perf_counter()
        worker = asyncio.create_task(runtime.worker().run(stop))
        try:
            async with asyncio.timeout(RUN_LIMIT_S):
                while not await all_finished(runtime, job_ids):  # noqa: ASYNC110
                    await asyncio.sleep(0.2)  # polling the jobs' state
        except TimeoutError:
            print(f"  (stopped after {RUN_LIMIT_S:.0f} s with jobs still active)")
        wall = time.perf_counter() - started
        stop.set()
        await worker
        jobs = [await runtime.store.get_job(job_id) for job_id in job_ids]
    return RunResult(jobs, wall)


async def all_finished(runtime: Runtime, job_ids: list[str]) -> bool:
    for job_id in job_ids:
        if (await runtime.store.get_job(job_id)).status not in FINISHED_STATUSES:
            return False
    return True


async def bench(url: str, backend: str, options: argparse.Namespace) -> bool:
    print(
        f"{backend}: {options.courses} standard courses (5×3×3) through the queue and one "
        f"worker, fake provider {options.latency_ms:g} ms a call"
    )
    clean = await run_courses(
        settings_for(fresh(url, "clean"), options.courses),
        FakeProvider(latency_ms=options.latency_ms),
        options.courses,
    )
    faulty_provider = FakeProvider(
        latency_ms=options.latency_ms,
        error_rate=options.error_rate,
        invalid_rate=options.invalid_rate,
        seed=options.seed,
    )
    faulty = await run_courses(
        settings_for(fresh(url, "faulty"), options.courses), faulty_provider, options.courses
    )
    return report(clean, faulty, options)


def report(clean: RunResult, faulty: RunResult, options: argparse.Namespace) -> bool:
    n = options.courses
    ratio = faulty.calls / clean.calls if clean.calls else float("inf")
    attempts = Counter(job.attempts for job in faulty.jobs)
    faults = f"{options.error_rate:.0%} transient errors, {options.invalid_rate:.0%} invalid"
    print(
        f"  fault-free:      {clean.completed}/{n} completed, {clean.calls:,} LLM calls, "
        f"{clean.wall_s:.1f} s"
    )
    print(
        f"  with faults:     {faulty.completed}/{n} completed, {faulty.calls:,} LLM calls, "
        f"{faulty.wall_s:.1f} s  ({faults} answers, no one acting)"
    )
    spread = ", ".join(f"{k}: {attempts[k]}" for k in sorted(attempts))
    print(f"  job attempts:    {spread}  (runs per job → jobs)")
    for job in faulty.jobs:
        if job.status != JobStatus.COMPLETED:
            print(f"  not completed:   {job.id} {job.status} after {job.attempts}: {job.error}")
    met = faulty.completed == n and ratio <= TARGET_RATIO
    print(f"  calls ratio:     {ratio:.2f}×")
    print(
        f"  target: {n}/{n} complete and ≤ {TARGET_RATIO}× the calls: {'met' if met else 'NOT met'}"
    )
    return met


def fresh(url: str, name: str) -> str:
    """A new, migrated database for one run: a SQLite file in `url` (a folder), or the
    PostgreSQL database `url` names, dropped and recreated."""
    if url.startswith("postgresql"):
        recreate_database(url)
        return url
    path = f"sqlite:///{Path(url) / name}.db"
    upgrade_database(path)
    return path


def postgres_answers(url: str) -> bool:
    admin = make_url(url).set(drivername="postgresql", database="postgres")
    try:
        with psycopg.connect(admin.render_as_string(hide_password=False), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


async def main(options: argparse.Namespace) -> int:
    met = True
    with tempfile.TemporaryDirectory() as folder:
        met &= await bench(folder, "SQLite", options)
    if options.no_postgres:
        return 0 if met else 1
    if postgres_answers(options.postgres_url):
        met &= await bench(options.postgres_url, "PostgreSQL", options)
    else:
        print(f"PostgreSQL: skipped, nothing answers at {options.postgres_url}")
    return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=20)
    parser.add_argument("--error-rate", type=float, default=0.3)
    parser.add_argument("--invalid-rate", type=float, default=0.3)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL, help="dropped and recreated!")
    parser.add_argument("--no-postgres", action="store_true")
    # Every injected fault logs a warning (thousands a run): only errors, so the figures show.
    configure_logging("ERROR")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
