"""The composition root: the one place that wires settings to concrete parts.

`open_runtime` opens everything a run needs: the database side (stores, queue, the
API's read models, the LISTEN readers) and the LLM (provider, gateway, pipeline,
workers). `open_database_runtime` opens the database side alone, for commands that
call no model (`jobs`, `users`): they need no key, no model file, no provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from courseforge.clock import Clock, SystemClock
from courseforge.domain.usage import LLMCallRecord
from courseforge.llm.gateway import CallRecorder, LLMGateway, RetryPolicy
from courseforge.llm.port import LLMProvider
from courseforge.llm.pricing import PriceTable
from courseforge.llm.registry import ProviderChoice, build_provider, choose_provider
from courseforge.pipeline.events import EventSink, FanOut
from courseforge.pipeline.runner import CoursePipeline
from courseforge.queue.job_queue import JobQueue, QueuePolicy
from courseforge.queue.queries import RunningCaps
from courseforge.queue.quotas import CreationQuotas
from courseforge.queue.wakeup import EVENTS_CHANNEL, listen_channel, listen_for_jobs
from courseforge.settings import Settings
from courseforge.store.accounts import AccountStore
from courseforge.store.course_listing import CourseListing
from courseforge.store.database import Database, is_sqlite
from courseforge.store.idempotency import IdempotencyStore
from courseforge.store.job_listing import JobListing
from courseforge.store.job_store import JobStore
from courseforge.store.outages import BackoffPolicy
from courseforge.store.sessions import SessionStore
from courseforge.store.stats import JobStatistics
from courseforge.worker.worker import Worker, WorkerConfig, new_worker_id

ETA_HISTORY_TTL_S = 10.0  # how stale the history behind an ETA may be
# Runs until the event is set: a LISTEN reader.
Listener = Callable[[asyncio.Event], Coroutine[object, object, None]]


class _Unbound:
    """Placeholder recorder: each job binds its own before calling the model."""

    async def record_call(self, record: LLMCallRecord) -> None:
        raise RuntimeError(f"LLM call outside a job: {record.unit}")


@dataclass(frozen=True)
class ReadModels:
    """What the API reads (and remembers) on a user's behalf, beside the job store."""

    jobs: JobListing
    courses: CourseListing
    idempotency: IdempotencyStore
    stats: JobStatistics


@dataclass
class DatabaseRuntime:
    settings: Settings
    database: Database
    store: JobStore
    accounts: AccountStore
    sessions: SessionStore
    queue: JobQueue
    reads: ReadModels
    clock: Clock

    @property
    def backoff(self) -> BackoffPolicy:
        """How every loop of this process waits while the database is out of reach."""
        return BackoffPolicy(max_s=self.settings.db_retry_max_s)

    def event_listener(
        self, on_job: Callable[[str], None], on_reconnect: Callable[[], None]
    ) -> Listener | None:
        """Hands `on_job` the id of each job with new events, from any host's workers
        (PostgreSQL NOTIFY), until stopped; `on_reconnect` after a gap in which some may
        have been missed. None on SQLite, which has no NOTIFY."""
        url, backoff = self.settings.database_url, self.backoff
        if is_sqlite(url):
            return None

        async def listen(stop: asyncio.Event) -> None:
            await listen_channel(
                url, EVENTS_CHANNEL, on_job, stop, on_reconnect=on_reconnect, backoff=backoff
            )

        return listen


@dataclass
class Runtime(DatabaseRuntime):
    choice: ProviderChoice
    llm: LLMGateway

    def pipeline(self, events: EventSink, holder: str | None = None) -> CoursePipeline:
        return CoursePipeline(self.store, self.llm, events, self.clock, holder)

    def worker(self, events: EventSink | None = None, *, concurrency: int | None = None) -> Worker:
        """A worker whose jobs run this runtime's pipeline (a fresh one per job run)."""
        sink = events or FanOut()
        worker_id = new_worker_id()

        async def run_job(job_id: str) -> str | None:
            return await self.pipeline(sink, holder=worker_id).run(job_id)

        config = worker_config(self.settings, self.backoff, concurrency)
        listen = None
        if not is_sqlite(self.settings.database_url):
            url, backoff = self.settings.database_url, self.backoff

            async def listen(wake: Callable[[], None], stop: asyncio.Event) -> None:
                await listen_for_jobs(url, wake, stop, backoff=backoff)

        worker = Worker(self.queue, self.store, run_job, config, worker_id, listen=listen)
        self.queue.wake_on_new_work(worker.wake)
        return worker


def worker_config(
    settings: Settings, backoff: BackoffPolicy, concurrency: int | None = None
) -> WorkerConfig:
    poll_s = settings.poll_interval_s
    return WorkerConfig(
        concurrency=concurrency or settings.worker_concurrency,
        poll_interval_s=poll_s,
        maintenance_interval_s=settings.maintenance_interval_s,
        retention=timedelta(hours=settings.retention_hours),
        shutdown_grace_s=settings.shutdown_grace_s,
        backoff=backoff,
        # A claim loop that has not gone round for a lease length (and for two polls
        # or backoffs) is stuck: it would have noticed a lost lease by then.
        stall_s=max(settings.lease_s, 2 * (poll_s + backoff.max_s)),
    )


def make_gateway(
    provider: LLMProvider,
    choice: ProviderChoice,
    settings: Settings,
    clock: Clock,
    recorder: CallRecorder | None = None,
) -> LLMGateway:
    concurrency = min(settings.llm_concurrency, choice.max_concurrency or settings.llm_concurrency)
    return LLMGateway(
        provider,
        choice.route,
        recorder=recorder or _Unbound(),
        prices=PriceTable(settings.prices),
        concurrency=concurrency,
        tokens_per_minute=settings.llm_tokens_per_minute,
        policy=RetryPolicy(
            max_attempts=settings.llm_max_attempts, call_timeout_s=settings.llm_timeout_s
        ),
        clock=clock,
    )


def running_caps(settings: Settings) -> RunningCaps:
    return RunningCaps(
        student=settings.max_running_student,
        teacher=settings.max_running_teacher,
        admin=settings.max_running_admin,
        organization=settings.max_running_per_organization,
        total=settings.max_running_total,
    )


def creation_quotas(settings: Settings) -> CreationQuotas:
    return CreationQuotas(
        student=settings.jobs_per_hour_student,
        teacher=settings.jobs_per_hour_teacher,
        admin=settings.jobs_per_hour_admin,
    )


@asynccontextmanager
async def open_database_runtime(
    settings: Settings, *, clock: Clock | None = None
) -> AsyncIterator[DatabaseRuntime]:
    """The database side alone: for commands that call no model."""
    clock = clock or SystemClock()
    database = Database(settings.database_url, pool_size=settings.db_pool_size)
    try:
        yield _database_runtime(settings, database, clock)
    finally:
        await database.dispose()


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    provider: LLMProvider | None = None,
    clock: Clock | None = None,
    choice: ProviderChoice | None = None,
) -> AsyncIterator[Runtime]:
    """Everything a run needs. `choice`: the provider the caller already chose (and
    announced); `provider` replaces the configured one (tests, benchmarks)."""
    choice = choice or choose_provider(settings)
    provider = provider or build_provider(choice, settings)
    try:
        async with open_database_runtime(settings, clock=clock) as base:
            gateway = make_gateway(provider, choice, settings, base.clock)
            yield Runtime(
                base.settings,
                base.database,
                base.store,
                base.accounts,
                base.sessions,
                base.queue,
                base.reads,
                base.clock,
                choice,
                gateway,
            )
    finally:
        await provider.aclose()


def _database_runtime(settings: Settings, database: Database, clock: Clock) -> DatabaseRuntime:
    store = JobStore(database, clock)
    policy = QueuePolicy(
        lease_s=settings.lease_s,
        max_attempts=settings.job_max_attempts,
        max_runs=settings.job_max_runs,
        backoff_initial_s=settings.retry_backoff_s,
    )
    reads = ReadModels(
        jobs=JobListing(database, history_ttl_s=ETA_HISTORY_TTL_S),
        courses=CourseListing(database, clock),
        idempotency=IdempotencyStore(database, clock),
        stats=JobStatistics(database),
    )
    return DatabaseRuntime(
        settings,
        database,
        store,
        AccountStore(database, clock, cache_s=settings.auth_cache_s),
        SessionStore(
            database,
            clock,
            idle=timedelta(hours=settings.session_idle_hours),
            lifetime=timedelta(days=settings.session_max_days),
        ),
        JobQueue(database, store, clock, policy, running_caps(settings), creation_quotas(settings)),
        reads,
        clock,
    )
