"""Every endpoint × every kind of caller: the owner, an admin of the owner's organization,
another user of that organization, an admin of another one, a bad token and no token.

Another user's object is 404 (never 403, which would confirm that it exists), and no
answer to an outsider carries the owner's data.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import LiveApi
from tests.api.helpers import approved_outline, draft_outline, follow, queue_course

# caller -> may see alice's things
CALLERS = {"alice": True, "carol": True, "bob": False, "dave": False}
STATUS_FOR_OWNER = {
    ("GET", "/api/jobs/{job}"): 200,
    ("GET", "/api/jobs/{job}/logs"): 200,
    ("GET", "/api/jobs/{job}/events"): 200,
    ("POST", "/api/jobs/{job}/stream-ticket"): 201,
    ("POST", "/api/jobs/{job}/cancel"): 409,  # it has finished
    ("POST", "/api/jobs/{job}/retry"): 409,  # it did not fail
    ("GET", "/api/outlines/{outline_job}"): 200,
    ("GET", "/api/courses/{course}"): 200,
    ("GET", "/api/courses/{course}/versions"): 200,
    ("GET", "/api/courses/{course}/export"): 200,
    ("POST", "/api/courses/{course}/publish"): 200,
}


async def test_only_the_owner_and_their_admins_reach_a_job_or_course(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        outline_job = await draft_outline(alice)
        assert (await follow(alice, outline_job))[-1].type == "job_completed"
        outline = await approved_outline(alice)
        queued = await queue_course(alice, outline)
        await follow(alice, queued["job_id"])
    ids = {"job": queued["job_id"], "course": queued["course_id"], "outline_job": outline_job}

    for (method, template), owner_status in STATUS_FOR_OWNER.items():
        path = template.format(**ids)
        for caller, sees in CALLERS.items():
            async with api.client(caller) as client:
                response = await client.request(method, path)
            expected = owner_status if sees else 404
            assert response.status_code == expected, (caller, method, path, response.text)
            if not sees:
                assert alice_data_absent(response.text, ids, outline["title"])
        for headers in ({}, {"Authorization": "Bearer cf_not-a-real-token"}):
            async with api.client() as anonymous:
                response = await anonymous.request(method, path, headers=headers)
            assert response.status_code == 401, (headers, method, path)
            assert response.headers["www-authenticate"] == "Bearer"


async def test_lists_hold_only_what_the_caller_may_see(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        queued = await queue_course(alice, await approved_outline(alice))
    for caller, sees in CALLERS.items():
        async with api.client(caller) as client:
            jobs = (await client.get("/api/jobs")).json()["items"]
            courses = (await client.get("/api/courses")).json()["items"]
        assert (queued["job_id"] in {j["id"] for j in jobs}) is sees, caller
        assert (queued["course_id"] in {c["id"] for c in courses}) is sees, caller


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/jobs"),
        ("GET", "/api/courses"),
        ("POST", "/api/outlines"),
        ("POST", "/api/courses"),
        ("GET", "/api/stats"),
    ],
)
async def test_no_token_no_entry(api: LiveApi, method: str, path: str) -> None:
    async with api.client() as client:
        response = await client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


async def test_stats_are_for_admins(api: LiveApi) -> None:
    async with api.client("alice") as teacher, api.client("carol") as admin:
        assert (await teacher.get("/api/stats")).status_code == 403
        stats = await admin.get("/api/stats")
    assert stats.status_code == 200
    assert stats.json()["counts"]["completed"] == 0


async def test_a_stream_ticket_opens_one_stream_once(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        outline_job = await draft_outline(alice)
        ticket = (await alice.post(f"/api/jobs/{outline_job}/stream-ticket")).json()
    async with api.client() as browser:
        events = await follow(browser, outline_job, params={"ticket": ticket["ticket"]})
        assert events[-1].type == "job_completed"
        reused = await browser.get(f"/api/jobs/{outline_job}/events", params=ticket)
    assert reused.status_code == 401


def alice_data_absent(text: str, ids: dict[str, str], title: str) -> bool:
    return title not in text and all(
        identifier not in text.replace(f"id {identifier!r}", "") for identifier in ids.values()
    )
