"""The job page over HTTP: the server-rendered snapshot (what a reader without
JavaScript sees), the panel the page's script fetches, and who may see either."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.api.conftest import LiveApi
from tests.api.helpers import BRIEF, follow
from tests.api.test_bad_input import UNKNOWN_ID, outline_with
from tests.web.conftest import browser, log_in


async def queue_course(web: LiveApi, who: str = "alice", **outline: object) -> str:
    async with web.client(who) as client:
        response = await client.post("/api/courses", json={"outline": outline_with(**outline)})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


@asynccontextmanager
async def signed_in(web: LiveApi) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(web) as client:
        assert (await log_in(client)).status_code == 303
        yield client


def steps_of(html: str) -> list[tuple[str, str]]:
    return re.findall(r'class="job-step (\w+)" data-step="(\w+)"', html)


async def test_the_page_shows_a_queued_course_job(web: LiveApi) -> None:
    job_id = await queue_course(web, title="Rock <pools>")
    async with signed_in(web) as client:
        response = await client.get(f"/jobs/{job_id}")
    html = response.text
    assert response.status_code == 200
    assert "<h1>Rock &lt;pools&gt;</h1>" in html  # the course's title, escaped
    assert '<span class="badge queued">Queued</span>' in html
    assert 'max="100" value="0"' in html
    assert [step for _, step in steps_of(html)] == [
        "outline", "lessons", "tasks", "assessments", "summaries", "evaluation", "finalizing"
    ]  # fmt: skip
    # An approved outline came with the job: that step is done before it starts.
    assert [state for state, _ in steps_of(html)] == ["done"] + ["pending"] * 6
    assert '<span class="visually-hidden">(pending)</span>' in html
    assert 'data-action="cancel"' in html
    assert 'data-action="retry"' not in html
    assert 'src="/static/job.js"' in html


async def test_an_outline_job_shows_only_its_outline_step(web: LiveApi) -> None:
    async with web.client("alice") as api:
        response = await api.post("/api/outlines", json=BRIEF)
    job_id = response.json()["job_id"]
    async with signed_in(web) as client:
        html = (await client.get(f"/jobs/{job_id}")).text
    assert steps_of(html) == [("pending", "outline")]
    assert "Outline drafting" in html


async def test_the_stream_resumes_after_the_last_event_the_page_shows(web: LiveApi) -> None:
    job_id = await queue_course(web)
    async with web.client("alice") as api:
        events = await follow(api, job_id, stop_after=1)  # a queued job's only event
    async with signed_in(web) as client:
        html = (await client.get(f"/jobs/{job_id}")).text
    assert [event.type for event in events] == ["job_created"]
    assert f'data-last-event-id="{events[0].id}"' in html


async def test_the_panel_brings_only_the_log_lines_after_the_given_event(web: LiveApi) -> None:
    job_id = await queue_course(web)
    async with web.client("alice") as api:
        await api.post(f"/api/jobs/{job_id}/cancel")
        lines = (await api.get(f"/api/jobs/{job_id}/logs")).json()["items"]
    async with signed_in(web) as client:
        everything = await client.get(f"/jobs/{job_id}/panel")
        after_last = await client.get(f"/jobs/{job_id}/panel", params={"after": 2**40})
        page = await client.get(f"/jobs/{job_id}")
    assert [line["message"] for line in lines] == ["Job cancelled"]
    assert everything.status_code == 200
    assert '<span class="badge cancelled">Cancelled</span>' in everything.text
    assert everything.text.count('class="log-line') == 1
    assert after_last.text.count('class="log-line') == 0
    assert 'data-action="retry"' in page.text
    assert 'data-finished="true"' in page.text
    assert "<html" not in everything.text  # a fragment, not a page


async def test_another_users_job_and_a_missing_one_are_not_found(web: LiveApi) -> None:
    bobs_job = await queue_course(web, who="bob")
    async with signed_in(web) as client:
        answers = [
            await client.get(path)
            for path in (
                f"/jobs/{bobs_job}",
                f"/jobs/{bobs_job}/panel",
                f"/jobs/{UNKNOWN_ID}",
                "/jobs/not-an-id",
            )
        ]
    assert [answer.status_code for answer in answers] == [404] * 4
    assert all("There is no job here that you can see" in a.text for a in answers)
    assert all(str(BRIEF["topic"]) not in a.text for a in answers)


async def test_a_visitor_who_is_not_signed_in_is_sent_to_log_in(web: LiveApi) -> None:
    job_id = await queue_course(web)
    async with browser(web) as client:
        page = await client.get(f"/jobs/{job_id}")
        panel = await client.get(f"/jobs/{job_id}/panel", headers={"HX-Request": "true"})
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=/jobs/{job_id}"
    assert panel.status_code == 401
