"""Web UI benchmark on PostgreSQL: the dashboard of a user with 10,000 jobs.

(p) Page render. A fresh database holds 10,000 jobs of one teacher (bulk-inserted rows in
    plausible states, as bench/api_seed.py makes them; the newest 20 are running), then
    VACUUM ANALYZE, as autovacuum would soon after such an insert.
    `courseforge serve --no-worker` runs as its own process; this process requests the
    dashboard `GET /` with the teacher's session cookie at a fixed arrival rate (open loop:
    latency counts from each request's scheduled start) of 50 req/s for 20 s after a 3 s
    warm-up. The baseline, measured next in the same run at the same rate: the JSON of the
    same page, `GET /api/jobs?limit=50`. Printed: p50/p95/p99 of both and their ratio.
(r) Row updates. chromium (Playwright) shows the dashboard; this process appends a
    `step_progress` event to each of the 20 running jobs in turn, as a worker does
    (the job's progress and its event in one transaction; the trigger NOTIFYs the API),
    4 events/s for 15 s. Each event is stamped just before its commit; the page records
    when the row's progress text changes to the new count (a MutationObserver, the same
    host's clock). Latency = row updated − commit stamp; missed updates are counted.

The database is dropped at the end; the benchmark reports and always exits 0.

    python -m bench.web [--database-url URL] [--rate 50] [--phases pr]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.api_http import HttpPool
from bench.api_seed import seed
from bench.api_support import ApiServer, drop_database, percentile, spread, verdict
from bench.queue import recreate_database
from bench.web_rows import measure_row_updates, report_rows
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from courseforge.store.tables import jobs, users
from courseforge.web.sessions import SESSION_COOKIE

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/courseforge_bench_web"
JOB_COUNT = 10_000
RUNNING = 20
PAGE_P95_MS = 50.0
ROW_P95_MS = 250.0
PATHS = {"dashboard": "/", "api (baseline)": "/api/jobs?limit=50"}


@dataclass
class Viewer:
    name: str
    token: str
    cookie: str
    running: list[str]  # the ids of the newest jobs, made running


async def seed_viewer(url: str) -> Viewer:
    """One organization, one teacher who owns every job; the newest RUNNING are running."""
    population = await seed(url, users=1, organizations=1, job_count=JOB_COUNT)
    owner = population.owners[0]
    settings = Settings(database_url=url, llm_provider="fake")
    async with open_runtime(settings) as runtime:
        async with runtime.database.transaction() as conn:
            # seed() makes user 0 an admin; the benchmark is about a teacher's own jobs.
            await conn.execute(users.update().values(role="teacher"))
            newest = await conn.execute(
                sa.select(jobs.c.id).order_by(jobs.c.created_at.desc()).limit(RUNNING)
            )
            running = [row.id for row in newest]
            await _make_running(conn, running, runtime.clock.now())
        user = await runtime.accounts.credential(owner.token)
        assert user is not None
        cookie = await runtime.sessions.start_session(user.user)
    _vacuum_analyze(url)
    return Viewer(owner.name, owner.token, cookie, running)


def _vacuum_analyze(url: str) -> None:
    """What autovacuum does soon after a bulk insert: planner statistics and the
    visibility map, without which the first plans read every row's heap page."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


async def _make_running(conn: AsyncConnection, job_ids: list[str], now: datetime) -> None:
    await conn.execute(
        jobs.update()
        .where(jobs.c.id.in_(job_ids))
        .values(
            status="running",
            step="lessons",
            started_at=now,
            finished_at=None,
            items_total=1000,
            items_completed=0,
            error=None,
            failed_unit=None,
            lease_owner="bench-host:1:bench",
            lease_expires_at=now + timedelta(days=1),
        )
    )


# --- (p) page render ----------------------------------------------------------------------


@dataclass
class Latencies:
    values: list[float] = field(default_factory=list)  # ms, answered 200
    errors: int = 0


async def page_load(base_url: str, viewer: Viewer, rate: float) -> dict[str, Latencies]:
    """Each path in turn at `rate`, open loop: 3 s warm-up, then 20 s measured."""
    host, port = base_url.removeprefix("http://").split(":")
    pool = HttpPool(host, int(port), 64, 10.0)
    headers = {
        "dashboard": {"Cookie": f"{SESSION_COOKIE}={viewer.cookie}"},
        "api (baseline)": {"Authorization": f"Bearer {viewer.token}"},
    }
    figures = {name: await _drive(pool, name, headers[name], rate) for name in PATHS}
    pool.close()
    return figures


async def _drive(pool: HttpPool, name: str, headers: dict[str, str], rate: float) -> Latencies:
    figures = Latencies()
    warmup_s, measured_s = 3.0, 20.0
    start = time.perf_counter() + 0.2
    running: set[asyncio.Task[None]] = set()

    async def one(scheduled: float, measured: bool) -> None:
        try:
            status, body = await pool.get(PATHS[name], headers)
            ok = status == 200 and (name != "dashboard" or b"<table" in body)
        except Exception:  # counted: the load goes on
            ok = False
        if measured and ok:
            figures.values.append((time.perf_counter() - scheduled) * 1000)
        elif measured:
            figures.errors += 1

    for index in range(int(rate * (warmup_s + measured_s))):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled, index >= warmup_s * rate))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    return figures


def report_pages(figures: dict[str, Latencies], rate: float) -> None:
    print(f"(p) page render at {rate:.0f} req/s, 20 s each, {JOB_COUNT:,} jobs of one teacher")
    for name, latency in figures.items():
        print(
            f"    {name:<16} p50/p95/p99 {spread(latency.values)} ms"
            f"  ({len(latency.values)} ok, {latency.errors} errors)"
        )
    page_p95 = percentile(figures["dashboard"].values, 95)
    base_p95 = percentile(figures["api (baseline)"].values, 95)
    print(f"    dashboard / API p95 ratio {page_p95 / base_p95:.2f}")
    print(f"    target: dashboard p95 <= {PAGE_P95_MS:.0f} ms: {verdict(page_p95 <= PAGE_P95_MS)}")


# --- main -----------------------------------------------------------------------------------


async def main(url: str, rate: float, phases: str) -> None:
    recreate_database(url)
    try:
        viewer = await seed_viewer(url)
        server = ApiServer(url, workers=1)
        await server.start()
        try:
            if "p" in phases:
                report_pages(await page_load(server.base_url, viewer, rate), rate)
            if "r" in phases:
                report_rows(await measure_row_updates(url, server.base_url, viewer), ROW_P95_MS)
        finally:
            await server.stop()
    finally:
        with contextlib.suppress(Exception):
            drop_database(url)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--phases", default="pr", help="p: page render, r: row updates")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.rate, args.phases))


if __name__ == "__main__":
    cli()
