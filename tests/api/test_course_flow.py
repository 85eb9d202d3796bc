"""The whole journey over real HTTP: draft outlines, approve one, generate, read, publish,
export — following the jobs' event streams to their ends."""

from __future__ import annotations

from courseforge.domain.course import Course
from courseforge.export.registry import EXPORTERS
from tests.api.conftest import LiveApi
from tests.api.helpers import (
    SUCCESS_TYPES,
    approved_outline,
    assert_valid_success_order,
    follow,
    queue_course,
)


async def test_a_course_is_generated_from_an_approved_outline(api: LiveApi) -> None:
    async with api.client("alice") as client:
        outline = await approved_outline(client)
        outline["title"] = "Tide pools, edited by a person"
        queued = await queue_course(client, outline, auto_publish=False)
        job_id, course_id = queued["job_id"], queued["course_id"]

        before = (await client.get(f"/api/courses/{course_id}")).json()
        events = await follow(client, job_id)

        assert_valid_success_order(events)
        assert {e.type for e in events} == SUCCESS_TYPES
        assert events[-1].data["courseId"] == course_id

        job = (await client.get(f"/api/jobs/{job_id}")).json()
        assert job["status"] == "completed"
        assert job["progress"]["percent"] == 100
        assert job["progress"]["items_completed"] == job["progress"]["items_total"] > 0
        assert job["course_id"] == course_id
        assert job["llm_calls"] > 0

        course = (await client.get(f"/api/courses/{course_id}")).json()
        assert before["content"] is None
        assert course["content"]["title"] == "Tide pools, edited by a person"
        assert course["status"] == "draft"
        versions = (await client.get(f"/api/courses/{course_id}/versions")).json()
        assert [v["version"] for v in versions] == [1]

        published = await client.post(f"/api/courses/{course_id}/publish")
        assert published.status_code == 200
        assert published.json()["status"] == "published"

        markdown = await client.get(
            f"/api/courses/{course_id}/export", params={"format": "markdown"}
        )
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert "Tide pools, edited by a person" in markdown.text
        html = await client.get(f"/api/courses/{course_id}/export", params={"format": "html"})
        assert html.text.startswith("<!doctype html>")
        as_json = await client.get(f"/api/courses/{course_id}/export", params={"format": "json"})
        assert as_json.json()["title"] == "Tide pools, edited by a person"
        stored = Course.model_validate(as_json.json())
        for name, exporter in EXPORTERS.items():  # each registered format, as registered
            answer = await client.get(f"/api/courses/{course_id}/export", params={"format": name})
            assert answer.content == exporter.write(stored)
            assert answer.headers["content-type"] == exporter.media_type
            disposition = f'attachment; filename="{exporter.filename(stored)}"'
            assert answer.headers["content-disposition"] == disposition

        listed = (await client.get("/api/jobs")).json()
        assert {job["id"] for job in listed["items"]} >= {job_id}
        assert [c["id"] for c in (await client.get("/api/courses")).json()["items"]] == [course_id]


async def test_a_stream_resumed_with_last_event_id_misses_and_repeats_nothing(
    api: LiveApi,
) -> None:
    async with api.client("alice") as client:
        outline = await approved_outline(client)
        job_id = (await queue_course(client, outline))["job_id"]

        first = await follow(client, job_id, stop_after=5)
        rest = await follow(client, job_id, last_event_id=first[-1].id)
        again = await follow(client, job_id)  # from the start, after the end
        by_query = await follow(client, job_id, params={"last_event_id": str(first[1].id)})

    assert [e.id for e in first + rest] == [e.id for e in again]
    assert_valid_success_order(first + rest)
    assert [e.id for e in by_query] == [e.id for e in again[2:]]
