"""Cancelling a running job over HTTP ends its stream with job_cancelled; a retry resumes it."""

from __future__ import annotations

import pytest

from tests.api.conftest import LiveApi
from tests.api.helpers import approved_outline, follow, queue_course
from tests.worker.helpers import query


@pytest.fixture
def fake_latency_ms() -> float:
    return 150.0  # long enough that a unit is in flight when the cancel arrives


async def test_cancel_a_running_job_then_retry_it_to_completion(api: LiveApi) -> None:
    async with api.client("alice") as client:
        outline = await approved_outline(client)
        job_id = (await queue_course(client, outline))["job_id"]
        opening = await follow(client, job_id, until="step_progress")  # a unit is done
        cancelled = await client.post(f"/api/jobs/{job_id}/cancel")
        ending = await follow(client, job_id, last_event_id=opening[-1].id)
        done_before_retry = units_done(api, job_id)

        retried = await client.post(f"/api/jobs/{job_id}/retry")
        finish = await follow(client, job_id, last_event_id=ending[-1].id)
        job = (await client.get(f"/api/jobs/{job_id}")).json()

    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelling"
    assert ending[-1].type == "job_cancelled"
    assert retried.status_code == 202
    assert finish[-1].type == "job_completed"
    assert job["status"] == "completed"
    assert units_done(api, job_id) >= done_before_retry
    resumed = [e for e in finish if e.type == "log" and "Resuming" in e.data["message"]]
    assert len(resumed) == (1 if done_before_retry else 0)


def units_done(api: LiveApi, job_id: str) -> int:
    rows = query(api.database_url, "SELECT key FROM job_units WHERE job_id = :job", job=job_id)
    return len(rows)
