"""Creation quotas (429 + Retry-After), Idempotency-Key, and dedup (409 with the job id)."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import LiveApi
from tests.api.helpers import BRIEF, approved_outline


async def test_a_student_over_the_hourly_quota_gets_429_naming_the_limit(api: LiveApi) -> None:
    async with api.client("sam") as student, api.client("alice") as teacher:
        accepted = [
            await student.post("/api/outlines", json={**BRIEF, "topic": f"Topic {n}"})
            for n in range(3)
        ]
        refused = await student.post("/api/outlines", json={**BRIEF, "topic": "One too many"})
        others = await teacher.post("/api/outlines", json={**BRIEF, "topic": "One too many"})
    assert [r.status_code for r in accepted] == [202, 202, 202]
    assert refused.status_code == 429
    assert "student" in refused.json()["detail"]
    assert "3" in refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert others.status_code == 202  # the quota is the student's, not everyone's


async def test_the_same_idempotency_key_and_body_answer_the_first_response(
    api: LiveApi,
) -> None:
    key = {"Idempotency-Key": "draft-tide-pools-1"}
    async with api.client("alice") as alice, api.client("bob") as bob:
        first = await alice.post("/api/outlines", json=BRIEF, headers=key)
        # the same JSON with another key order and spacing is the same request
        again = await alice.post(
            "/api/outlines",
            content=b'{"questions_per_quiz": 2, "tasks_per_lesson": 1, "lessons_per_module": 2,'
            b' "modules": 2,   "topic": "Tide pools"}',
            headers={**key, "Content-Type": "application/json"},
        )
        changed = await alice.post(
            "/api/outlines", json={**BRIEF, "topic": "Sand dunes"}, headers=key
        )
        other_user = await bob.post("/api/outlines", json=BRIEF, headers=key)
        jobs = (await alice.get("/api/jobs")).json()["items"]
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert changed.status_code == 422
    assert "Idempotency-Key" in changed.json()["detail"]
    assert other_user.status_code == 202
    assert other_user.json()["job_id"] != first.json()["job_id"]
    assert [job["id"] for job in jobs] == [first.json()["job_id"]]


async def test_racing_requests_with_one_key_queue_one_job(api: LiveApi) -> None:
    key = {"Idempotency-Key": "double-click"}
    async with api.client("alice") as alice:
        answers = await asyncio.gather(
            *(alice.post("/api/outlines", json=BRIEF, headers=key) for _ in range(5))
        )
        jobs = (await alice.get("/api/jobs")).json()["items"]
    assert len(jobs) == 1
    for answer in answers:
        if answer.status_code == 202:
            assert answer.json()["job_id"] == jobs[0]["id"]
        else:  # the first is still running: come back in a moment
            assert answer.status_code == 409
            assert answer.headers["retry-after"] == "1"
            assert "still running" in answer.json()["detail"]


@pytest.fixture
def api_overrides() -> dict[str, object]:
    return {"max_running_teacher": 0}  # teachers' jobs stay queued: nothing races the checks


async def test_a_second_request_for_an_active_outline_is_409_with_the_existing_job(
    api: LiveApi,
) -> None:
    async with api.client("carol") as admin, api.client("alice") as alice:
        outline = await approved_outline(admin)  # admins may still run jobs
        first = await alice.post("/api/courses", json={"outline": outline})
        second = await alice.post("/api/courses", json={"outline": outline, "priority": 3})
    assert first.status_code == 202
    assert second.status_code == 409
    assert second.json()["job_id"] == first.json()["job_id"]


async def test_cancel_and_retry_a_queued_job(api: LiveApi) -> None:
    async with api.client("carol") as admin, api.client("alice") as alice:
        outline = await approved_outline(admin)
        job_id = (await alice.post("/api/courses", json={"outline": outline})).json()["job_id"]
        retried_early = await alice.post(f"/api/jobs/{job_id}/retry")
        cancelled = await alice.post(f"/api/jobs/{job_id}/cancel")
        after_cancel = (await alice.get(f"/api/jobs/{job_id}")).json()
        cancelled_again = await alice.post(f"/api/jobs/{job_id}/cancel")
        retried = await alice.post(f"/api/jobs/{job_id}/retry")
        after_retry = (await alice.get(f"/api/jobs/{job_id}")).json()
    assert retried_early.status_code == 409
    assert "pending" in retried_early.json()["detail"]
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    assert after_cancel["status"] == "cancelled"
    assert cancelled_again.status_code == 409
    assert retried.status_code == 202
    assert after_retry["status"] == "pending"
