"""Liveness, readiness, Prometheus metrics and request ids."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from courseforge.store.database import head_revision
from tests.api.conftest import LiveApi
from tests.api.helpers import approved_outline, follow, queue_course


async def test_health_and_readiness(api: LiveApi) -> None:
    async with api.client() as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert health.json() == {"status": "ok", "database": None, "migration": None}
    assert ready.status_code == 200
    assert ready.json()["migration"] == head_revision()


async def test_metrics_count_requests_by_route_jobs_and_llm_use(api: LiveApi) -> None:
    async with api.client("alice") as client:
        await approved_outline(client)
        for _ in range(3):
            unknown = "/api/jobs/0b5e6c1a-2d3f-4a5b-8c7d-9e0f1a2b3c4d"
            assert (await client.get(unknown)).status_code == 404
        text = (await client.get("/metrics")).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    by_route = (
        "courseforge_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/api/jobs/{job_id}"), ("status", "404")),
    )
    assert samples[by_route] == 3
    assert samples[("courseforge_jobs", (("status", "completed"),))] == 1
    assert samples[("courseforge_queue_depth", ())] == 0
    assert samples[("courseforge_sse_connections", ())] == 0
    calls = [v for (name, _), v in samples.items() if name == "courseforge_llm_calls"]
    assert sum(calls) >= 2  # two outline candidates at least


async def test_the_api_explorer_works_without_internet(api: LiveApi) -> None:
    async with api.client() as client:
        page = await client.get("/docs")
        script = await client.get("/docs-assets/swagger-ui-bundle.js")
        schema = await client.get("/openapi.json")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text
    assert "/api/jobs/{job_id}/events" in schema.json()["paths"]


async def test_every_response_carries_a_request_id(api: LiveApi) -> None:
    async with api.client() as client:
        chosen = await client.get("/healthz", headers={"X-Request-ID": "trace-me-42"})
        made = await client.get("/healthz")
    assert chosen.headers["x-request-id"] == "trace-me-42"
    assert len(made.headers["x-request-id"]) == 32


async def test_an_unchanged_job_or_course_is_answered_304(api: LiveApi) -> None:
    async with api.client("alice") as client:
        queued = await queue_course(client, await approved_outline(client))
        await follow(client, queued["job_id"])
        for path in (f"/api/jobs/{queued['job_id']}", f"/api/courses/{queued['course_id']}"):
            first = await client.get(path)
            etag = first.headers["etag"]
            again = await client.get(path, headers={"If-None-Match": etag})
            stale = await client.get(path, headers={"If-None-Match": '"something-else"'})
            assert first.headers["cache-control"] == "private, no-cache"
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["etag"] == etag
            assert stale.status_code == 200
            assert stale.json() == first.json()
