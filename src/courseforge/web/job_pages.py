"""The job page: one job's progress, steps and log, live.

`/jobs/{id}` renders the whole page; `/jobs/{id}/panel` renders the same panel again
with the log lines after a given event id. The page's script (static/job.js) fetches
that panel whenever the job's event stream (or, failing that, its polled snapshot) says
something changed, so one template draws the page, with or without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from courseforge.domain.accounts import User
from courseforge.domain.jobs import FINISHED_STATUSES
from courseforge.runtime import Runtime
from courseforge.store.event_feed import newest_event_id
from courseforge.store.job_listing import LogLine
from courseforge.store.job_store import JobNotFoundError
from courseforge.store.job_view import JobView, snapshot_view
from courseforge.web.job_display import generating_line, status_message, step_checklist
from courseforge.web.pages import SignedIn, not_found_page, page
from courseforge.web.sessions import runtime_of

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 5  # the snapshot's polling interval once the event stream is given up
MAX_EVENT_ID = 2**63 - 1
AfterEventId = Annotated[int, Query(ge=0, le=MAX_EVENT_ID, description="log lines after this")]


@dataclass(frozen=True)
class JobPanel:
    job: JobView
    log: list[LogLine]
    outline_given: bool  # a course from an approved outline: its outline step is done

    @property
    def finished(self) -> bool:
        return self.job.status in FINISHED_STATUSES


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, job_id: str, user: SignedIn) -> Response:
    runtime = runtime_of(request)
    # The newest event id of all, read before the snapshot: the job's stream replays its
    # events after it, so none is missed, and the page (read later) can only show more,
    # which the script skips by id.
    last_event_id = await newest_event_id(runtime.database)
    panel = await _read_panel(runtime, job_id, user, after=0)
    if panel is None:
        return not_found_page(request, user, "job")
    return page(
        request,
        "job.html",
        user=user,
        nav="dashboard",
        last_event_id=last_event_id,
        poll_seconds=POLL_SECONDS,
        **_panel_context(panel),
    )


@router.get("/jobs/{job_id}/panel", response_class=HTMLResponse)
async def job_panel(
    request: Request, job_id: str, user: SignedIn, after: AfterEventId = 0
) -> Response:
    """The panel and the log lines after event `after`, for the page's script."""
    panel = await _read_panel(runtime_of(request), job_id, user, after=after)
    if panel is None:
        return not_found_page(request, user, "job")
    return page(request, "job_panel_update.html", user=user, **_panel_context(panel))


async def _read_panel(runtime: Runtime, job_id: str, user: User, *, after: int) -> JobPanel | None:
    """The job as `user` may see it, and its log after event `after`; None when it is not
    theirs or does not exist (the same 404 either way)."""
    try:
        snapshot = await runtime.reads.jobs.snapshot(job_id, user)
        log = await runtime.reads.jobs.logs(job_id, user)
    except JobNotFoundError:
        return None
    view = snapshot_view(snapshot, runtime.clock.now())
    fresh_log = [line for line in log if line.event_id > after]
    return JobPanel(view, fresh_log, outline_given=snapshot.job.outline is not None)


def _panel_context(panel: JobPanel) -> dict[str, Any]:
    job = panel.job
    steps = step_checklist(job, outline_given=panel.outline_given)
    return {
        "job": job,
        "log": panel.log,
        "finished": panel.finished,
        "steps": steps,
        "generating": generating_line(job, steps),
        "status_message": status_message(job),
    }
