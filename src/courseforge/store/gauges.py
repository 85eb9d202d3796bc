"""System-wide figures for /metrics, read from the database so every process agrees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from courseforge.store.database import Database
from courseforge.store.tables import jobs, llm_calls


@dataclass(frozen=True)
class ModelUsage:
    provider: str
    model: str
    outcome: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


@dataclass(frozen=True)
class SystemGauges:
    jobs_by_status: dict[str, int]
    oldest_pending_age_s: float
    llm_usage: list[ModelUsage]


async def read_gauges(database: Database, now: datetime) -> SystemGauges:
    by_status = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
    oldest = sa.select(sa.func.min(jobs.c.created_at)).where(jobs.c.status == "pending")
    usage = sa.select(
        llm_calls.c.provider,
        llm_calls.c.model,
        llm_calls.c.outcome,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(llm_calls.c.tokens_in), 0),
        sa.func.coalesce(sa.func.sum(llm_calls.c.tokens_out), 0),
        sa.func.coalesce(sa.func.sum(llm_calls.c.cost_usd), 0.0),
    ).group_by(llm_calls.c.provider, llm_calls.c.model, llm_calls.c.outcome)
    async with database.connect() as conn:
        counts = {row[0]: int(row[1]) for row in await conn.execute(by_status)}
        oldest_at = (await conn.execute(oldest)).scalar()
        models = [
            ModelUsage(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), float(r[6]))
            for r in await conn.execute(usage)
        ]
    if oldest_at is not None and oldest_at.tzinfo is None:  # SQLite's aggregate is naive
        oldest_at = oldest_at.replace(tzinfo=now.tzinfo)
    age = (now - oldest_at).total_seconds() if oldest_at else 0.0
    return SystemGauges(counts, max(0.0, age), models)
