"""The queue dashboard over real HTTP: rows, filter tabs and counts, search, pages, bad
query values, the row / log / tabs fragments and whose jobs they show (the live parts
are in test_browser_dashboard.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from lxml import html

from courseforge.clock import SystemClock
from courseforge.domain.events import JobEvent
from courseforge.domain.outline import CourseRequest
from courseforge.store.database import Database
from courseforge.store.event_feed import newest_event_id
from courseforge.store.job_listing import MAX_SEARCH_LENGTH
from courseforge.store.job_store import JobStore
from courseforge.web.dashboard import BAD_CURSOR, PAGE_SIZE
from tests.api.conftest import LiveApi
from tests.store.listing_helpers import insert_job
from tests.web.conftest import browser, log_in

NOW = datetime.now(UTC)


@asynccontextmanager
async def signed_in(web: LiveApi, name: str = "alice") -> AsyncIterator[httpx.AsyncClient]:
    async with browser(web) as client:
        assert (await log_in(client, name)).status_code == 303
        yield client


@asynccontextmanager
async def database(web: LiveApi) -> AsyncIterator[Database]:
    opened = Database(web.database_url)
    try:
        yield opened
    finally:
        await opened.dispose()


async def add_job(
    web: LiveApi, topic: str, *, owner: str = "alice", minutes_ago: float = 1, **values: Any
) -> str:
    """A job row as a run leaves it, `minutes_ago` old (the dashboard is newest first)."""
    request = CourseRequest(topic=topic).model_dump(mode="json")
    async with database(web) as opened:
        return await insert_job(
            opened,
            web.users[owner],
            NOW - timedelta(minutes=minutes_ago),
            request=request,
            **values,
        )


def tree(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return html.fromstring(response.text)


def shown_topics(page: Any) -> list[str]:
    return [link.text_content() for link in page.xpath("//td[@class='job-title']/a")]


def tab_counts(page: Any) -> dict[str, str]:
    return {
        link.text.strip(): link.xpath("string(span[@class='count'])")
        for link in page.xpath("//nav[@id='job-tabs']//a")
    }


async def test_the_dashboard_shows_the_viewers_jobs_with_their_facts(web: LiveApi) -> None:
    # "3 min ago" when the page is asked for, a few seconds from now, however late the test runs.
    started = datetime.now(UTC) - timedelta(minutes=3, seconds=10)
    done = await add_job(
        web,
        "Tide pools",
        minutes_ago=4,
        status="completed",
        course_id="c0ffee00-0000-4000-8000-000000000000",
        started_at=started,
        finished_at=started + timedelta(seconds=65),
        items_completed=5,
        items_total=5,
        cost_usd=0.125,
    )
    progress = {"step": "lessons", "items_completed": 3, "items_total": 5}
    running = await add_job(
        web, "Volcanoes", minutes_ago=2, status="running", started_at=started, **progress
    )
    failed = await add_job(web, "Glaciers", minutes_ago=1, status="failed")
    await add_job(web, "Bob's own", owner="bob")

    async with signed_in(web) as alice, signed_in(web, "carol") as admin:
        page = tree(await alice.get("/"))
        admin_page = tree(await admin.get("/"))

    assert shown_topics(page) == ["Glaciers", "Volcanoes", "Tide pools"]
    assert set(shown_topics(admin_page)) == {"Glaciers", "Volcanoes", "Tide pools", "Bob's own"}
    row = page.get_element_by_id(f"job-{done}")
    assert row.xpath("string(.//span[contains(@class, 'badge')])") == "Completed"
    assert row.xpath(".//a[starts-with(@href, '/courses/')]/@href") == [
        "/courses/c0ffee00-0000-4000-8000-000000000000"
    ]
    assert "1 min 05 s" in row.text_content()
    assert "$0.12" in row.text_content()
    time = row.xpath(".//time")[0]
    assert (time.text, time.get("title")) == (
        "3 min ago",
        started.strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
    live = page.get_element_by_id(f"job-{running}")
    assert live.get("data-active") == "true"
    assert live.xpath("string(.//span[contains(@class, 'badge')])") == "Generating lessons"
    assert "3/5 units" in live.text_content()
    assert live.xpath(".//progress/@aria-label") == ["Progress of Volcanoes"]
    assert live.xpath(".//button[@data-job-action]/@hx-post") == [f"/api/jobs/{running}/cancel"]
    retry = page.get_element_by_id(f"job-{failed}").xpath(".//button[@data-job-action]/@hx-post")
    assert retry == [f"/api/jobs/{failed}/retry"]
    assert page.xpath("//table[@id='jobs']/@data-insert-new") == ["true"]


async def test_tabs_filter_by_status_and_count_in_one_place(web: LiveApi) -> None:
    for number, status in enumerate(["pending", "running", "completed", "failed", "cancelled"]):
        await add_job(web, f"Job {status}", minutes_ago=number, status=status)
    await add_job(web, "Not alice's", owner="bob", status="failed")

    async with signed_in(web) as alice:
        everything = tree(await alice.get("/"))
        active = tree(await alice.get("/?status=active"))
        failed = tree(await alice.get("/?status=failed"))
        tabs = tree(await alice.get("/dashboard/tabs?status=failed"))

    expected = {"All": "5", "Active": "2", "Completed": "1", "Failed": "1", "Cancelled": "1"}
    assert tab_counts(everything) == expected
    assert tab_counts(tabs) == expected
    assert set(shown_topics(active)) == {"Job pending", "Job running"}
    assert shown_topics(failed) == ["Job failed"]
    assert failed.xpath("//nav[@id='job-tabs']//a[@aria-current='page']/text()")[0].strip() == (
        "Failed"
    )
    assert failed.xpath("//table[@id='jobs']/@data-insert-new") == ["false"]


async def test_search_keeps_in_the_url_and_counts_what_matches(web: LiveApi) -> None:
    for topic in ("Tide pools", "Rock POOLS", "100% cotton", "1000 cranes"):
        await add_job(web, topic)

    async with signed_in(web) as alice:
        pools = tree(await alice.get("/", params={"q": "  pool "}))
        percent = tree(await alice.get("/", params={"q": "100%"}))
        nothing = tree(await alice.get("/", params={"q": "glacier"}))

    assert set(shown_topics(pools)) == {"Tide pools", "Rock POOLS"}
    assert tab_counts(pools)["All"] == "2"
    assert pools.xpath("//input[@id='job-search']/@value") == ["pool"]
    assert "/?status=active&q=pool" in pools.xpath("//nav[@id='job-tabs']//a/@href")
    assert shown_topics(percent) == ["100% cotton"]
    assert shown_topics(nothing) == []
    assert "No jobs match." in nothing.text_content()


async def test_older_and_newest_links_walk_the_pages_with_the_filter(web: LiveApi) -> None:
    topics = [f"Topic {number:02d}" for number in range(PAGE_SIZE + 5)]
    for number, topic in enumerate(topics):
        await add_job(web, topic, minutes_ago=number)
    await add_job(web, "Finished", minutes_ago=0, status="completed")

    async with signed_in(web) as alice:
        first = tree(await alice.get("/?status=active"))
        (older,) = first.xpath("//nav[@class='pager']/a[text()='Older']/@href")
        second = tree(await alice.get(older))

    assert shown_topics(first) + shown_topics(second) == topics
    assert older.startswith("/?status=active&cursor=")
    assert second.xpath("//nav[@class='pager']/a/text()") == ["Newest"]
    assert second.xpath("//nav[@class='pager']/a/@href") == ["/?status=active"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "stuck"}, "Unknown filter “stuck”"),
        ({"cursor": "not-a-cursor"}, BAD_CURSOR),
        ({"q": "x" * (MAX_SEARCH_LENGTH + 1)}, "The search is too long"),
    ],
)
async def test_a_bad_query_value_is_a_400_page_that_says_why(
    web: LiveApi, query: dict[str, str], message: str
) -> None:
    async with signed_in(web) as alice:
        answer = await alice.get("/", params=query)

    assert answer.status_code == 400
    assert message in html.fromstring(answer.text).xpath("string(//p[@role='alert'])")


async def test_the_row_and_log_fragments_show_only_the_viewers_jobs(web: LiveApi) -> None:
    mine = await add_job(web, "Tide pools", status="running", step="lessons")
    theirs = await add_job(web, "Bob's", owner="bob")
    messages = [("info", "Planned 5 units"), ("warning", "retrying"), ("error", "gave up")]
    async with database(web) as opened:
        await JobStore(opened, SystemClock()).append_events(
            [
                JobEvent(
                    type="log", job_id=mine, timestamp=NOW, fields={"level": lvl, "message": text}
                )
                for lvl, text in messages
            ]
        )

    async with signed_in(web) as alice:
        row = await alice.get(f"/jobs/{mine}/row")
        log = tree(await alice.get(f"/jobs/{mine}/log"))
        hidden = [
            await alice.get(f"/jobs/{theirs}/row"),
            await alice.get(f"/jobs/{theirs}/log"),
            await alice.get("/jobs/not-a-job/row"),
        ]
    async with browser(web) as stranger:
        signed_out = await stranger.get(f"/jobs/{mine}/row", headers={"HX-Request": "true"})

    fragment = html.fragment_fromstring(row.text.strip())
    assert (fragment.tag, fragment.get("id")) == ("tr", f"job-{mine}")
    assert fragment.xpath("string(.//span[contains(@class, 'badge')])") == "Generating lessons"
    lines = [
        (li.get("class"), li.xpath("string(span[@class='log-message'])"))
        for li in log.xpath("//li")
    ]
    assert lines == [(f"log-{level}", text) for level, text in messages]
    assert [answer.status_code for answer in hidden] == [404, 404, 404]
    assert signed_out.status_code == 401
    assert signed_out.headers["HX-Redirect"].startswith("/login?next=/jobs/")


async def test_the_page_tells_its_script_where_the_stream_resumes(web: LiveApi) -> None:
    job_id = await add_job(web, "Tide pools", status="running")
    async with database(web) as opened:
        event = JobEvent(type="log", job_id=job_id, timestamp=NOW, fields={"message": "hi"})
        await JobStore(opened, SystemClock()).append_events([event])
        newest = await newest_event_id(opened)

    async with signed_in(web) as alice:
        page = tree(await alice.get("/"))

    # The stream resumes after the newest event at render time: none in between is lost.
    assert newest > 0
    assert page.xpath("//table[@id='jobs']/@data-last-event-id") == [str(newest)]


async def test_the_queued_notice_names_a_job_the_viewer_may_see(web: LiveApi) -> None:
    mine = await add_job(web, "Tide <pools>")
    theirs = await add_job(web, "Bob's secret", owner="bob")

    async with signed_in(web) as alice:
        queued = tree(await alice.get(f"/?queued={mine}"))
        other = await alice.get(f"/?queued={theirs}")
        garbage = await alice.get("/?queued=../../etc")

    notice = queued.get_element_by_id("dashboard-messages").text_content().strip()
    assert notice == "“Tide <pools>” is queued."
    assert queued.xpath("//table[@id='jobs']/@data-queued") == [mine]
    for answer in (other, garbage):
        assert answer.status_code == 200
        assert "is queued" not in answer.text
        assert "Bob's secret" not in answer.text
