"""The composition root: the one place that wires settings to concrete parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
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
from courseforge.queue.wakeup import listen_for_jobs
from courseforge.settings import Settings
from courseforge.store.accounts import AccountStore
from courseforge.store.database import Database, is_sqlite
from courseforge.store.job_store import JobStore
from courseforge.worker.worker import Worker, WorkerConfig, new_worker_id


class _Unbound:
    """Placeholder recorder: each job binds its own before calling the model."""

    async def record_call(self, record: LLMCallRecord) -> None:
        raise RuntimeError(f"LLM call outside a job: {record.unit}")


@dataclass
class Runtime:
    settings: Settings
    choice: ProviderChoice
    database: Database
    store: JobStore
    accounts: AccountStore
    queue: JobQueue
    llm: LLMGateway
    clock: Clock

    def pipeline(self, events: EventSink, holder: str | None = None) -> CoursePipeline:
        return CoursePipeline(self.store, self.llm, events, self.clock, holder)

    def worker(self, events: EventSink | None = None, *, concurrency: int | None = None) -> Worker:
        """A worker whose jobs run this runtime's pipeline (a fresh one per job run)."""
        sink = events or FanOut()
        worker_id = new_worker_id()

        async def run_job(job_id: str) -> str | None:
            return await self.pipeline(sink, holder=worker_id).run(job_id)

        config = WorkerConfig(
            concurrency=concurrency or self.settings.worker_concurrency,
            poll_interval_s=self.settings.poll_interval_s,
            maintenance_interval_s=self.settings.maintenance_interval_s,
            retention=timedelta(hours=self.settings.retention_hours),
            shutdown_grace_s=self.settings.shutdown_grace_s,
        )
        listen = None
        if not is_sqlite(self.settings.database_url):
            url = self.settings.database_url

            async def listen(wake: Callable[[], None], stop: asyncio.Event) -> None:
                await listen_for_jobs(url, wake, stop)

        worker = Worker(self.queue, self.store, run_job, config, worker_id, listen=listen)
        self.queue.wake_on_new_work(worker.wake)
        return worker


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
async def open_runtime(
    settings: Settings, *, provider: LLMProvider | None = None, clock: Clock | None = None
) -> AsyncIterator[Runtime]:
    """Everything a run needs; `provider` replaces the configured one (tests, benchmarks)."""
    clock = clock or SystemClock()
    choice = choose_provider(settings)
    provider = provider or build_provider(choice, settings)
    database = Database(settings.database_url, pool_size=settings.db_pool_size)
    try:
        gateway = make_gateway(provider, choice, settings, clock)
        store = JobStore(database, clock)
        policy = QueuePolicy(
            lease_s=settings.lease_s,
            max_attempts=settings.job_max_attempts,
            backoff_initial_s=settings.retry_backoff_s,
        )
        yield Runtime(
            settings,
            choice,
            database,
            store,
            AccountStore(database, clock),
            JobQueue(
                database, store, clock, policy, running_caps(settings), creation_quotas(settings)
            ),
            gateway,
            clock,
        )
    finally:
        await provider.aclose()
        await database.dispose()
