"""Liveness, readiness, Prometheus metrics and the admins' statistics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from courseforge.api.context import Context, CurrentAdmin, metrics_reader
from courseforge.api.errors import ApiError, responses
from courseforge.api.schemas import Health
from courseforge.store.database import current_revision, head_revision
from courseforge.store.gauges import read_gauges
from courseforge.store.stats import JobStats

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up (it says nothing about the database)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses=responses(503))
async def readyz(context: Context) -> Health:
    """The database answers, its schema is at this code's newest migration, and the
    in-process worker's loops turn (an API-only replica has none)."""
    try:
        revision = await current_revision(context.runtime.database)
    except Exception as error:  # any driver error means: not ready
        raise ApiError(503, f"the database is unreachable: {type(error).__name__}") from None
    if context.worker is not None and not context.worker.alive():
        raise ApiError(503, "the in-process worker's loop is not running (stopped or stuck)")
    expected = head_revision()
    if revision != expected:
        raise ApiError(
            503,
            f"the database is at migration {revision}, not {expected}: run courseforge db upgrade",
        )
    return Health(status="ok", database="reachable", migration=revision)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **responses(401)},
    dependencies=[Depends(metrics_reader)],
)
async def metrics(context: Context) -> Response:
    """Prometheus text: HTTP latency by route, jobs, queue, LLM usage, open streams.
    With COURSEFORGE_METRICS_TOKEN set, only for `Authorization: Bearer <that token>`."""
    gauges = await read_gauges(context.runtime.database, context.runtime.clock.now())
    return Response(
        context.metrics.render(gauges), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


@router.get("/api/stats", response_model=JobStats, responses=responses(401, 403))
async def stats(context: Context, admin: CurrentAdmin) -> JobStats:
    """Success rate, duration percentiles, failure rate by step, cancellations, cost (admins)."""
    return await context.stats.job_stats(admin)
