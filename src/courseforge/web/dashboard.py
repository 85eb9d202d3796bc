"""The queue dashboard, the home page: the viewer's jobs, live.

The page lists a page of jobs under a filter tab and a search; static/dashboard.js keeps
it live over one event stream and re-fetches only what an event changed: a row
(`/jobs/{id}/row`), the tab counts (`/dashboard/tabs`), an open log (`/jobs/{id}/log`).
Each fragment is rendered from the same partial as the page, so they never differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from courseforge.domain.accounts import User
from courseforge.domain.events import EventType
from courseforge.runtime import Runtime
from courseforge.store.event_feed import newest_event_id
from courseforge.store.job_listing import MAX_SEARCH_LENGTH, JobCounts
from courseforge.store.job_store import JobNotFoundError
from courseforge.store.job_view import JobView, job_view, snapshot_view
from courseforge.store.pages import InvalidCursorError
from courseforge.web.dashboard_query import (
    TABS,
    BadDashboardQueryError,
    DashboardQuery,
    parse_query,
)
from courseforge.web.pages import TEMPLATES, SignedIn, page
from courseforge.web.sessions import runtime_of

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
BAD_CURSOR = "This page link is damaged or out of date: start again from the newest jobs."
LOG_LEVELS = ("info", "warning", "error", "success")
EVENT_TYPES = " ".join(get_args(EventType))  # the stream's `event:` names, for the script


@dataclass(frozen=True)
class Tab:
    label: str
    count: int
    url: str
    current: bool


@router.get("/", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    user: SignedIn,
    status: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    queued: str | None = None,
) -> Response:
    runtime = runtime_of(request)
    # Read before the jobs: the script's stream resumes after it, so no event between
    # this read and the stream's start is missed (at worst one is seen twice).
    last_event_id = await newest_event_id(runtime.database)
    try:
        query = parse_query(status, q, cursor)
        listing = await runtime.reads.jobs.list_jobs(
            user, status=query.status, limit=PAGE_SIZE, cursor=query.cursor, search=query.search
        )
    except InvalidCursorError:
        return _refused(request, user, BAD_CURSOR)
    except BadDashboardQueryError as problem:
        return _refused(request, user, str(problem))
    counts = await runtime.reads.jobs.count_jobs(user, search=query.search)
    now = runtime.clock.now()
    return page(
        request,
        "dashboard.html",
        user=user,
        nav="dashboard",
        query=query,
        jobs=[job_view(job, now) for job in listing.items],
        next_cursor=listing.next_cursor,
        tabs=_tabs(query, counts),
        queued=await _queued_job(runtime, user, queued),
        now=now,
        max_search=MAX_SEARCH_LENGTH,
        event_types=EVENT_TYPES,
        last_event_id=last_event_id,
    )


@router.get("/jobs/{job_id}/row", response_class=HTMLResponse)
async def job_row(request: Request, user: SignedIn, job_id: str) -> Response:
    """One job's table row, as the page renders it (the script swaps it in)."""
    runtime = runtime_of(request)
    job = await _visible_view(runtime, user, job_id)
    if job is None:
        return _fragment_not_found()
    return _fragment(request, "_job_row.html", job=job, now=runtime.clock.now())


@router.get("/jobs/{job_id}/log", response_class=HTMLResponse)
async def job_log(request: Request, user: SignedIn, job_id: str) -> Response:
    """One job's log lines, oldest first, for the row's expandable log viewer."""
    try:
        lines = await runtime_of(request).reads.jobs.logs(job_id, user)
    except JobNotFoundError:
        return _fragment_not_found()
    return _fragment(request, "_job_log.html", lines=lines, levels=LOG_LEVELS)


@router.get("/dashboard/tabs", response_class=HTMLResponse)
async def dashboard_tabs(
    request: Request, user: SignedIn, status: str | None = None, q: str | None = None
) -> Response:
    """The filter tabs with fresh counts (the script re-fetches them when a job ends)."""
    try:
        query = parse_query(status, q, None)
    except BadDashboardQueryError as problem:
        return HTMLResponse(str(problem), status_code=400)
    counts = await runtime_of(request).reads.jobs.count_jobs(user, search=query.search)
    return _fragment(request, "_dashboard_tabs.html", tabs=_tabs(query, counts), query=query)


def _tabs(query: DashboardQuery, counts: JobCounts) -> list[Tab]:
    return [
        Tab(label, counts.of(value), query.url(status=value), value == query.status)
        for value, label in TABS
    ]


async def _visible_view(runtime: Runtime, user: User, job_id: str) -> JobView | None:
    try:
        snapshot = await runtime.reads.jobs.snapshot(job_id, user)
    except JobNotFoundError:
        return None
    return snapshot_view(snapshot, runtime.clock.now())


async def _queued_job(runtime: Runtime, user: User, job_id: str | None) -> JobView | None:
    """The job the wizard just queued (`?queued=<id>`), if the viewer may see it."""
    return await _visible_view(runtime, user, job_id) if job_id else None


def _refused(request: Request, user: User, message: str) -> Response:
    return page(request, "dashboard.html", status=400, user=user, nav="dashboard", error=message)


def _fragment(request: Request, template: str, **context: Any) -> Response:
    return TEMPLATES.TemplateResponse(request, template, context)


def _fragment_not_found() -> Response:
    return HTMLResponse("Not found", status_code=404)
