"""The FastAPI application: routes, middleware, and what runs beside them in the process.

Its lifespan opens the runtime (the composition root), starts the event broker and its
PostgreSQL listener, and — unless `with_worker` is off, for API-only replicas — a worker
whose events reach the broker directly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from courseforge import __version__
from courseforge.api.broker import BrokerSink, EventBroker
from courseforge.api.context import ApiContext
from courseforge.api.docs import install_docs
from courseforge.api.errors import install_error_handlers
from courseforge.api.limits import RequestGuard
from courseforge.api.metrics import ApiMetrics, LatencyMiddleware
from courseforge.api.routes import courses, events, jobs, operations, outlines
from courseforge.clock import Clock
from courseforge.llm.port import LLMProvider
from courseforge.logs import configure_logging
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.outages import Backoff
from courseforge.web import install_web

HOUSEKEEPING_INTERVAL_S = 300.0


def create_app(
    settings: Settings,
    *,
    with_worker: bool = True,
    provider: LLMProvider | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The app; `provider` and `clock` replace the configured ones (tests, benchmarks)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, provider=provider, clock=clock) as runtime:
            context = _context(runtime, with_worker)
            app.state.context = context
            stop = asyncio.Event()
            tasks = [asyncio.create_task(work) for work in _background(context, stop)]
            try:
                yield
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)

    app = FastAPI(
        title="courseforge",
        version=__version__,
        description="Generate courses with an LLM through a durable job queue.",
        lifespan=lifespan,
        docs_url=None,  # served from local files by install_docs
        redoc_url=None,
    )
    install_docs(app)
    install_error_handlers(app)
    for module in (outlines, courses, jobs, events, operations):
        app.include_router(module.router)
    install_web(app, settings)  # the pages; its CSRF check runs inside the request guard
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.api_max_body_bytes,
        upload_bytes=settings.upload_max_bytes,
    )
    app.add_middleware(LatencyMiddleware, metrics=lambda: _metrics_of(app))
    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn imports in each of its worker processes (`serve --workers N`)."""
    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return create_app(settings, with_worker=not settings.api_only)


def _context(runtime: Runtime, with_worker: bool) -> ApiContext:
    """The runtime's parts, and the API's own: the event broker, its metrics, and the
    in-process worker (its events reach the broker at once)."""
    broker = EventBroker(
        runtime.database, sweep_interval_s=runtime.settings.event_sweep_s, backoff=runtime.backoff
    )
    reads = runtime.reads
    return ApiContext(
        runtime=runtime,
        broker=broker,
        jobs=reads.jobs,
        courses=reads.courses,
        idempotency=reads.idempotency,
        stats=reads.stats,
        metrics=ApiMetrics(lambda: broker.connections),
        worker=runtime.worker(BrokerSink(broker)) if with_worker else None,
    )


def _background(context: ApiContext, stop: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
    broker, runtime = context.broker, context.runtime
    work = [broker.run(stop), _housekeeping(context, stop)]
    listen = runtime.event_listener(broker.job_changed, on_reconnect=broker.everything_changed)
    if listen is not None:
        work.append(listen(stop))
    if context.worker is not None:
        work.append(context.worker.run(stop))
    return work


async def _housekeeping(context: ApiContext, stop: asyncio.Event) -> None:
    """Forgets what only the API writes once it is of no use: used-up stream tickets,
    expired browser sessions, and idempotency records older than the retention period."""
    retention = timedelta(hours=context.runtime.settings.retention_hours)
    retries = Backoff("housekeeping", context.runtime.backoff)
    while True:
        try:
            await context.runtime.accounts.purge_expired_tickets()
            await context.runtime.sessions.purge_expired()
            await context.idempotency.purge_older_than(retention)
            retries.succeeded()
        except Exception as error:  # the next round tries again
            retries.failed(error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=HOUSEKEEPING_INTERVAL_S)
            return


def _metrics_of(app: FastAPI) -> ApiMetrics | None:
    context: ApiContext | None = getattr(app.state, "context", None)
    return context.metrics if context else None
