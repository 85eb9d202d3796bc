"""The event stream's keep-alive, its gauge, and what it does for a job that has ended."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import LiveApi
from tests.api.helpers import BRIEF, follow


@pytest.fixture
def api_overrides() -> dict[str, object]:
    # teachers' jobs stay queued (nothing happens on the stream), heartbeats come fast
    return {"max_running_teacher": 0, "sse_heartbeat_s": 0.2}


async def open_streams(client_metrics: str) -> float:
    for family in text_string_to_metric_families(client_metrics):
        for sample in family.samples:
            if sample.name == "courseforge_sse_connections":
                return sample.value
    raise AssertionError("no courseforge_sse_connections gauge")


async def test_a_quiet_stream_gets_heartbeat_comments_and_counts_as_open(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        job_id = (await alice.post("/api/outlines", json=BRIEF)).json()["job_id"]
        lines: list[str] = []
        async with alice.stream("GET", f"/api/jobs/{job_id}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                lines.append(line)
                if line.startswith(":"):
                    # still inside the loop: leaving it closes the stream
                    gauge = await open_streams((await alice.get("/metrics")).text)
                    break
    assert lines[0].startswith("id: ")
    assert "event: job_created" in lines
    assert lines[-1].startswith(": ping")
    assert gauge == 1


async def test_the_stream_of_a_job_whose_events_were_purged_ends_at_once(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        job_id = (await alice.post("/api/outlines", json=BRIEF)).json()["job_id"]
        assert (await alice.post(f"/api/jobs/{job_id}/cancel")).status_code == 202
        everything = await follow(alice, job_id)
        _purge_events(api.database_url, job_id)
        after_purge = await follow(alice, job_id)
        after_end = await follow(alice, job_id, last_event_id=everything[-1].id)
    assert [e.type for e in everything] == ["job_created", "job_cancelled"]
    assert after_purge == []
    assert after_end == []


def _purge_events(database_url: str, job_id: str) -> None:
    import sqlalchemy as sa

    from courseforge.store.database import sync_url

    engine = sa.create_engine(sync_url(database_url))
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM job_events WHERE job_id = :job"), {"job": job_id})
    engine.dispose()
