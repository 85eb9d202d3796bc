"""The job page in a real browser, with jobs that really run: watched live to the end,
cancelled, failed and retried, through a dropped connection, and on the polling fallback.

The server's provider is steered (tests/web/job_providers.py): held units keep a job
mid-run for as long as a test looks at it, so nothing here depends on timing.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from httpx_sse import aconnect_sse
from playwright.async_api import BrowserContext, Locator, Page, expect

from courseforge.llm.port import LLMProvider
from tests.api.conftest import LiveApi
from tests.api.test_bad_input import outline_with
from tests.fakes.tcp_proxy import TcpProxy
from tests.web.conftest import PageErrors, assert_accessible, screenshot, sign_in
from tests.web.job_providers import SteeredProvider

pytestmark = pytest.mark.asyncio(loop_scope="module")
RUN_TIMEOUT_MS = 30_000  # a whole job at the fake's latency, on a busy machine
# 2 + 4 + 8 s of reconnecting before the page falls back to polling, then some
FALLBACK_TIMEOUT_MS = 25_000

# A log box a line and a half high, so that a few lines overflow it.
SHRINK_LOG = "box => { box.style.maxHeight = '1.5rem'; }"
PX_BELOW_VIEW = "box => box.scrollHeight - box.scrollTop - box.clientHeight"


@pytest.fixture
def web_worker() -> bool:
    return True


@pytest.fixture
def web_latency_ms() -> float:
    return 120


@pytest.fixture
def steered(web_latency_ms: float) -> SteeredProvider:
    return SteeredProvider(latency_ms=web_latency_ms)


@pytest.fixture
def web_provider(steered: SteeredProvider) -> LLMProvider:
    return steered


@pytest.fixture
def released(steered: SteeredProvider) -> Iterator[SteeredProvider]:
    """The steered provider, every hold released when the test ends (even a failed one),
    so the server's shutdown never waits on a held unit."""
    yield steered
    steered.release()


def two_module_outline() -> dict[str, Any]:
    def module(number: int) -> dict[str, Any]:
        lessons = [{"title": f"Lesson {number}.{i}", "objectives": ["Spot one"]} for i in (1, 2)]
        return {
            "title": f"Module {number}",
            "summary": "What lives between the tides.",
            "learning_objectives": ["Name three rock-pool animals"],
            "lessons": lessons,
        }

    return outline_with(modules=[module(1), module(2)])


async def queue_course(web: LiveApi) -> str:
    async with web.client("alice") as client:
        response = await client.post("/api/courses", json={"outline": two_module_outline()})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


async def api_get(web: LiveApi, path: str) -> Any:
    async with web.client("alice") as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for_event(
    web: LiveApi, job_id: str, matches: Callable[[str, dict[str, Any]], bool]
) -> None:
    """Follows the job's stream (as an API client) until an event `matches`."""
    async with (
        web.client("alice") as client,
        aconnect_sse(client, "GET", f"/api/jobs/{job_id}/events") as source,
    ):
        async for sse in source.aiter_sse():
            if sse.data and matches(sse.event, json.loads(sse.data)):
                return
    raise AssertionError("the stream ended before the awaited event")


def step(page: Page, name: str) -> Locator:
    return page.locator(f'.job-step[data-step="{name}"]')


async def open_job(page: Page, web: LiveApi, job_id: str) -> None:
    await sign_in(page, web)
    await page.goto(f"{web.base_url}/jobs/{job_id}")


async def assert_log_complete(page: Page, web: LiveApi, job_id: str) -> None:
    """The page's log holds every line the API has for the job, each exactly once."""
    stored = (await api_get(web, f"/api/jobs/{job_id}/logs"))["items"]
    shown = await page.locator("#job-log-lines li").evaluate_all(
        "items => items.map(item => item.querySelector('.log-message').textContent)"
    )
    assert shown == [line["message"] for line in stored]


async def assert_completed(page: Page, web: LiveApi, job_id: str) -> None:
    course_link = page.get_by_role("link", name="View the course")
    await expect(course_link).to_be_visible(timeout=RUN_TIMEOUT_MS)
    job = await api_get(web, f"/api/jobs/{job_id}")
    await expect(course_link).to_have_attribute("href", f"/courses/{job['course_id']}")
    await expect(page.locator("#job-progress-bar")).to_have_attribute("value", "100")
    await expect(page.locator(".job-percent")).to_have_text("100 %")
    await expect(page.locator(".job-step.done")).to_have_count(7)
    await expect(page.locator("#connection")).to_have_text(re.compile("^Finished"))
    await assert_log_complete(page, web, job_id)


def forgive(errors: PageErrors, url_prefix: str) -> list[str]:
    """Takes out of `errors` the network errors a test caused on purpose (requests to
    `url_prefix` while it cuts or aborts them), and returns them; any other error still
    fails the test."""
    expected = [m for m in errors.messages if "net::ERR_" in m and f"({url_prefix}" in m]
    errors.messages[:] = [m for m in errors.messages if m not in expected]
    return expected


async def test_a_course_job_is_watched_live_to_completion(
    page: Page, web: LiveApi, released: SteeredProvider
) -> None:
    released.hold("lesson:")
    job_id = await queue_course(web)
    await open_job(page, web, job_id)
    await expect(page.locator("#connection")).to_have_text("Connected")
    await expect(step(page, "lessons")).to_have_class(re.compile(r"\brunning\b"))
    await expect(step(page, "lessons").locator(".spinner")).to_have_count(1)
    await expect(step(page, "outline")).to_contain_text("✓")
    await expect(step(page, "tasks")).to_contain_text("(pending)")
    await expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    await assert_accessible(page)
    await screenshot(page, "job-running")
    log = page.locator("#job-log")
    await log.evaluate(SHRINK_LOG)
    released.release()
    await assert_completed(page, web, job_id)
    # The log overflows its (shrunk) box and, left at the bottom, follows new lines.
    assert await log.evaluate("box => box.scrollHeight > box.clientHeight")
    assert await log.evaluate(PX_BELOW_VIEW) < 2
    await expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    await assert_accessible(page)
    await screenshot(page, "job-completed")


async def test_a_running_job_is_cancelled_from_its_page(
    page: Page, web: LiveApi, released: SteeredProvider
) -> None:
    released.hold("lesson:")
    job_id = await queue_course(web)
    await open_job(page, web, job_id)
    await expect(step(page, "lessons")).to_have_class(re.compile(r"\brunning\b"))
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator(".badge")).to_have_text("Cancelled", timeout=RUN_TIMEOUT_MS)
    await expect(step(page, "lessons")).to_contain_text("(stopped)")
    await expect(page.get_by_role("button", name="Retry")).to_be_visible()
    await expect(page.locator("#connection")).to_have_text(re.compile("^Finished"))
    assert (await api_get(web, f"/api/jobs/{job_id}"))["status"] == "cancelled"
    await assert_log_complete(page, web, job_id)


async def test_a_failed_job_shows_why_and_completes_when_retried(
    page: Page, web: LiveApi, released: SteeredProvider
) -> None:
    released.fail_once("lesson:1.2")
    job_id = await queue_course(web)
    await open_job(page, web, job_id)
    await expect(page.locator(".badge")).to_have_text("Failed", timeout=RUN_TIMEOUT_MS)
    await expect(page.locator(".job-error")).to_contain_text("lesson:1.2 refused, once")
    await expect(page.locator(".job-failed-unit")).to_have_text("lesson:1.2")
    await expect(step(page, "lessons")).to_contain_text("(failed)")
    await assert_accessible(page)
    await screenshot(page, "job-failed")
    log = page.locator("#job-log")
    await log.evaluate(SHRINK_LOG)
    await log.evaluate("box => { box.scrollTop = 0; }")  # the reader scrolled up
    await page.get_by_role("button", name="Retry").click()
    await assert_completed(page, web, job_id)
    # New lines came in below, and the log stayed where the reader had scrolled to.
    assert await log.evaluate(PX_BELOW_VIEW) > 0
    assert await log.evaluate("box => box.scrollTop") == 0
    await expect(page.locator(".job-error")).to_have_count(0)


async def test_the_page_reconnects_after_the_connection_drops_and_misses_nothing(
    page: Page,
    page_errors: tuple[BrowserContext, PageErrors],
    web: LiveApi,
    released: SteeredProvider,
) -> None:
    server = urlsplit(web.base_url)
    proxy = TcpProxy(server.hostname or "127.0.0.1", server.port or 80).start()
    proxied = dataclasses.replace(web, base_url=f"http://127.0.0.1:{proxy.port}")
    try:
        released.hold("lesson:")
        released.hold("quiz:")
        job_id = await queue_course(web)
        await open_job(page, proxied, job_id)
        connection = page.locator("#connection")
        await expect(connection).to_have_text("Connected")
        await expect(step(page, "lessons")).to_have_class(re.compile(r"\brunning\b"))
        proxy.cut()
        await expect(connection).to_have_text(re.compile("^Reconnecting"))
        # While the page is away, the job writes its lessons and tasks, then waits.
        released.release("lesson:")
        await wait_for_event(
            web, job_id, lambda kind, data: kind == "step_started" and data["step"] == "assessments"
        )
        proxy.restore()
        await expect(connection).to_have_text("Connected", timeout=RUN_TIMEOUT_MS)
        await expect(step(page, "tasks")).not_to_contain_text("(pending)")
        released.release("quiz:")
        await assert_completed(page, web, job_id)
    finally:
        proxy.close()
    _, errors = page_errors
    assert forgive(errors, f"{proxied.base_url}/")  # whatever went through the cut proxy


async def test_without_a_stream_the_page_falls_back_to_polling(
    page: Page,
    page_errors: tuple[BrowserContext, PageErrors],
    web: LiveApi,
    released: SteeredProvider,
) -> None:
    released.hold("lesson:")
    job_id = await queue_course(web)
    await page.route(f"**/api/jobs/{job_id}/events*", lambda route: route.abort())
    await open_job(page, web, job_id)
    connection = page.locator("#connection")
    await expect(connection).to_have_text(re.compile("^Reconnecting"))
    await expect(connection).to_have_text(
        "Live updates unavailable — refreshing every 5 s", timeout=FALLBACK_TIMEOUT_MS
    )
    released.release()
    await assert_completed(page, web, job_id)
    _, errors = page_errors
    aborted = forgive(errors, f"{web.base_url}/api/jobs/{job_id}/events")
    assert len(aborted) >= 4  # the first connection and its three reconnections
