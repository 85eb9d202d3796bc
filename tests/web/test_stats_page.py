"""The stats page (admins) and the daily series behind its charts, on both databases."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from courseforge.domain.accounts import User
from courseforge.store.database import Database
from courseforge.store.stats import DailyJobs, JobStatistics
from courseforge.web.charts import nice_ceiling, stacked_bars
from tests.api.conftest import LiveApi
from tests.store.listing_helpers import insert_job
from tests.web.conftest import browser, log_in

NOW = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)


@pytest.fixture
async def database(web: LiveApi) -> AsyncIterator[Database]:
    opened = Database(web.database_url)
    yield opened
    await opened.dispose()


async def finished_job(
    database: Database, owner: User, finished: datetime, status: str, cost: float = 0.0
) -> None:
    started = finished - timedelta(minutes=2)
    await insert_job(
        database,
        owner,
        started,
        status=status,
        started_at=started,
        finished_at=finished,
        cost_usd=cost,
        step="lessons" if status == "failed" else None,
    )


async def test_daily_series_counts_each_day_and_fills_the_empty_ones(
    web: LiveApi, database: Database
) -> None:
    alice, bob, dave = (web.users[name] for name in ("alice", "bob", "dave"))
    today = NOW.replace(hour=0, minute=0)
    await finished_job(database, alice, today + timedelta(minutes=1), "completed", 0.25)
    await finished_job(database, bob, today + timedelta(hours=15), "failed", 0.05)
    await finished_job(database, alice, today - timedelta(minutes=1), "cancelled", 0.01)
    await finished_job(database, alice, today - timedelta(days=2), "completed", 0.5)
    await finished_job(database, alice, today - timedelta(days=3), "completed", 9.0)  # too old
    await finished_job(database, dave, today, "completed", 7.0)  # another organization
    await insert_job(database, alice, today, status="running")

    series = await JobStatistics(database).daily_series(web.users["carol"], 3, NOW)
    own = await JobStatistics(database).daily_series(alice, 1, NOW)

    assert series == [
        DailyJobs(date(2026, 3, 29), completed=1, failed=0, cancelled=0, cost_usd=0.5),
        DailyJobs(date(2026, 3, 30), completed=0, failed=0, cancelled=1, cost_usd=0.01),
        DailyJobs(date(2026, 3, 31), completed=1, failed=1, cancelled=0, cost_usd=0.3),
    ]
    assert own == [DailyJobs(date(2026, 3, 31), 1, 0, 0, 0.25)]  # a teacher: their own


async def test_an_admin_sees_the_figures_and_two_charts(web: LiveApi, database: Database) -> None:
    now = datetime.now(UTC)
    for minutes, status in ((5, "completed"), (65, "completed"), (90, "failed")):
        await finished_job(database, web.users["alice"], now - timedelta(minutes=minutes), status)

    async with browser(web) as carol:
        await log_in(carol, "carol")
        response = await carol.get("/stats")

    html = response.text
    assert response.status_code == 200
    assert "<dt>Success rate</dt><dd>66.7 %</dd>" in html
    assert "<dt>Duration p50</dt><dd>2 min 00 s</dd>" in html
    assert "<td>lessons</td><td>1</td><td>33.3 %</td>" in html
    assert html.count('<svg role="img"') == 2
    assert len(re.findall(r'<rect class="series-completed"', html)) >= 1
    assert "<summary>Jobs per day as a table</summary>" in html
    assert html.count("<title id=") == 2


async def test_a_teacher_is_told_the_page_is_for_admins(web: LiveApi) -> None:
    async with browser(web) as alice:
        await log_in(alice)
        response = await alice.get("/stats")
    assert response.status_code == 403
    assert "Admins only" in response.text
    assert "Success rate" not in response.text


def test_axis_maxima_are_round_numbers() -> None:
    assert [nice_ceiling(v, 2) for v in (0, 1, 3, 5, 11, 37, 401)] == [2, 2, 4, 10, 20, 40, 1000]
    assert nice_ceiling(0.013, 0.01) == pytest.approx(0.02)


def test_stacked_bars_sit_on_each_other_and_scale_to_the_axis() -> None:
    days = [date(2026, 3, 1), date(2026, 3, 2)]

    chart = stacked_bars(
        days, {"completed": [3, 0], "failed": [1, 0]}, words="{:g}".format, minimum_top=2
    )

    completed, failed = chart.bars
    assert completed.y + completed.height == chart.bottom
    assert failed.y + failed.height == pytest.approx(completed.y)
    assert completed.height == pytest.approx(3 * failed.height)
    assert [tick.label for tick in chart.y_ticks] == ["0", "2", "4"]
    assert chart.y_ticks[-1].position == chart.top
