"""The /api routes accept the web UI's session cookie as well as a Bearer token: one
permission model, and CSRF on every state-changing request that the cookie authenticates."""

from __future__ import annotations

from tests.api.conftest import LiveApi
from tests.api.helpers import BRIEF
from tests.web.conftest import browser, csrf_token, log_in


async def test_a_signed_in_browser_reads_and_writes_the_api_with_its_csrf_token(
    web: LiveApi,
) -> None:
    async with browser(web) as client:
        await log_in(client)
        token = await csrf_token(client, "/")
        without_token = await client.post("/api/outlines", json=BRIEF)
        with_token = await client.post("/api/outlines", json=BRIEF, headers={"X-CSRFToken": token})
        jobs = await client.get("/api/jobs")
    assert without_token.status_code == 403
    assert with_token.status_code == 202, with_token.text
    assert [job["id"] for job in jobs.json()["items"]] == [with_token.json()["job_id"]]


async def test_the_cookie_reaches_only_the_users_own_jobs(web: LiveApi) -> None:
    async with web.client("bob") as bob:
        bobs_job = (await bob.post("/api/outlines", json=BRIEF)).json()["job_id"]
    async with browser(web) as client:
        await log_in(client)  # alice, a teacher in bob's organization
        response = await client.get(f"/api/jobs/{bobs_job}")
    assert response.status_code == 404


async def test_after_logout_the_cookie_opens_nothing(web: LiveApi) -> None:
    async with browser(web) as client:
        await log_in(client)
        session_id = client.cookies["courseforge_session"]
        await client.post("/logout", data={"csrftoken": await csrf_token(client, "/")})
    async with browser(web) as replay:
        replay.cookies.set("courseforge_session", session_id)
        response = await replay.get("/api/jobs")
    assert response.status_code == 401
