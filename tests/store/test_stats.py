"""Job statistics on SQLite and PostgreSQL, checked against figures worked out here from
the rows the test inserts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta

import pytest

from courseforge.clock import FakeClock
from courseforge.domain.accounts import User
from courseforge.store.database import Database
from courseforge.store.stats import JobStatistics, percentile
from tests.store.listing_helpers import People, insert_job


@dataclass(frozen=True)
class Spec:
    status: str
    seconds: float | None = None  # started to finished
    cost: float = 0.0
    step: str | None = None
    kind: str = "course"


ACME_JOBS = [
    Spec("completed", 12.5, cost=0.10),
    Spec("completed", 30.0, cost=0.30),
    Spec("completed", 45.0, cost=0.20),
    Spec("completed", 61.0, cost=0.25),
    Spec("completed", 600.0, cost=1.15),
    Spec("completed", 5.0, cost=0.01, kind="outline"),
    Spec("failed", 20.0, step="lessons"),
    Spec("failed", 25.0, step="lessons"),
    Spec("failed", 8.0, step="outline"),
    Spec("failed"),  # lost before any step began
    Spec("cancelled", 3.0, step="tasks"),
    Spec("cancelled"),
    Spec("running", step="lessons"),
    Spec("pending"),
]
# Another organization's jobs, which must not count.
GLOBEX_JOBS = [Spec("failed", 1.0, step="evaluation"), Spec("completed", 9999.0, cost=50.0)]


async def insert(database: Database, clock: FakeClock, owner: User, spec: Spec) -> None:
    started = clock.now() if spec.seconds is not None or spec.status == "running" else None
    finished = None
    if started is not None and spec.seconds is not None:
        finished = started + timedelta(seconds=spec.seconds)
    await insert_job(
        database,
        owner,
        clock.now(),
        kind=spec.kind,
        status=spec.status,
        step=spec.step,
        cost_usd=spec.cost,
        started_at=started,
        finished_at=finished,
    )
    clock.advance(1)


async def test_stats_of_the_organization(
    database: Database, people: People, clock: FakeClock
) -> None:
    for n, spec in enumerate(ACME_JOBS):
        await insert(database, clock, people.owner if n % 2 else people.peer, spec)
    for spec in GLOBEX_JOBS:
        await insert(database, clock, people.outsider, spec)

    stats = await JobStatistics(database).job_stats(people.admin)

    statuses = [spec.status for spec in ACME_JOBS]
    finished = [s for s in statuses if s in ("completed", "failed", "cancelled")]
    assert stats.counts == {s: statuses.count(s) for s in ("pending", "running", *finished)}
    assert stats.finished == len(finished)
    assert stats.success_rate == pytest.approx(statuses.count("completed") / len(finished))
    assert stats.cancellation_rate == pytest.approx(statuses.count("cancelled") / len(finished))
    failed_steps = [spec.step or "unknown" for spec in ACME_JOBS if spec.status == "failed"]
    assert stats.failures_by_step == {step: failed_steps.count(step) for step in failed_steps}
    assert stats.failure_rate_by_step == pytest.approx(
        {step: failed_steps.count(step) / len(finished) for step in failed_steps}
    )
    durations = [s.seconds for s in ACME_JOBS if s.status == "completed" and s.seconds]
    cuts = statistics.quantiles(durations, n=100, method="inclusive")
    assert stats.duration_p50_s == pytest.approx(cuts[49])
    assert stats.duration_p95_s == pytest.approx(cuts[94])
    assert stats.duration_p99_s == pytest.approx(cuts[98])
    course_costs = [s.cost for s in ACME_JOBS if s.status == "completed" and s.kind == "course"]
    assert stats.mean_cost_per_course_usd == pytest.approx(statistics.fmean(course_costs))


async def test_a_non_admin_gets_their_own_jobs_only(
    database: Database, people: People, clock: FakeClock
) -> None:
    await insert(database, clock, people.owner, Spec("completed", 10.0, cost=0.5))
    await insert(database, clock, people.owner, Spec("cancelled", 2.0))
    await insert(database, clock, people.peer, Spec("failed", 4.0, step="lessons"))

    stats = await JobStatistics(database).job_stats(people.owner)

    assert stats.finished == 2
    assert stats.success_rate == pytest.approx(0.5)
    assert stats.failures_by_step == {}
    assert stats.duration_p50_s == pytest.approx(10.0)


async def test_since_counts_the_jobs_created_from_then(
    database: Database, people: People, clock: FakeClock
) -> None:
    await insert(database, clock, people.owner, Spec("failed", 4.0, step="lessons"))
    since = clock.now()
    await insert(database, clock, people.owner, Spec("completed", 10.0, cost=0.5))

    stats = await JobStatistics(database).job_stats(people.admin, since=since)

    assert stats.counts["failed"] == 0
    assert stats.success_rate == 1.0


async def test_nothing_finished_means_no_rates(
    database: Database, people: People, clock: FakeClock
) -> None:
    await insert(database, clock, people.owner, Spec("running", step="outline"))

    stats = await JobStatistics(database).job_stats(people.admin)

    assert stats.counts == {"pending": 0, "running": 1, "completed": 0, "failed": 0, "cancelled": 0}
    assert stats.finished == 0
    assert (stats.success_rate, stats.cancellation_rate) == (None, None)
    assert (stats.failures_by_step, stats.failure_rate_by_step) == ({}, {})
    assert (stats.duration_p50_s, stats.duration_p95_s, stats.duration_p99_s) == (None,) * 3
    assert stats.mean_cost_per_course_usd is None


@pytest.mark.parametrize(
    "values", [[7.0, 1.0], [3.0, 1.0, 2.0], [float(n * n % 17) for n in range(1, 40)]]
)
def test_percentile_matches_the_standard_library(values: list[float]) -> None:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for q, expected in ((0.5, cuts[49]), (0.95, cuts[94]), (0.99, cuts[98])):
        assert percentile(values, q) == pytest.approx(expected)
    assert percentile([4.0], 0.99) == 4.0
    assert percentile([], 0.5) is None
