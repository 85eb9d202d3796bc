"""GET /api/events: every job the viewer may see, live, over real HTTP on both databases.

Jobs stay queued (no running slots), so each job's events are exactly the ones a test
makes: `job_created` when posted, `job_cancelled` when cancelled. Streams deliver in id
order, so an event that must not arrive would have arrived before the last one awaited.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import sqlalchemy as sa
from httpx_sse import EventSource, aconnect_sse

import courseforge.api.routes.events as event_routes
from courseforge.api.broker import EventBroker, NumberedEvent
from courseforge.domain.outline import OutlineRequest
from courseforge.runtime import open_runtime
from courseforge.store.database import Database
from tests.api.conftest import LiveApi, api_settings
from tests.api.helpers import BRIEF, Received, follow
from tests.api.test_stream_details import open_streams
from tests.web.conftest import PASSWORD, csrf_token, log_in


@pytest.fixture
def api_overrides() -> dict[str, object]:
    return {"max_running_teacher": 0, "max_running_admin": 0, "sse_heartbeat_s": 0.2}


@asynccontextmanager
async def viewer_stream(
    client: httpx.AsyncClient, last_event_id: int | None = None
) -> AsyncIterator[EventSource]:
    """The open stream: once entered, every later event the viewer may see reaches it."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    async with aconnect_sse(client, "GET", "/api/events", headers=headers) as source:
        source.response.raise_for_status()
        yield source


async def read_until(source: EventSource, job_id: str, event_type: str) -> list[Received]:
    """Events up to and including `job_id`'s first of `event_type`."""
    received: list[Received] = []
    async for sse in source.aiter_sse():
        if not sse.data:  # a heartbeat
            continue
        received.append(Received(int(sse.id), sse.event, json.loads(sse.data)))
        if received[-1].type == event_type and received[-1].data["jobId"] == job_id:
            return received
    raise AssertionError(f"the stream ended before {job_id}'s {event_type}: {received}")


_TOPICS = (f"Tide pools, part {number}" for number in itertools.count(1))


async def new_job(client: httpx.AsyncClient) -> str:
    """A new job (a topic of its own: an identical queued brief would be refused)."""
    response = await client.post("/api/outlines", json={**BRIEF, "topic": next(_TOPICS)})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def cancel(client: httpx.AsyncClient, job_id: str) -> None:
    assert (await client.post(f"/api/jobs/{job_id}/cancel")).status_code == 202


def seen(received: list[Received]) -> list[tuple[str, str]]:
    return [(event.data["jobId"], event.type) for event in received]


async def test_a_user_sees_their_own_jobs_events_and_not_another_users(api: LiveApi) -> None:
    async with api.client("alice") as alice, api.client("bob") as bob:
        before = await new_job(alice)  # from before the stream: no history without an id
        async with viewer_stream(alice) as stream:
            bobs = await new_job(bob)
            mine = await new_job(alice)
            await cancel(bob, bobs)
            await cancel(alice, mine)
            received = await read_until(stream, mine, "job_cancelled")
    assert seen(received) == [(mine, "job_created"), (mine, "job_cancelled")]
    assert before not in {job for job, _ in seen(received)}


async def test_an_admin_sees_the_organizations_jobs_and_not_another_organizations(
    api: LiveApi,
) -> None:
    async with (
        api.client("alice") as alice,
        api.client("carol") as carol,
        api.client("dave") as dave,
        viewer_stream(carol) as acme,
        viewer_stream(dave) as globex,
    ):
        alices = await new_job(alice)
        daves = await new_job(dave)
        carols = await new_job(carol)
        acme_events = await read_until(acme, carols, "job_created")
        globex_events = await read_until(globex, daves, "job_created")
    assert seen(acme_events) == [(alices, "job_created"), (carols, "job_created")]
    assert seen(globex_events) == [(daves, "job_created")]


async def test_last_event_id_replays_exactly_the_missed_events_then_follows(
    api: LiveApi,
) -> None:
    async with api.client("alice") as alice, api.client("bob") as bob:
        async with viewer_stream(alice) as stream:
            first = await new_job(alice)
            last_seen = (await read_until(stream, first, "job_created"))[-1].id
        second = await new_job(alice)
        await new_job(bob)
        await cancel(alice, first)
        async with viewer_stream(alice, last_event_id=last_seen) as resumed:
            await cancel(alice, second)  # after the replay, live
            received = await read_until(resumed, second, "job_cancelled")
    assert seen(received) == [
        (second, "job_created"),
        (first, "job_cancelled"),
        (second, "job_cancelled"),
    ]
    ids = [event.id for event in received]
    assert ids == sorted(set(ids))
    assert ids[0] > last_seen


async def test_the_replay_is_capped_to_the_newest_events(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_routes, "VIEWER_REPLAY_LIMIT", 2)
    async with api.client("alice") as alice:
        jobs = [await new_job(alice) for _ in range(3)]
        async with viewer_stream(alice, last_event_id=0) as stream:
            await cancel(alice, jobs[0])
            received = await read_until(stream, jobs[0], "job_cancelled")
    assert seen(received) == [
        (jobs[1], "job_created"),
        (jobs[2], "job_created"),
        (jobs[0], "job_cancelled"),
    ]


async def test_an_open_viewer_stream_counts_as_a_connection(api: LiveApi) -> None:
    async with api.client("alice") as alice, alice.stream("GET", "/api/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for line in stream.aiter_lines():
            if line.startswith(":"):  # the first heartbeat: the stream is running
                assert await open_streams((await alice.get("/metrics")).text) == 1
                break


@pytest.fixture
async def signed_in(api: LiveApi) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client holding alice's session cookie and no token."""
    async with open_runtime(api_settings(api.database_url)) as runtime:
        await runtime.accounts.set_password("alice", PASSWORD)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as browser:
        assert (await log_in(browser)).status_code == 303
        yield browser


async def test_streams_work_with_only_the_session_cookie(
    api: LiveApi, signed_in: httpx.AsyncClient
) -> None:
    async with api.client("alice") as alice:
        async with viewer_stream(signed_in) as stream:
            job = await new_job(alice)
            await cancel(alice, job)
            received = await read_until(stream, job, "job_cancelled")
        one_job = await follow(signed_in, job)
    assert seen(received) == [(job, "job_created"), (job, "job_cancelled")]
    assert seen(one_job) == seen(received)


async def refused(client: httpx.AsyncClient, url: str) -> str:
    """The 401's detail; a stream that opened instead fails the test without hanging it."""
    async with client.stream("GET", url) as response:
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/json"
        detail: str = json.loads(await response.aread())["detail"]
    return detail


async def test_without_a_token_or_a_session_streams_answer_401(
    api: LiveApi, signed_in: httpx.AsyncClient
) -> None:
    async with api.client("alice") as alice:
        job = await new_job(alice)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as anonymous:
        assert "sign in" in await refused(anonymous, "/api/events")
        assert "token" in await refused(anonymous, f"/api/jobs/{job}/events")
    form = {"csrftoken": await csrf_token(signed_in, "/")}
    assert (await signed_in.post("/logout", data=form)).status_code == 303
    assert "sign in" in await refused(signed_in, "/api/events")


async def test_the_broker_fetches_once_per_round_for_every_viewer(database_url: str) -> None:
    """Hints for three jobs of two organizations, three viewers and a job's own stream:
    one query, and each viewer is handed only what it may see."""
    async with open_runtime(api_settings(database_url)) as runtime:
        accounts = runtime.accounts
        alice = await accounts.create_user("alice", "acme", "teacher")
        carol = await accounts.create_user("carol", "acme", "admin")
        dave = await accounts.create_user("dave", "globex", "admin")
        earlier = await runtime.queue.enqueue_outline(OutlineRequest(topic="Kelp forests"), alice)
        broker = EventBroker(runtime.database, sweep_interval_s=3600)
        fetches = count_event_fetches(runtime.database)
        async with (
            broker.subscribe(earlier.job_id, 0) as one_job,
            broker.subscribe_viewer(alice, 0) as alices,
            broker.subscribe_viewer(carol, 0) as carols,
            broker.subscribe_viewer(dave, 0) as daves,
        ):
            jobs = {}
            for owner in (alice, dave, carol):
                brief = OutlineRequest(topic=f"Sea otters for {owner.name}")
                jobs[owner.name] = (await runtime.queue.enqueue_outline(brief, owner)).job_id
                broker.job_changed(jobs[owner.name])
            broker.job_changed(earlier.job_id)
            stop = asyncio.Event()
            running = asyncio.create_task(broker.run(stop))
            handed = [
                await drain(sub.events, n) for sub, n in ((alices, 2), (carols, 3), (daves, 1))
            ]
            stop.set()
            await running
    assert fetches == [1]
    assert [job for _, job in handed[0]] == [earlier.job_id, jobs["alice"]]
    assert [job for _, job in handed[1]] == [earlier.job_id, jobs["alice"], jobs["carol"]]
    assert [job for _, job in handed[2]] == [jobs["dave"]]
    assert one_job.events.qsize() == 1


def count_event_fetches(database: Database) -> list[int]:
    """A one-item list counting the SELECTs that read job_events."""
    count = [0]

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "job_events" in statement:
            count[0] += 1

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
    return count


async def drain(queue: asyncio.Queue[NumberedEvent], expected: int) -> list[tuple[int, str]]:
    """`expected` events (waiting for each), then whatever else is already queued."""
    items = [await asyncio.wait_for(queue.get(), timeout=10) for _ in range(expected)]
    while not queue.empty():
        items.append(queue.get_nowait())
    return [(event_id, event.job_id) for event_id, event in items]
