"""The admins' statistics page, its charts drawn as SVG on the server.

A signed-in teacher who opens /stats gets a 403 page, not a 404: the API answers
/api/stats with 403 for the same user, the page's existence is no secret (it is in the
docs), and "only admins may see this" tells the person what to do (ask an admin),
where "not found" would only puzzle them. The 404 rule is for other people's jobs and
courses, whose ids must not be confirmed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from courseforge.store.stats import DailyJobs
from courseforge.web.charts import BarChart, stacked_bars
from courseforge.web.formatting import money
from courseforge.web.pages import SignedIn, page
from courseforge.web.sessions import runtime_of

router = APIRouter(include_in_schema=False)
CHART_DAYS = 30


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(request: Request, user: SignedIn) -> Response:
    if user.role != "admin":
        return page(request, "stats_forbidden.html", status=403, user=user)
    runtime = runtime_of(request)
    stats = await runtime.reads.stats.job_stats(user)
    daily = await runtime.reads.stats.daily_series(user, CHART_DAYS, runtime.clock.now())
    return page(
        request,
        "stats.html",
        user=user,
        nav="stats",
        stats=stats,
        daily=daily,
        jobs_chart=jobs_chart(daily),
        cost_chart=cost_chart(daily),
    )


def jobs_chart(daily: list[DailyJobs]) -> BarChart:
    series = {
        "completed": [entry.completed for entry in daily],
        "failed": [entry.failed for entry in daily],
        "cancelled": [entry.cancelled for entry in daily],
    }
    return stacked_bars(
        [entry.day for entry in daily], series, words=lambda v: f"{v:g}", minimum_top=2
    )


def cost_chart(daily: list[DailyJobs]) -> BarChart:
    series = {"spent": [entry.cost_usd for entry in daily]}
    return stacked_bars([entry.day for entry in daily], series, words=money, minimum_top=0.01)
