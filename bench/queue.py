"""Queue benchmark on PostgreSQL: claim throughput, pickup latency and a chaos run.

(a) Claim throughput. N no-op jobs are inserted in bulk (setup, not timed; one local
    admin owns them), then 1, 4 and 8 claimer loops (asyncio tasks in this process),
    then 4 OS processes × 2 loops each, take them: `JobQueue.claim(worker, batch)`,
    then complete them, until none is left (or a run reaches --run-limit-s): with
    --ack batch (the default) the batch in one statement, `JobQueue.complete(worker,
    ids)` (a group commit of completions, as pgqueuer acknowledges jobs); with --ack
    each one transaction per job, `JobStore.mark_finished(job, "completed")`. The
    running caps are lifted: this measures the queue, not the quotas. The average
    claim call includes waiting on the claim lock.
(b) Pickup latency. 4 idle in-process workers listen (LISTEN/NOTIFY) and poll only
    every 5 s, so only a notification explains a fast pickup. Jobs are queued one at
    a time with random 5–20 ms gaps; a job's latency runs from the call to
    `enqueue_course` to the start of its (instant) run; the enqueuer and the workers
    share this process's event loop. The jobs table's started_at − created_at (the
    same clock, without the enqueuer's own wait) is printed beside it.
(c) Chaos. 4 worker processes run small fake-LLM courses (150 ms a call, 2 s leases)
    while one random worker is SIGKILLed every 3 s and replaced, and this process
    rescues expired leases every 0.5 s, until all courses are completed (at most
    150 s). Each worker logs every LLM request it sends and each answer it gets, per
    (job, unit), to a file: requests lost with a killed worker are counted too, and
    redone work is compared with the requests in flight at the kills.

Each phase starts from a dropped, recreated and migrated database.

    python -m bench.queue [--database-url URL] [--jobs 3000] [--batch 10] [--ack batch]
                          [--run-limit-s 30] [--pickups 200] [--courses 50] [--phases abc]
"""

from __future__ import annotations

import os
import sys

# This file is named queue.py: run as a script, its folder would come first on sys.path
# and shadow the standard library's `queue` (which asyncio and logging import).
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import asyncio
import contextlib
import random
import signal
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import make_url

from courseforge.domain.accounts import User
from courseforge.domain.outline import CourseRequest
from courseforge.llm.fake import FakeProvider
from courseforge.llm.port import Completion, CompletionRequest
from courseforge.queue.job_queue import JobQueue
from courseforge.queue.wakeup import listen_for_jobs
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.database import upgrade_database
from courseforge.store.tables import jobs
from courseforge.worker.worker import Worker, WorkerConfig

THIS_FILE = os.path.abspath(__file__)
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/courseforge_bench_queue"
# Phases (a) and (b) measure the queue, not the quotas: no running cap binds.
LIFTED_CAPS: dict[str, Any] = dict.fromkeys(
    (
        "max_running_student",
        "max_running_teacher",
        "max_running_admin",
        "max_running_per_organization",
        "max_running_total",
    ),
    100_000,
)
# `python -c` children load this file under another name and call `child_main`.
CHILD = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('bench_queue', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['bench_queue'] = module\n"
    "spec.loader.exec_module(module)\n"
    "module.child_main(sys.argv[2:])\n"
)


# --- shared -------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    """Drops, creates and migrates the database the URL names (never a system one)."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "postgresql" or not name:
        raise SystemExit(f"a PostgreSQL URL naming a scratch database is needed, not {url!r}")
    if name in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to drop the system database {name!r}")
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    upgrade_database(url)


def lifted_settings(url: str, **extra: Any) -> Settings:
    return Settings(database_url=url, llm_provider="fake", **LIFTED_CAPS, **extra)


def settings_env(url: str, **values: object) -> dict[str, str]:
    """The environment of a child process: this one's, plus COURSEFORGE_* settings."""
    ours = {f"COURSEFORGE_{key.upper()}": str(value) for key, value in values.items()}
    return {**os.environ, "COURSEFORGE_DATABASE_URL": url, "PYTHONUNBUFFERED": "1", **ours}


async def spawn(args: list[str], env: dict[str, str], **io: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, THIS_FILE, *args, env=env, **io
    )


async def scalar(runtime: Runtime, statement: str, **params: object) -> Any:
    async with runtime.database.connect() as conn:
        return (await conn.execute(sa.text(statement), params)).scalar()


async def status_counts(runtime: Runtime) -> Counter[str]:
    async with runtime.database.connect() as conn:
        rows = await conn.execute(sa.text("SELECT status, count(*) FROM jobs GROUP BY status"))
        return Counter({status: count for status, count in rows.all()})


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def child_main(argv: list[str]) -> None:
    """Entry of the child processes (see CHILD)."""
    role, *rest = argv
    if role == "claimer":
        asyncio.run(claimer_process(rest[0], int(rest[1]), LoopPlan.parse(rest[2:])))
    elif role == "worker":
        asyncio.run(chaos_worker_process(rest[0]))
    else:
        raise SystemExit(f"unknown child role {role!r}")


# --- (a) claim throughput -----------------------------------------------------------


@dataclass
class LoopStats:
    """What claimer loops did: jobs completed, claim calls, seconds in each kind of call."""

    jobs: int = 0
    claims: int = 0
    claim_s: float = 0.0
    finish_s: float = 0.0

    def __add__(self, other: LoopStats) -> LoopStats:
        return LoopStats(
            self.jobs + other.jobs,
            self.claims + other.claims,
            self.claim_s + other.claim_s,
            self.finish_s + other.finish_s,
        )

    def line(self) -> str:
        return f"{self.jobs} {self.claims} {self.claim_s} {self.finish_s}"

    @classmethod
    def parse(cls, line: bytes) -> LoopStats:
        jobs, claims, claim_s, finish_s = line.split()
        return cls(int(jobs), int(claims), float(claim_s), float(finish_s))


@dataclass(frozen=True)
class Throughput:
    label: str
    total: int
    stats: LoopStats
    seconds: float

    @property
    def per_s(self) -> float:
        return self.stats.jobs / self.seconds


async def seed_jobs(runtime: Runtime, owner: User, count: int) -> None:
    """Empties the tables, then inserts `count` pending jobs in one statement."""
    now = runtime.clock.now()
    request = CourseRequest(topic="Claim benchmark").model_dump(mode="json")
    rows = [
        {
            "id": str(uuid.uuid4()),
            "kind": "course",
            "status": "pending",
            "request": request,
            "owner_id": owner.id,
            "organization_id": owner.organization_id,
            "dedup_key": uuid.uuid4().hex,
            "created_at": now,
            "updated_at": now,
        }
        for _ in range(count)
    ]
    async with runtime.database.transaction() as conn:
        await conn.execute(sa.text("TRUNCATE jobs CASCADE"))
        await conn.execute(jobs.insert(), rows)
    async with runtime.database.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(sa.text("VACUUM ANALYZE jobs"))


@dataclass(frozen=True)
class LoopPlan:
    """What each claimer loop does: jobs per claim, its time limit, how it completes."""

    batch: int
    limit_s: float
    ack: str  # "batch": one statement per claimed batch; "each": one transaction per job

    def args(self) -> list[str]:
        return [str(self.batch), str(self.limit_s), self.ack]

    @classmethod
    def parse(cls, args: list[str]) -> LoopPlan:
        return cls(int(args[0]), float(args[1]), args[2])


async def claim_until_empty(runtime: Runtime, worker: str, plan: LoopPlan) -> LoopStats:
    """A no-op worker: claims a batch, completes it, until none is left (or time is up)."""
    stats = LoopStats()
    deadline = time.perf_counter() + plan.limit_s
    while time.perf_counter() < deadline:
        before = time.perf_counter()
        claimed = await runtime.queue.claim(worker, plan.batch)
        between = time.perf_counter()
        stats.claims += 1
        stats.claim_s += between - before
        if not claimed:
            break
        if plan.ack == "batch":
            assert len(await runtime.queue.complete(worker, claimed)) == len(claimed)
        else:
            for job_id in claimed:
                await runtime.store.mark_finished(job_id, "completed")
        stats.jobs += len(claimed)
        stats.finish_s += time.perf_counter() - between
    return stats


async def run_loops(runtime: Runtime, prefix: str, loops: int, plan: LoopPlan) -> LoopStats:
    done = await asyncio.gather(
        *(claim_until_empty(runtime, f"{prefix}-{i}", plan) for i in range(loops))
    )
    return sum(done, LoopStats())


def loop_plan(options: argparse.Namespace) -> LoopPlan:
    return LoopPlan(options.batch, options.run_limit_s, options.ack)


async def claim_in_process(
    runtime: Runtime, owner: User, count: int, loops: int, options: argparse.Namespace
) -> Throughput:
    await seed_jobs(runtime, owner, count)
    started = time.perf_counter()
    stats = await run_loops(runtime, f"bench-{loops}", loops, loop_plan(options))
    elapsed = time.perf_counter() - started
    await check_statuses(runtime, count, stats.jobs)
    return Throughput(f"{loops} loop{'s' if loops > 1 else ''}, 1 process", count, stats, elapsed)


async def claimer_process(prefix: str, loops: int, plan: LoopPlan) -> None:
    """Child: opens its runtime, says ready, waits for go, runs its loops, says what it did."""
    async with open_runtime(Settings()) as runtime:
        await scalar(runtime, "SELECT 1")
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        stats = await run_loops(runtime, prefix, loops, plan)
        print(stats.line(), flush=True)


async def claim_in_processes(
    runtime: Runtime, owner: User, count: int, shape: tuple[int, int], options: argparse.Namespace
) -> Throughput:
    """Like claim_in_process, in `processes` children; their start-up is not timed."""
    processes, loops = shape
    await seed_jobs(runtime, owner, count)
    env = settings_env(runtime.settings.database_url, llm_provider="fake", **LIFTED_CAPS)
    args = [str(loops), *loop_plan(options).args()]
    pipes = {"stdin": asyncio.subprocess.PIPE, "stdout": asyncio.subprocess.PIPE}
    children = [await spawn(["claimer", f"proc{p}", *args], env, **pipes) for p in range(processes)]
    for child in children:
        assert child.stdout is not None
        assert (await child.stdout.readline()).strip() == b"ready"
    started = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
    done = [LoopStats.parse(await c.stdout.readline()) for c in children if c.stdout]
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(child.wait() for child in children))
    stats = sum(done, LoopStats())
    await check_statuses(runtime, count, stats.jobs)
    return Throughput(f"{processes} processes × {loops} loops", count, stats, elapsed)


async def check_statuses(runtime: Runtime, count: int, done: int) -> None:
    """Every job claimed was completed, the rest (a run out of time) still waits."""
    statuses = await status_counts(runtime)
    expected = Counter(completed=done, pending=count - done)
    if +statuses != +expected:
        raise RuntimeError(f"completed {done} of {count}; statuses now {dict(statuses)}")


async def phase_claims(url: str, options: argparse.Namespace) -> list[Throughput]:
    recreate_database(url)
    count = options.jobs
    results = []
    async with open_runtime(lifted_settings(url)) as runtime:
        owner = await runtime.accounts.local_user()
        for loops in (1, 4, 8):
            results.append(await claim_in_process(runtime, owner, count, loops, options))
            report_throughput(results[-1])
        results.append(await claim_in_processes(runtime, owner, count, (4, 2), options))
        report_throughput(results[-1])
    return results


def report_throughput(result: Throughput) -> None:
    stats = result.stats
    cut = "" if stats.jobs == result.total else f", stopped: {stats.jobs}/{result.total} done"
    print(
        f"  {result.label:<24} {result.per_s:6.0f} jobs/s  ({result.seconds:.1f} s{cut})  "
        f"claim call {stats.claim_s / stats.claims * 1000:5.1f} ms avg, "
        f"completing {stats.finish_s / max(1, stats.jobs) * 1000:.2f} ms/job"
    )


# --- (b) pickup latency -------------------------------------------------------------


@dataclass
class Pickups:
    in_process_ms: list[float]
    database_ms: list[float]
    enqueue_ms: list[float]
    claims: int
    claim_s: float
    unpicked: int


@dataclass
class ClaimMeter:
    """Counts and times the workers' claim calls (wrapped on the queue object)."""

    calls: int = 0
    seconds: float = 0.0

    def wrap(self, queue: JobQueue) -> None:
        name = "claim_batch" if hasattr(queue, "claim_batch") else "claim"
        original = getattr(queue, name)

        async def metered(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.calls += 1
                self.seconds += time.perf_counter() - started

        setattr(queue, name, metered)


async def wait_until(condition: Callable[[], Any], within_s: float, step: float = 0.02) -> bool:
    """Polls `condition` (sync or async) until it is true or `within_s` pass."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return True
        await asyncio.sleep(step)
    return False


async def listeners_ready(runtime: Runtime, count: int) -> bool:
    listening = await scalar(
        runtime,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN %'",
    )
    return bool(listening >= count)


def idle_workers(runtime: Runtime, started: dict[str, float], count: int) -> list[Worker]:
    """Workers whose jobs note when they start, then complete at once."""
    url = runtime.settings.database_url

    async def run_job(job_id: str) -> None:
        started[job_id] = time.monotonic()
        await runtime.store.mark_finished(job_id, "completed")

    async def listen(wake: Callable[[], None], stop: asyncio.Event) -> None:
        await listen_for_jobs(url, wake, stop)

    config = WorkerConfig(concurrency=4, poll_interval_s=runtime.settings.poll_interval_s)
    return [
        Worker(runtime.queue, runtime.store, run_job, config, f"idle-{i}", listen)
        for i in range(count)
    ]


async def enqueue_spaced(
    runtime: Runtime, count: int, rng: random.Random
) -> dict[str, tuple[float, float]]:
    """Queues `count` jobs 5–20 ms apart: job id → (call time, return time)."""
    owner = await runtime.accounts.local_user()
    submitted = {}
    for i in range(count):
        request = CourseRequest(topic=f"Pickup course {i}")
        called = time.monotonic()
        enqueued = await runtime.queue.enqueue_course(request, owner)
        submitted[enqueued.job_id] = (called, time.monotonic())
        await asyncio.sleep(rng.uniform(0.005, 0.020))
    return submitted


async def database_latencies(runtime: Runtime) -> list[float]:
    query = "SELECT extract(epoch FROM started_at - created_at) * 1000 FROM jobs"
    async with runtime.database.connect() as conn:
        return [float(ms) for ms in (await conn.execute(sa.text(query))).scalars()]


async def phase_pickups(url: str, count: int, workers: int) -> Pickups:
    recreate_database(url)
    started: dict[str, float] = {}
    meter = ClaimMeter()
    async with open_runtime(lifted_settings(url, poll_interval_s=5.0)) as runtime:
        meter.wrap(runtime.queue)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.run(stop)) for w in idle_workers(runtime, started, workers)]
        try:
            if not await wait_until(lambda: listeners_ready(runtime, workers), 10.0):
                raise RuntimeError("the workers' listeners did not connect within 10 s")
            meter.calls, meter.seconds = 0, 0.0
            submitted = await enqueue_spaced(runtime, count, random.Random(7))
            await wait_until(lambda: len(started) >= count, 15.0)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        in_process = [(started[j] - at) * 1000 for j, (at, _) in submitted.items() if j in started]
        enqueue = [(back - at) * 1000 for at, back in submitted.values()]
        database = await database_latencies(runtime)
        unpicked = count - len(in_process)
        return Pickups(in_process, database, enqueue, meter.calls, meter.seconds, unpicked)


def report_pickups(result: Pickups, count: int, workers: int) -> str:
    print(f"(b) pickup latency: {count} jobs, {workers} idle workers, poll every 5 s, LISTEN on")
    for label, values in (
        ("enqueue call → run", result.in_process_ms),
        ("created_at → started_at", result.database_ms),
        ("enqueue_course call", result.enqueue_ms),
    ):
        p50, p95, p99 = (percentile(values, p) for p in (50, 95, 99))
        print(
            f"  {label:<24} p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f}  max {max(values):7.1f} ms"
        )
    per_claim = result.claim_s / max(1, result.claims) * 1000
    print(
        f"  workers' claim calls: {result.claims} for {count} jobs "
        f"({result.claims / count:.1f} a job), {per_claim:.1f} ms avg (incl. the claim lock)"
    )
    if result.unpicked:
        print(f"  NOT picked up within 15 s: {result.unpicked}")
    p95 = percentile(result.in_process_ms, 95)
    db_p95 = percentile(result.database_ms, 95)
    ok, db_ok = p95 <= 25 and not result.unpicked, db_p95 <= 25 and not result.unpicked
    print(f"  target p95 ≤ 25 ms: {verdict(ok)} in process, {verdict(db_ok)} by the database clock")
    return (
        f"(b) pickup p95: {p95:.1f} ms from the enqueue call, {db_p95:.1f} ms created→started "
        f"(target ≤ 25 ms: {verdict(ok)} / {verdict(db_ok)})"
    )


# --- (c) chaos run --------------------------------------------------------------------

CHAOS_WORKERS = 4
CHAOS_KILL_EVERY_S = 3.0
CHAOS_RESCUE_EVERY_S = 0.5
CHAOS_LIMIT_S = 150.0
# Every kill costs each of the victim's jobs an attempt; the default 3 would turn bad
# luck (one job on three killed workers) into a failed job that is no fault of the queue.
CHAOS_MAX_ATTEMPTS = 10
CHAOS_SETTINGS: dict[str, Any] = {
    "llm_provider": "fake",
    "fake_latency_ms": 150,
    "lease_s": 2,
    "retry_backoff_s": 0.2,
    "worker_concurrency": 4,
    "poll_interval_s": 0.25,
    "job_max_attempts": CHAOS_MAX_ATTEMPTS,
    "max_running_admin": 1000,
    "max_running_per_organization": 1000,
    "max_running_total": 1000,
}


class RequestLoggingProvider(FakeProvider):
    """The fake provider, logging `pid sent|answered job unit` around each request.

    O_APPEND writes of one short line reach the file whole and survive a SIGKILL."""

    def __init__(self, log_fd: int, latency_ms: float) -> None:
        super().__init__(latency_ms=latency_ms)
        self._log_fd = log_fd

    async def complete(self, request: CompletionRequest) -> Completion:
        self._log("sent", request)
        completion = await super().complete(request)
        self._log("answered", request)
        return completion

    def _log(self, what: str, request: CompletionRequest) -> None:
        job, unit = request.metadata.get("job_id", ""), request.metadata.get("unit", "")
        os.write(self._log_fd, f"{os.getpid()}\t{what}\t{job}\t{unit}\n".encode())


async def chaos_worker_process(request_log: str) -> None:
    """Child: a real worker (settings from the environment) on the request-logging fake."""
    settings = Settings()
    log_fd = os.open(request_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    provider = RequestLoggingProvider(log_fd, settings.fake_latency_ms)
    async with open_runtime(settings, provider=provider) as runtime:
        await runtime.worker().run(stop)


@dataclass
class ChaosStats:
    kills: int = 0
    killed_pids: list[int] = field(default_factory=list)
    jobs_hit: int = 0
    died_alone: int = 0
    rescued: int = 0
    rescue_errors: int = 0
    max_overdue_s: float = 0.0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass
class ChaosPool:
    """The worker processes; a killed one is replaced at once."""

    env: dict[str, str]
    request_log: Path
    stderr_folder: Path
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    started: int = 0

    async def start(self) -> asyncio.subprocess.Process:
        self.started += 1
        log = self.stderr_folder / f"worker-{self.started}.log"
        stderr = os.open(log, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            args = ["worker", str(self.request_log)]
            return await spawn(args, self.env, stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
        finally:
            os.close(stderr)

    async def kill(self, index: int) -> None:
        self.processes[index].kill()
        await self.processes[index].wait()
        self.processes[index] = await self.start()

    async def replace_dead(self) -> int:
        dead = [i for i, p in enumerate(self.processes) if p.returncode is not None]
        for index in dead:
            self.processes[index] = await self.start()
        return len(dead)

    async def stop_all(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()


def chaos_request(index: int) -> CourseRequest:
    return CourseRequest(
        topic=f"Chaos course {index}",
        modules=1,
        lessons_per_module=2,
        tasks_per_lesson=1,
        questions_per_quiz=1,
    )


async def every(seconds: float, stop: asyncio.Event, action: Callable[[], Any]) -> None:
    while not stop.is_set():
        await action()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


async def rescue_once(runtime: Runtime, stats: ChaosStats) -> None:
    try:
        stats.rescued += len(await runtime.queue.rescue_expired())
    except sa.exc.DBAPIError:  # a conflict with a worker's own sweep: next round
        stats.rescue_errors += 1


async def sample_overdue(runtime: Runtime, stats: ChaosStats) -> None:
    """How long the most overdue running job has sat with an expired lease."""
    overdue = await scalar(
        runtime,
        "SELECT extract(epoch FROM max(clock_timestamp() - lease_expires_at)) FROM jobs "
        "WHERE status = 'running' AND lease_expires_at < clock_timestamp()",
    )
    if overdue is not None:
        stats.max_overdue_s = max(stats.max_overdue_s, float(overdue))


async def chaos_loop(
    runtime: Runtime, pool: ChaosPool, stats: ChaosStats, rng: random.Random
) -> None:
    """Replaces workers that died on their own, then kills a random one and replaces it."""
    stats.died_alone += await pool.replace_dead()
    index = rng.randrange(len(pool.processes))
    held = await scalar(
        runtime,
        "SELECT count(*) FROM jobs WHERE status = 'running' AND lease_owner LIKE :pattern",
        pattern=f"%:{pool.processes[index].pid}:%",  # worker ids are host:pid:random
    )
    stats.killed_pids.append(pool.processes[index].pid)
    await pool.kill(index)
    stats.kills += 1
    stats.jobs_hit += int(held)


async def all_completed(runtime: Runtime, courses: int) -> bool:
    return (await status_counts(runtime))["completed"] >= courses


async def run_until_done(
    runtime: Runtime, pool: ChaosPool, stats: ChaosStats, courses: int
) -> None:
    stop = asyncio.Event()
    rng = random.Random(11)
    started = time.monotonic()

    async def first_kill_later() -> None:
        if not await wait_until(stop.is_set, CHAOS_KILL_EVERY_S, 0.1):
            await every(CHAOS_KILL_EVERY_S, stop, lambda: chaos_loop(runtime, pool, stats, rng))

    background = [
        asyncio.create_task(every(CHAOS_RESCUE_EVERY_S, stop, lambda: rescue_once(runtime, stats))),
        asyncio.create_task(every(0.1, stop, lambda: sample_overdue(runtime, stats))),
        asyncio.create_task(first_kill_later()),
    ]
    try:
        await wait_until(lambda: all_completed(runtime, courses), CHAOS_LIMIT_S, 0.25)
        stats.seconds = time.monotonic() - started
    finally:
        stop.set()
        await asyncio.gather(*background)


@dataclass(frozen=True)
class Redundancy:
    requests: int
    units: int
    redone_units: int
    in_flight_at_kills: int  # sent, never answered, by workers this run killed
    duplicate_ok_calls: int
    crash_lines: int

    @property
    def extra_requests(self) -> int:
        return self.requests - self.units


def read_request_log(path: Path, killed: list[int]) -> tuple[Counter[str], int]:
    """Requests sent per (job, unit), and how many were in flight in the killed workers."""
    per_unit: Counter[str] = Counter()
    open_per_pid: Counter[str] = Counter()
    lines = path.read_text().splitlines() if path.exists() else []
    for pid, what, job, unit in (line.split("\t") for line in lines):
        if what == "sent":
            per_unit[f"{job}\t{unit}"] += 1
        open_per_pid[pid] += 1 if what == "sent" else -1
    return per_unit, sum(open_per_pid[str(pid)] for pid in killed)


async def measure_redundancy(runtime: Runtime, pool: ChaosPool, stats: ChaosStats) -> Redundancy:
    per_unit, in_flight = read_request_log(pool.request_log, stats.killed_pids)
    duplicates = await scalar(
        runtime,
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM llm_calls "
        "WHERE outcome = 'ok' GROUP BY job_id, unit HAVING count(*) > 1) AS twice",
    )
    crashes = sum(
        log.read_text().count("job_crashed") for log in pool.stderr_folder.glob("worker-*.log")
    )
    redone = sum(1 for n in per_unit.values() if n > 1)
    requests = sum(per_unit.values())
    return Redundancy(requests, len(per_unit), redone, in_flight, int(duplicates), crashes)


async def phase_chaos(url: str, courses: int) -> tuple[ChaosStats, Redundancy]:
    recreate_database(url)
    stats = ChaosStats()
    settings = Settings(database_url=url, **CHAOS_SETTINGS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pool = ChaosPool(settings_env(url, **CHAOS_SETTINGS), folder / "requests.log", folder)
        async with open_runtime(settings) as runtime:
            owner = await runtime.accounts.local_user()
            for i in range(courses):
                await runtime.queue.enqueue_course(chaos_request(i), owner)
            pool.processes = [await pool.start() for _ in range(CHAOS_WORKERS)]
            try:
                await run_until_done(runtime, pool, stats, courses)
            finally:
                await pool.stop_all()
            stats.statuses = await status_counts(runtime)
            return stats, await measure_redundancy(runtime, pool, stats)


def report_chaos(stats: ChaosStats, waste: Redundancy, courses: int) -> str:
    completed = stats.statuses["completed"]
    active = stats.statuses["pending"] + stats.statuses["running"]
    lost = courses - completed - active
    print(
        f"(c) chaos: {courses} courses (1×2×1, 12 units), {CHAOS_WORKERS} worker processes × 4, "
        f"150 ms/call, lease 2 s, SIGKILL every {CHAOS_KILL_EVERY_S:.0f} s, "
        f"max attempts {CHAOS_MAX_ATTEMPTS}"
    )
    print(f"  completed:              {completed}/{courses} in {stats.seconds:.1f} s")
    print(f"  lost:                   {lost}  (statuses at the end: {dict(stats.statuses)})")
    print(
        f"  kills:                  {stats.kills}, holding {stats.jobs_hit} running jobs "
        f"(workers that died on their own: {stats.died_alone})"
    )
    errors = f", {stats.rescue_errors} sweeps failed" if stats.rescue_errors else ""
    print(
        f"  leases rescued:         {stats.rescued} by this process{errors} (+ workers' 15 s sweeps)"
    )
    print(
        f"  max expired-lease wait: {stats.max_overdue_s * 1000:.0f} ms before rescue (sampled every 100 ms)"
    )
    print(f"  LLM requests sent:      {waste.requests} for {waste.units} distinct (job, unit)")
    print(f"  redundant LLM requests: {waste.extra_requests}  ({waste.redone_units} units redone)")
    print(
        f"  requests in flight (sent, unanswered) in the killed workers: {waste.in_flight_at_kills}"
    )
    print(f"  duplicate 'ok' llm_calls rows (same job and unit): {waste.duplicate_ok_calls}")
    print(f"  job_crashed log lines in workers: {waste.crash_lines}")
    ok = waste.extra_requests <= stats.kills
    print(f"  redundant units ({waste.extra_requests}) ≤ kills ({stats.kills}): {verdict(ok)}")
    kept = waste.extra_requests <= waste.in_flight_at_kills
    print(f"  only work in flight at the kills was redone (nothing answered): {verdict(kept)}")
    whole = lost == 0 and completed == courses
    print(f"  no job lost, all completed: {verdict(whole)}")
    return (
        f"(c) chaos: {completed}/{courses} completed, {lost} lost ({verdict(whole)}); "
        f"{waste.extra_requests} redundant units vs {stats.kills} kills ({verdict(ok)}), "
        f"vs {waste.in_flight_at_kills} in flight at the kills ({verdict(kept)}); "
        f"max expired-lease wait {stats.max_overdue_s * 1000:.0f} ms"
    )


# --- main -------------------------------------------------------------------------------


def report_claims(claims: list[Throughput], options: argparse.Namespace) -> str:
    eight = {c.label: c.per_s for c in claims if c.label.startswith(("8 loops", "4 processes"))}
    best = max(eight.values())
    print(f"  target ≥ 1,000 jobs/s with 8 workers: {verdict(best >= 1000)}  ({best:.0f}/s best)")
    print("  (procrastinate ~250/s on 4 CPUs; pgqueuer 6–18k/s batched)")
    figures = ", ".join(f"{per_s:.0f}/s ({label})" for label, per_s in eight.items())
    return f"(a) claim throughput, 8 workers, batch {options.batch}, ack {options.ack}: {figures} (target ≥ 1,000: {verdict(best >= 1000)})"


async def main(options: argparse.Namespace) -> None:
    url, summary = options.database_url, []
    if "a" in options.phases:
        print(
            f"(a) claim throughput: {options.jobs} no-op jobs, claim batch {options.batch}, "
            f"completed {'in one statement per batch' if options.ack == 'batch' else 'one by one'}"
        )
        summary.append(report_claims(await phase_claims(url, options), options))
    if "b" in options.phases:
        pickups = await phase_pickups(url, options.pickups, 4)
        summary.append(report_pickups(pickups, options.pickups, 4))
    if "c" in options.phases:
        summary.append(report_chaos(*await phase_chaos(url, options.courses), options.courses))
    print("summary")
    for line in summary:
        print(f"  {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and recreated!")
    parser.add_argument("--jobs", type=int, default=3000, help="(a) jobs per run")
    parser.add_argument("--batch", type=int, default=10, help="(a) jobs per claim")
    parser.add_argument(
        "--ack",
        choices=("batch", "each"),
        default="batch",
        help="(a) complete a claimed batch in one statement, or each job in its own transaction",
    )
    parser.add_argument("--run-limit-s", type=float, default=30.0, help="(a) cap on each run")
    parser.add_argument("--pickups", type=int, default=200, help="(b) jobs queued")
    parser.add_argument("--courses", type=int, default=50, help="(c) courses")
    parser.add_argument("--phases", default="abc", help="which of a, b, c to run")
    asyncio.run(main(parser.parse_args()))
