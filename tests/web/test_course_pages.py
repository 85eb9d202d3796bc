"""The course pages over HTTP: the list with its filters and pages, one course (any
version) for reading, publishing by form, and 404 for what is not the viewer's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from courseforge.domain.accounts import User
from courseforge.store.database import Database
from tests.api.conftest import LiveApi
from tests.export.sample_course import sample_course
from tests.store.listing_helpers import insert_course, insert_job, store_version
from tests.web.conftest import browser, csrf_token, log_in

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def database(web: LiveApi) -> AsyncIterator[Database]:
    opened = Database(web.database_url)
    yield opened
    await opened.dispose()


@pytest.fixture
async def alice(web: LiveApi) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(web) as client:
        await log_in(client)
        yield client


async def finished_course(
    database: Database, owner: User, title: str = "Photosynthesis basics", score: float = 0.87
) -> str:
    course_id = await insert_course(database, owner, START, title=title)
    content = sample_course(title=title).model_dump(mode="json")
    await store_version(database, course_id, START, content, score)
    return course_id


def course_ids_linked(html: str) -> list[str]:
    return re.findall(r'href="/courses/([0-9a-f-]{36})"', html)


async def test_the_owner_reads_the_course_rendered(
    web: LiveApi, database: Database, alice: httpx.AsyncClient
) -> None:
    course_id = await finished_course(database, web.users["alice"])

    response = await alice.get(f"/courses/{course_id}")

    assert response.status_code == 200
    html = response.text
    assert "<h1>Photosynthesis basics</h1>" in html
    assert "<h5>Why it matters</h5>" in html  # the lesson's Markdown, rendered
    assert "<strong>sugar</strong>" in html
    assert "**" not in html
    assert "<summary>Show answers</summary>" in html
    assert "B. Carbon dioxide" in html  # the answer key, inside the toggle
    assert "Leaves are green because of chlorophyll" in html  # a brain byte
    assert "Overall score: <strong>87 %</strong>" in html
    assert f'href="/courses/{course_id}?version=1" aria-current="page"' in html
    for name in ("json", "markdown", "html"):
        assert f'href="/api/courses/{course_id}/export?format={name}&amp;version=1"' in html


@pytest.mark.parametrize("path", ["", "?version=1", "/publish"])
async def test_another_teachers_course_is_not_found(
    web: LiveApi, database: Database, alice: httpx.AsyncClient, path: str
) -> None:
    bobs = await finished_course(database, web.users["bob"])
    token = await csrf_token(alice, "/courses")

    if path == "/publish":
        response = await alice.post(f"/courses/{bobs}/publish", data={"csrftoken": token})
    else:
        response = await alice.get(f"/courses/{bobs}{path}")

    assert response.status_code == 404
    assert "Not found" in response.text
    assert "Photosynthesis" not in response.text


async def test_an_admin_reads_a_teachers_course(web: LiveApi, database: Database) -> None:
    course_id = await finished_course(database, web.users["alice"])
    async with browser(web) as carol:
        await log_in(carol, "carol")
        response = await carol.get(f"/courses/{course_id}")
    assert response.status_code == 200


@pytest.mark.parametrize("version", ["3", "0", "abc", "-1", "99999999999"])
async def test_a_version_that_does_not_exist_is_not_found(
    web: LiveApi, database: Database, alice: httpx.AsyncClient, version: str
) -> None:
    course_id = await finished_course(database, web.users["alice"])

    response = await alice.get(f"/courses/{course_id}", params={"version": version})

    assert response.status_code == 404


async def test_an_older_version_is_shown_when_asked_for(
    web: LiveApi, database: Database, alice: httpx.AsyncClient
) -> None:
    course_id = await finished_course(database, web.users["alice"], title="First draft")
    newer = sample_course(title="Second draft").model_dump(mode="json")
    await store_version(database, course_id, START + timedelta(hours=1), newer, 0.5)

    current = await alice.get(f"/courses/{course_id}")
    older = await alice.get(f"/courses/{course_id}", params={"version": "1"})

    assert "<h1>Second draft</h1>" in current.text
    assert "<h1>First draft</h1>" in older.text
    assert "Version 1 (current: 2)" in older.text
    assert f'href="/api/courses/{course_id}/export?format=html&amp;version=1"' in older.text


async def test_publishing_by_form_redirects_back_with_a_notice(
    web: LiveApi, database: Database, alice: httpx.AsyncClient
) -> None:
    course_id = await finished_course(database, web.users["alice"])
    token = await csrf_token(alice, f"/courses/{course_id}")

    refused = await alice.post(f"/courses/{course_id}/publish")
    published = await alice.post(f"/courses/{course_id}/publish", data={"csrftoken": token})
    shown = await alice.get(published.headers["location"])

    assert refused.status_code == 403  # no CSRF token
    assert published.status_code == 303
    assert published.headers["location"] == f"/courses/{course_id}?notice=published"
    assert "The course is published." in shown.text
    assert "Published <time" in shown.text
    assert 'action="/courses/' not in shown.text  # no Publish button any more
    api = await alice.get(f"/api/courses/{course_id}")
    assert api.json()["status"] == "published"


async def test_a_course_still_generating_links_to_its_job(
    web: LiveApi, database: Database, alice: httpx.AsyncClient
) -> None:
    job_id = await insert_job(database, web.users["alice"], START, status="running")
    course_id = await insert_course(database, web.users["alice"], START, job_id=job_id)
    token = await csrf_token(alice, f"/courses/{course_id}")

    page = await alice.get(f"/courses/{course_id}")
    publish = await alice.post(f"/courses/{course_id}/publish", data={"csrftoken": token})

    assert "has no version yet" in page.text
    assert f'href="/jobs/{job_id}"' in page.text
    assert publish.headers["location"] == f"/courses/{course_id}?notice=not-ready"


async def test_the_list_shows_the_viewers_courses_with_status_and_score(
    web: LiveApi, database: Database, alice: httpx.AsyncClient
) -> None:
    mine = await finished_course(database, web.users["alice"], title="Tide pools", score=0.91)
    draft = await insert_course(database, web.users["alice"], START + timedelta(minutes=1))
    await finished_course(database, web.users["bob"], title="Bob's own")
    await alice.post(
        f"/courses/{mine}/publish", data={"csrftoken": await csrf_token(alice, "/courses")}
    )

    everything = (await alice.get("/courses")).text
    published = (await alice.get("/courses", params={"status": "published"})).text
    drafts = (await alice.get("/courses", params={"status": "draft"})).text

    assert course_ids_linked(everything) == [draft, mine]  # newest first
    assert "Bob&#39;s own" not in everything
    assert "91 %" in everything
    assert course_ids_linked(published) == [mine]
    assert course_ids_linked(drafts) == [draft]
    assert 'href="/courses?status=draft" aria-current="page"' in drafts


async def test_the_list_pages_with_a_cursor_kept_in_the_url(
    web: LiveApi, database: Database, alice: httpx.AsyncClient
) -> None:
    created = [
        await insert_course(database, web.users["alice"], START + timedelta(minutes=n))
        for n in range(27)
    ]

    first = (await alice.get("/courses", params={"status": "draft"})).text
    next_link = re.search(r'href="(/courses\?[^"]+)" rel="next"', first)
    assert next_link is not None
    second = (await alice.get(next_link.group(1).replace("&amp;", "&"))).text
    edited = await alice.get("/courses", params={"cursor": "not-a-cursor"})

    assert "status=draft" in next_link.group(1)
    assert course_ids_linked(first) + course_ids_linked(second) == created[::-1]
    assert 'rel="next"' not in second
    assert edited.status_code == 200  # an edited cursor starts from the newest
    assert course_ids_linked(edited.text)[0] == created[-1]


async def test_course_text_is_escaped_in_the_list(
    web: LiveApi, database: Database, alice: httpx.AsyncClient
) -> None:
    await finished_course(database, web.users["alice"], title="<script>alert(1)</script>")

    html = (await alice.get("/courses")).text

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_a_visitor_without_a_session_is_sent_to_log_in(web: LiveApi) -> None:
    async with browser(web) as client:
        response = await client.get("/courses")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/courses"
