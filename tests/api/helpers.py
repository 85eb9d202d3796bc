"""Talking to the live API: following event streams, queueing courses, checking order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, get_args

import httpx
from httpx_sse import aconnect_sse

from courseforge.domain.events import EventType
from courseforge.domain.outline import CourseOutline

# a successful job: every event type but the two other endings
SUCCESS_TYPES = set(get_args(EventType)) - {"job_failed", "job_cancelled"}
BRIEF = {
    "topic": "Tide pools",
    "modules": 2,
    "lessons_per_module": 2,
    "tasks_per_lesson": 1,
    "questions_per_quiz": 2,
}


@dataclass(frozen=True)
class Received:
    id: int
    type: str
    data: dict[str, Any]


async def follow(
    client: httpx.AsyncClient,
    job_id: str,
    *,
    last_event_id: int | None = None,
    stop_after: int | None = None,
    until: str | None = None,
    params: dict[str, str] | None = None,
) -> list[Received]:
    """The stream's events until it ends (or `stop_after` of them, or the first of type
    `until`; then it disconnects)."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    received: list[Received] = []
    url = f"/api/jobs/{job_id}/events"
    async with aconnect_sse(client, "GET", url, headers=headers, params=params) as source:
        source.response.raise_for_status()
        async for sse in source.aiter_sse():
            if not sse.data:  # a heartbeat
                continue
            received.append(Received(int(sse.id), sse.event, json.loads(sse.data)))
            if stop_after is not None and len(received) >= stop_after:
                break
            if until is not None and sse.event == until:
                break
    return received


async def draft_outline(client: httpx.AsyncClient, **brief: Any) -> str:
    response = await client.post("/api/outlines", json={**BRIEF, "candidates": 2, **brief})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


async def approved_outline(client: httpx.AsyncClient) -> dict[str, Any]:
    """Drafts outlines, waits for the job's end over SSE, returns the first candidate."""
    job_id = await draft_outline(client)
    events = await follow(client, job_id)
    assert events[-1].type == "job_completed", events[-1]
    answer = (await client.get(f"/api/outlines/{job_id}")).json()
    candidate: dict[str, Any] = answer["candidates"][0]
    CourseOutline.model_validate(candidate)
    return candidate


async def queue_course(
    client: httpx.AsyncClient, outline: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    response = await client.post("/api/courses", json={"outline": outline, **extra})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_valid_success_order(events: list[Received]) -> None:
    """The event order of a job that succeeded, as the spec's progress model implies."""
    ids = [e.id for e in events]
    assert ids == sorted(set(ids)), "event ids must increase strictly"
    types = [e.type for e in events]
    assert types[0] == "job_created"
    assert types[-1] == "job_completed"
    assert set(types) <= SUCCESS_TYPES
    started: set[str] = set()
    completed: set[str] = set()
    for event in events:
        step = event.data.get("step")
        if event.type == "step_started":
            assert step not in started
            started.add(step)
        elif event.type in ("step_progress", "step_completed"):
            assert step in started, f"{event.type} of {step} before it started"
            assert step not in completed, f"{event.type} of {step} after it completed"
            if event.type == "step_completed":
                completed.add(step)
    assert started == completed, "every started step completes"
    topics_started: set[Any] = set()
    for event in events:
        topic = (event.data.get("step"), event.data.get("topicIndex"))
        if event.type == "topic_started":
            topics_started.add(topic)
        elif event.type in ("topic_progress", "topic_completed"):
            assert topic in topics_started
    for event in events:
        assert event.data["type"] == event.type
        assert event.data["jobId"] == events[0].data["jobId"]
        assert "timestamp" in event.data
