"""Live events as Server-Sent Events, replayed from Last-Event-ID, then followed: one
job's (it ends after the job's last event), or every job the viewer may see (it never
ends by itself).

A stream reads the store once (the replay), then waits on the process's event broker
and never queries per client again.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from courseforge.api.context import Context, CurrentCredential, optional_user
from courseforge.api.errors import ApiError, responses
from courseforge.api.params import JobId, declared_text
from courseforge.api.routes.jobs import visible_snapshot
from courseforge.api.schemas import StreamTicket
from courseforge.domain.accounts import User
from courseforge.domain.events import TERMINAL_EVENTS, JobEvent
from courseforge.domain.jobs import FINISHED_STATUSES
from courseforge.store.event_feed import newest_event_id, viewer_events_after

router = APIRouter(prefix="/api", tags=["events"])
TICKET_TTL_S = 60.0
VIEWER_REPLAY_LIMIT = 1000  # a viewer-wide resume replays at most this many, the newest
MAX_EVENT_ID_DIGITS = 18  # below 2**63, the column's range
# ASCII digits: `²` and `①` are digits to str.isdigit but not to int().
_EVENT_ID = re.compile(rf"[0-9]{{0,{MAX_EVENT_ID_DIGITS}}}")
_EVENT_ID_RULE = declared_text(f"^{_EVENT_ID.pattern}$")


async def stream_user(
    job_id: JobId,
    context: Context,
    user: Annotated[User | None, Depends(optional_user)],
    ticket: Annotated[
        str | None, Query(max_length=200, description="a single-use stream ticket")
    ] = None,
) -> User:
    """The bearer token's user, or the one a stream ticket for this job was issued to."""
    if user is not None:
        return user
    if ticket:
        holder = await context.runtime.accounts.redeem_stream_ticket(ticket, job_id)
        if holder is not None:
            return holder
        raise ApiError(401, "the stream ticket is unknown, used, expired or for another job")
    raise ApiError(
        401,
        "send an API token (Authorization: Bearer) or a ticket from POST .../stream-ticket",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def viewer(user: Annotated[User | None, Depends(optional_user)]) -> User:
    """The bearer token's user, or the web UI's signed-in one (a browser's EventSource
    sends the session cookie)."""
    if user is None:
        raise ApiError(
            401,
            "send an API token (Authorization: Bearer) or sign in to the web UI",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


async def resume_after(
    last_event_id: Annotated[
        str | None, Header(description="resume after this event id"), _EVENT_ID_RULE
    ] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(alias="last_event_id", description="Last-Event-ID, for clients without headers"),
        _EVENT_ID_RULE,
    ] = None,
) -> int | None:
    """The id to resume after: the header when it names an event, else the query; None
    when neither does. Both are checked, whichever is used."""
    from_header, from_query = _event_id(last_event_id), _event_id(last_event_id_query)
    if last_event_id:
        return from_header
    return from_query if last_event_id_query else None


ResumeAfter = Annotated[int | None, Depends(resume_after)]
_STREAM_RESPONSE = {"content": {"text/event-stream": {}}, "description": "the event stream"}


@router.get(
    "/events",
    responses={**responses(400, 401, 422), 200: _STREAM_RESPONSE},
    response_class=EventSourceResponse,
)
async def viewer_events(
    context: Context,
    user: Annotated[User, Depends(viewer)],
    resume: ResumeAfter,
) -> EventSourceResponse:
    """The events of every job you may see (your own; an admin: the organization's), as
    they happen. Each event's data names its job (`jobId`).

    Without Last-Event-ID it starts now, with no history (read the jobs list for the
    present state). With it, it first replays the events after that id, at most the
    newest 1,000 (after a longer gap, reload the jobs list). It never ends by itself;
    keep-alive comments flow while it is quiet."""
    database = context.runtime.database
    after = await newest_event_id(database) if resume is None else resume
    heartbeat = context.runtime.settings.sse_heartbeat_s
    return EventSourceResponse(
        _follow_viewer(context, user, after), ping=heartbeat, send_timeout=30
    )


@router.get(
    "/jobs/{job_id}/events",
    responses={**responses(400, 401, 404, 422), 200: _STREAM_RESPONSE},
    response_class=EventSourceResponse,
)
async def job_events(
    job_id: JobId,
    context: Context,
    user: Annotated[User, Depends(stream_user)],
    resume: ResumeAfter,
) -> EventSourceResponse:
    """The job's events: replays what came after Last-Event-ID, then follows live."""
    snapshot = await visible_snapshot(context, job_id, user)
    after = resume or 0
    finished = snapshot.job.status in FINISHED_STATUSES
    heartbeat = context.runtime.settings.sse_heartbeat_s
    return EventSourceResponse(
        _follow(context, job_id, after, finished), ping=heartbeat, send_timeout=30
    )


@router.post(
    "/jobs/{job_id}/stream-ticket",
    status_code=201,
    response_model=StreamTicket,
    responses=responses(401, 404, 422, 429),
)
async def stream_ticket(
    job_id: JobId, context: Context, credential: CurrentCredential
) -> StreamTicket:
    """A single-use ticket for this job's stream, for clients that cannot send headers.
    It works while the token that asked for it does; a user holds a few unused at most."""
    await visible_snapshot(context, job_id, credential.user)
    limit = context.runtime.settings.stream_tickets_per_user
    ticket = await context.runtime.accounts.issue_stream_ticket(
        credential, job_id, TICKET_TTL_S, max_live=limit
    )
    url = f"/api/jobs/{job_id}/events?ticket={ticket}"
    return StreamTicket(ticket=ticket, expires_in=TICKET_TTL_S, url=url)


async def _follow(
    context: Context, job_id: str, after: int, finished: bool
) -> AsyncIterator[ServerSentEvent]:
    async with context.broker.subscribe(job_id, after) as subscription:
        last = after
        for event_id, event in await context.runtime.store.list_events(job_id, after):
            yield _sse(event_id, event)
            last = event_id
            if event.type in TERMINAL_EVENTS:
                return
        if finished and last == after:
            # Nothing new for a finished job: the client has seen its end, or retention
            # removed its events. Nothing more will come.
            return
        while True:
            event_id, event = await subscription.events.get()
            if event_id <= last:
                continue
            yield _sse(event_id, event)
            last = event_id
            if event.type in TERMINAL_EVENTS:
                return


async def _follow_viewer(
    context: Context, user: User, after: int
) -> AsyncIterator[ServerSentEvent]:
    async with context.broker.subscribe_viewer(user, after) as subscription:
        database = context.runtime.database
        last = after
        for event_id, event in await viewer_events_after(
            database, user, after, limit=VIEWER_REPLAY_LIMIT
        ):
            yield _sse(event_id, event)
            last = event_id
        while True:
            event_id, event = await subscription.events.get()
            if event_id > last:
                yield _sse(event_id, event)
                last = event_id


def _sse(event_id: int, event: JobEvent) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(event.wire(), separators=(",", ":")), event=event.type, id=str(event_id)
    )


def _event_id(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not _EVENT_ID.fullmatch(raw):
        raise ApiError(
            400,
            f"Last-Event-ID must be an event id (up to {MAX_EVENT_ID_DIGITS} digits 0-9), "
            f"not {raw[:40]!r}",
        )
    return int(raw)
