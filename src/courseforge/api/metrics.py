"""Prometheus metrics of one API process, in a registry of its own (not the global one)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from courseforge.domain.jobs import JobStatus
from courseforge.logs import get_logger
from courseforge.store.gauges import SystemGauges

_log = get_logger(__name__)


class ApiMetrics:
    def __init__(self, sse_connections: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.http_latency = Histogram(
            "courseforge_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        sse = Gauge("courseforge_sse_connections", "Open event streams", registry=self.registry)
        sse.set_function(lambda: float(sse_connections()))
        self.jobs = Gauge("courseforge_jobs", "Jobs by status", ["status"], registry=self.registry)
        self.queue_depth = Gauge("courseforge_queue_depth", "Pending jobs", registry=self.registry)
        self.oldest_pending = Gauge(
            "courseforge_oldest_pending_age_seconds",
            "Age of the oldest pending job",
            registry=self.registry,
        )
        labels = ["provider", "model", "outcome"]
        self.llm_calls = Gauge(
            "courseforge_llm_calls", "LLM calls by outcome", labels, registry=self.registry
        )
        self.llm_tokens = Gauge(
            "courseforge_llm_tokens",
            "LLM tokens",
            [*labels, "direction"],
            registry=self.registry,
        )
        self.llm_cost = Gauge(
            "courseforge_llm_cost_usd", "LLM cost in USD", labels, registry=self.registry
        )

    def render(self, gauges: SystemGauges) -> bytes:
        for status in JobStatus:
            self.jobs.labels(status).set(gauges.jobs_by_status.get(status, 0))
        self.queue_depth.set(gauges.jobs_by_status.get(JobStatus.PENDING, 0))
        self.oldest_pending.set(gauges.oldest_pending_age_s)
        for usage in gauges.llm_usage:
            labels = (usage.provider, usage.model, usage.outcome)
            self.llm_calls.labels(*labels).set(usage.calls)
            self.llm_tokens.labels(*labels, "in").set(usage.tokens_in)
            self.llm_tokens.labels(*labels, "out").set(usage.tokens_out)
            self.llm_cost.labels(*labels).set(usage.cost_usd)
        return generate_latest(self.registry)


class LatencyMiddleware:
    """Observes every HTTP request's latency under its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], ApiMetrics | None]) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            metrics = self._metrics()
            route = getattr(scope.get("route"), "path", "unmatched")
            if metrics is not None:
                metrics.http_latency.labels(scope["method"], route, str(status)).observe(elapsed)
            _log.info(
                "http_request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                ms=round(elapsed * 1000, 1),
            )
