"""Bad input gets a 4xx with a message a person can act on, never a 500, and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import LiveApi
from tests.api.helpers import BRIEF
from tests.worker.helpers import query

UNKNOWN_ID = "0b5e6c1a-2d3f-4a5b-8c7d-9e0f1a2b3c4d"


def outline_with(**changes: Any) -> dict[str, Any]:
    module = {
        "title": "Rock pools",
        "summary": "What lives between the tides.",
        "learning_objectives": ["Name three rock-pool animals"],
        "lessons": [{"title": "Who lives here", "objectives": ["Spot an anemone"]}],
    }
    outline = {
        "title": "Tide pools",
        "description": "A short course on tide pools.",
        "audience": "beginners",
        "level": "beginner",
        "learning_objectives": ["Read a tide table"],
        "modules": [module],
    }
    return {**outline, **changes}


BAD_POSTS: list[tuple[str, Any, int, str]] = [
    ("/api/outlines", {**BRIEF, "level": "wizard"}, 422, "level"),
    ("/api/outlines", {**BRIEF, "topic": ""}, 422, "topic"),
    ("/api/outlines", {**BRIEF, "topic": "x" * 5000}, 422, "topic"),
    ("/api/outlines", {**BRIEF, "modules": 0}, 422, "modules"),
    ("/api/outlines", {**BRIEF, "topic": "Tide\u0000pools"}, 422, "control characters"),
    ("/api/outlines", {**BRIEF, "source_material": "notes \ud800"}, 422, "control characters"),
    ("/api/outlines", {**BRIEF, "modules": True}, 422, "modules"),
    ("/api/outlines", {**BRIEF, "candidates": 9}, 422, "candidates"),
    ("/api/outlines", {**BRIEF, "surprise": 1}, 422, "surprise"),
    ("/api/outlines", [], 422, "request"),
    ("/api/courses", {"outline": outline_with(level="guru")}, 422, "level"),
    ("/api/courses", {"outline": outline_with(modules=[])}, 422, "modules"),
    ("/api/courses", {"outline": outline_with(), "priority": 99}, 422, "priority"),
    ("/api/courses", {"outline": outline_with(), "outline_job_id": "nope"}, 422, "outline_job_id"),
    (
        "/api/courses",
        {"outline": outline_with(), "outline_job_id": "\u0000"},
        422,
        "outline_job_id",
    ),
    ("/api/courses", {"outline": outline_with(), "outline_job_id": UNKNOWN_ID}, 404, UNKNOWN_ID),
    ("/api/courses", {}, 422, "outline"),
]


@pytest.mark.parametrize(("path", "body", "status", "mentions"), BAD_POSTS)
async def test_an_invalid_body_is_refused_with_its_reason(
    api: LiveApi, path: str, body: Any, status: int, mentions: str
) -> None:
    async with api.client("alice") as client:
        # json.dumps escapes what UTF-8 cannot carry (a lone surrogate) as \uXXXX
        response = await client.post(
            path, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == status, response.text
    assert mentions in response.json()["detail"]
    assert query(api.database_url, "SELECT id FROM jobs") == []


async def test_what_is_not_json_is_refused_before_it_is_read(api: LiveApi) -> None:
    async with api.client("alice") as client:
        broken = await client.post(
            "/api/outlines", content=b'{"topic": ', headers={"Content-Type": "application/json"}
        )
        as_text = await client.post(
            "/api/outlines", content=json.dumps(BRIEF), headers={"Content-Type": "text/plain"}
        )
        huge = await client.post(
            "/api/outlines",
            content=b" " * (600 * 1024),
            headers={"Content-Type": "application/json"},
        )
    assert broken.status_code == 422
    assert "JSON" in broken.json()["detail"]
    assert as_text.status_code == 415
    assert "application/json" in as_text.json()["detail"]
    assert huge.status_code == 413
    assert "limit" in huge.json()["detail"]
    assert query(api.database_url, "SELECT id FROM jobs") == []


@pytest.mark.parametrize(
    ("path", "headers", "status", "mentions"),
    [
        ("/api/jobs?status=bogus", {}, 422, "status"),
        ("/api/jobs?limit=0", {}, 422, "limit"),
        ("/api/jobs?cursor=not-a-cursor", {}, 400, "cursor"),
        ("/api/courses?cursor=%%%", {}, 400, "cursor"),
        ("/api/jobs/no-such-job", {}, 422, "job_id"),
        (f"/api/jobs/{UNKNOWN_ID}", {}, 404, UNKNOWN_ID),
        (f"/api/courses/{UNKNOWN_ID}?version=0", {}, 422, "version"),
        (f"/api/courses/{UNKNOWN_ID}/export?format=pdf", {}, 422, "format"),
    ],
)
async def test_bad_queries_are_4xx(
    api: LiveApi, path: str, headers: dict[str, str], status: int, mentions: str
) -> None:
    async with api.client("alice") as client:
        response = await client.get(path, headers=headers)
    assert response.status_code == status, response.text
    assert mentions in response.json()["detail"]


async def test_a_bad_last_event_id_or_idempotency_key_is_400(api: LiveApi) -> None:
    async with api.client("alice") as client:
        job_id = (await client.post("/api/outlines", json=BRIEF)).json()["job_id"]
        bad_id = await client.get(f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": "x1"})
        bad_key = await client.post(
            "/api/outlines", json=BRIEF, headers={"Idempotency-Key": "k" * 201}
        )
    assert bad_id.status_code == 400
    assert "Last-Event-ID" in bad_id.json()["detail"]
    assert bad_key.status_code == 400
    assert "Idempotency-Key" in bad_key.json()["detail"]


# Each of these reached the database (a NUL is a psycopg DataError on PostgreSQL) or
# int() (`²` is a digit to str.isdigit) and was a 500.
NUL_PATHS = [
    ("GET", "/api/jobs/%00"),
    ("GET", "/api/jobs/%00/logs"),
    ("GET", "/api/jobs/%00/events"),
    ("POST", "/api/jobs/%00/cancel"),
    ("POST", "/api/jobs/%00/retry"),
    ("POST", "/api/jobs/%00/stream-ticket"),
    ("GET", "/api/outlines/%00"),
    ("GET", "/api/courses/%00"),
    ("GET", "/api/courses/%00/versions"),
    ("GET", "/api/courses/%00/export"),
    ("POST", "/api/courses/%00/publish"),
    ("GET", f"/api/jobs/{UNKNOWN_ID[:-1]}%00"),
]


async def test_an_id_that_is_not_an_id_is_422_in_every_path(api: LiveApi) -> None:
    async with api.client("alice") as client:
        answers = [(path, await client.request(method, path)) for method, path in NUL_PATHS]
    for path, response in answers:
        assert response.status_code == 422, (path, response.text)
        detail = response.json()["detail"]
        assert "job_id" in detail or "course_id" in detail, (path, detail)
        assert "pattern" in detail


async def test_a_ticket_for_a_path_that_is_not_an_id_is_422(api: LiveApi) -> None:
    async with api.client() as client:  # no token: the ticket is what authenticates
        response = await client.get("/api/jobs/%00/events", params={"ticket": "t" * 43})
    assert response.status_code == 422, response.text


NUL_CURSORS = [
    "1764000000000000.\x00",
    "1764000000000000." + UNKNOWN_ID[:-1] + "\x00",
    # the former format, base64 of "<timestamp>|<id>", with a NUL for the id
    "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwA",
    "\x00",
]


async def test_a_cursor_with_a_nul_is_400(api: LiveApi) -> None:
    async with api.client("alice") as client:
        answers = [
            await client.get(listing, params={"cursor": cursor})
            for cursor in NUL_CURSORS
            for listing in ("/api/jobs", "/api/courses")
        ]
    for response in answers:
        assert response.status_code == 400, response.text
        assert "next_cursor" in response.json()["detail"]


async def test_a_cursor_handed_out_pages_on(api: LiveApi) -> None:
    async with api.client("alice") as client:
        for topic in ("Tide pools", "Rock pools", "Salt marshes"):
            assert (await client.post("/api/outlines", json={**BRIEF, "topic": topic})).is_success
        first = (await client.get("/api/jobs", params={"limit": 2})).json()
        second = await client.get("/api/jobs", params={"limit": 2, "cursor": first["next_cursor"]})
    assert second.status_code == 200, second.text
    assert len(second.json()["items"]) == 1
    assert second.json()["next_cursor"] is None


NOT_EVENT_IDS = ["\u00b2", "\u2460", "\u0661", "1" * 19, "-1", "1 2", "0x10"]


async def test_a_last_event_id_that_is_not_ascii_digits_is_400(api: LiveApi) -> None:
    async with api.client("alice") as client:
        job_id = (await client.post("/api/outlines", json=BRIEF)).json()["job_id"]
        url = f"/api/jobs/{job_id}/events"
        answers = [
            response
            for event_id in NOT_EVENT_IDS
            for response in (
                await client.get(url, params={"last_event_id": event_id}),
                await client.get(url, headers={"Last-Event-ID": event_id.encode()}),
            )
        ]
    for response in answers:
        assert response.status_code == 400, response.text
        assert "Last-Event-ID" in response.json()["detail"]
