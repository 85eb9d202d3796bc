"""The queue dashboard in a real browser (the kit is in tests/web/conftest.py): rows that
change live over one event stream, a job queued elsewhere appearing at the top, cancel and
retry from a row, the log viewer, search and tabs, accessibility and screenshots.

The server's worker runs one job at a time, and its fake model holds every answer until the
test opens a gate: a job queued behind a held one stays Queued for as long as the test looks,
and a running one can be cancelled before it ends."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from playwright.async_api import BrowserContext, Locator, Page, Request, Route, expect

from courseforge.domain.outline import CourseRequest
from courseforge.llm.fake import FakeProvider
from courseforge.llm.port import Completion, CompletionRequest, LLMProvider
from courseforge.runtime import open_runtime
from tests.api.conftest import LiveApi, api_settings
from tests.api.helpers import follow
from tests.web.conftest import WIDTHS, PageErrors, assert_accessible, screenshot, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="module")
GENERATING = re.compile(r"^(Generating|Evaluating|Finalizing)")
LIVE_S = 30_000  # ms: a whole course at the fake model's latency, on a busy machine


@pytest.fixture
def web_worker() -> bool:
    return True


class GatedProvider(FakeProvider):
    """The fake model, holding every answer until `open()` (called from the test's thread;
    the answers wait in the server's)."""

    def __init__(self) -> None:
        super().__init__(latency_ms=150)
        self._lock = threading.Lock()
        self._opened = False
        self._gates: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        with self._lock:
            gate = None if self._opened else asyncio.Event()
            if gate is not None:
                self._gates.append((asyncio.get_running_loop(), gate))
        if gate is not None:
            await gate.wait()
        return await super().complete(request)

    def open(self) -> None:
        with self._lock:
            self._opened = True
            for loop, gate in self._gates:
                loop.call_soon_threadsafe(gate.set)


@pytest.fixture
def model() -> GatedProvider:
    return GatedProvider()


@pytest.fixture
def web_provider(model: GatedProvider) -> LLMProvider:
    return model


@pytest.fixture
def web_overrides() -> dict[str, object]:
    return {"worker_concurrency": 1}  # one job at a time: the next one waits, Queued


async def queue_course(web: LiveApi, topic: str, modules: int = 1) -> str:
    request = CourseRequest(
        topic=topic,
        modules=modules,
        lessons_per_module=1,
        tasks_per_lesson=1,
        questions_per_quiz=1,
    )
    async with open_runtime(api_settings(web.database_url)) as runtime:
        queued = await runtime.queue.enqueue_course(request, web.users["alice"])
    return queued.job_id


def stream_requests(page: Page) -> list[str]:
    """The URLs of the page's requests to the viewer-wide event stream, as they happen."""
    seen: list[str] = []

    def record(request: Request) -> None:
        if "/api/events" in request.url:
            seen.append(request.url)

    page.on("request", record)
    return seen


async def set_visibility(page: Page, state: str) -> None:
    """What the browser does when the tab is hidden or shown again."""
    await page.evaluate(
        """state => {
            Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


async def requests_settled(page: Page) -> None:
    """Every request the page made so far has been reported: one made after them has."""
    async with page.expect_request(lambda request: "settled=1" in request.url):
        await page.evaluate("fetch('/dashboard/tabs?settled=1')")


def badge(page: Page, job_id: str) -> Locator:
    return page.locator(f"#job-{job_id} .badge")


async def test_rows_change_live_and_a_job_queued_elsewhere_appears(
    web: LiveApi, model: GatedProvider, page: Page
) -> None:
    first = await queue_course(web, "Tide pools", modules=2)
    streams = stream_requests(page)
    await sign_in(page, web)
    await expect(badge(page, first)).to_have_text(GENERATING, timeout=LIVE_S)

    second = await queue_course(web, "Volcanoes")  # waits for the first: one at a time

    await expect(badge(page, second)).to_have_text("Queued")
    await expect(page.locator("#job-rows tr").first).to_have_id(f"job-{second}")
    await expect(page.locator("#job-tabs a", has_text="Active")).to_contain_text("2")
    await assert_accessible(page)
    await screenshot(page, "dashboard")
    model.open()
    await expect(badge(page, first)).to_have_text("Completed", timeout=LIVE_S)
    await expect(badge(page, second)).to_have_text(GENERATING, timeout=LIVE_S)
    await expect(badge(page, second)).to_have_text("Completed", timeout=LIVE_S)
    row = page.locator(f"#job-{second}")
    await expect(row.get_by_role("link", name="View course")).to_be_visible()
    await expect(row).to_contain_text(re.compile(r"(\d+)/\1 units"))
    await expect(page.locator("#job-tabs a", has_text="Completed")).to_contain_text("2")
    assert page.url == f"{web.base_url}/"  # all of it without a reload
    assert len(streams) == 1, streams


async def test_cancel_and_retry_from_a_row_and_read_its_log(
    web: LiveApi, model: GatedProvider, page: Page
) -> None:
    job_id = await queue_course(web, "Glaciers")
    await sign_in(page, web)
    await expect(badge(page, job_id)).to_have_text(GENERATING, timeout=LIVE_S)
    row = page.locator(f"#job-{job_id}")

    await row.get_by_role("button", name="Cancel").click()

    await expect(row).to_contain_text("Cancelling…")  # a running job stops after its unit
    model.open()
    await expect(badge(page, job_id)).to_have_text("Cancelled", timeout=LIVE_S)
    await expect(page.get_by_role("status")).to_contain_text("Cancel “Glaciers”: cancel")
    logs = row.get_by_role("button", name="Logs")
    await logs.click()
    await expect(logs).to_have_attribute("aria-expanded", "true")
    log = page.locator(f"#log-{job_id}")
    await expect(log.locator("li.log-warning")).to_contain_text("Job cancelled")
    await assert_accessible(page)
    await screenshot(page, "dashboard-log")
    await row.get_by_role("button", name="Retry").click()
    await expect(badge(page, job_id)).not_to_have_text("Cancelled", timeout=LIVE_S)
    await expect(page.get_by_role("status")).to_contain_text("Retry “Glaciers”: queued again")
    # The log stays open across the row's live swaps, and follows the job to its end.
    await expect(log.locator("li.log-success").last).to_contain_text(
        "Job completed", timeout=LIVE_S
    )
    await expect(row.get_by_role("button", name="Logs")).to_have_attribute("aria-expanded", "true")


async def test_a_hidden_page_stops_streaming_and_resumes_where_it_left(
    web: LiveApi, model: GatedProvider, page: Page
) -> None:
    job_id = await queue_course(web, "Coral reefs")
    streams = stream_requests(page)
    await sign_in(page, web)
    await expect(badge(page, job_id)).to_have_text(GENERATING, timeout=LIVE_S)
    await requests_settled(page)
    assert len(streams) == 1

    await set_visibility(page, "hidden")
    model.open()  # the job goes on while nobody looks
    await set_visibility(page, "visible")

    await expect(badge(page, job_id)).to_have_text("Completed", timeout=LIVE_S)
    assert len(streams) == 2, streams
    assert re.search(r"\?last_event_id=\d+$", streams[1]), streams
    # Nothing is active any more: shown again, the page does not reopen a stream.
    await set_visibility(page, "hidden")
    await set_visibility(page, "visible")
    await requests_settled(page)
    assert len(streams) == 2, streams


async def test_search_and_tabs_keep_their_state_in_the_url(
    web: LiveApi, model: GatedProvider, page: Page
) -> None:
    model.open()
    kept = await queue_course(web, "Rock pools")
    await queue_course(web, "Deserts")
    await sign_in(page, web)
    await expect(badge(page, kept)).to_have_text("Completed", timeout=2 * LIVE_S)

    await page.get_by_label("Search course titles").fill("POOLS")
    await page.get_by_label("Search course titles").press("Enter")
    await expect(page).to_have_url(f"{web.base_url}/?q=POOLS")
    await page.get_by_role("link", name="Completed").click()

    await expect(page).to_have_url(f"{web.base_url}/?status=completed&q=POOLS")
    await expect(page.locator("#job-rows tr")).to_have_count(1)
    await expect(page.locator("#job-rows")).to_contain_text("Rock pools")
    await page.set_viewport_size(WIDTHS["phone"])
    await assert_accessible(page)
    await page.set_viewport_size(WIDTHS["desktop"])
    await screenshot(page, "dashboard-search")


async def test_an_action_the_api_refuses_says_why_in_the_live_region(
    web: LiveApi, model: GatedProvider, page_errors: tuple[BrowserContext, PageErrors], page: Page
) -> None:
    # No live updates (a 204 tells EventSource not to reconnect): the row stays stale.
    await page.route("**/api/events*", lambda route: route.fulfill(status=204))
    await queue_course(web, "Tide pools")  # held by the model: the worker is busy
    stale = await queue_course(web, "Deserts")
    await sign_in(page, web)
    await expect(badge(page, stale)).to_have_text("Queued")
    async with open_runtime(api_settings(web.database_url)) as runtime:
        assert await runtime.queue.cancel(stale) == "cancelled"  # elsewhere, meanwhile

    # The browser and htmx both report the refusal in the console: wait for both.
    async with (
        page.expect_console_message(lambda message: "Failed to load resource" in message.text),
        page.expect_console_message(lambda message: "Error Code 409" in message.text),
    ):
        await page.locator(f"#job-{stale}").get_by_role("button", name="Cancel").click()

    status = page.get_by_role("status")
    await expect(status).to_contain_text("Cancel “Deserts”: the job has already finished")
    await expect(status.locator(".error")).to_be_visible()
    await expect(badge(page, stale)).to_have_text("Cancelled")  # the row was refreshed
    _, errors = page_errors
    assert len(errors.messages) == 2, errors.messages
    assert all("409" in message for message in errors.messages), errors.messages
    errors.messages.clear()


async def test_a_burst_of_events_for_one_row_is_fetched_one_at_a_time(
    web: LiveApi, model: GatedProvider, page: Page
) -> None:
    job_id = await queue_course(web, "Tide pools")
    await sign_in(page, web)
    await expect(badge(page, job_id)).to_have_text(GENERATING, timeout=LIVE_S)
    fetches = {"made": 0, "in_flight": 0, "most_at_once": 0}

    async def slow_row(route: Route) -> None:
        fetches["made"] += 1
        fetches["in_flight"] += 1
        fetches["most_at_once"] = max(fetches["most_at_once"], fetches["in_flight"])
        response = await route.fetch()
        await asyncio.sleep(0.3)  # a slow network, not a wait: events pile up meanwhile
        fetches["in_flight"] -= 1
        await route.fulfill(response=response)

    await page.route(f"**/jobs/{job_id}/row", slow_row)
    model.open()

    # The last state arrives: the events behind a fetch in flight got their trailing one.
    await expect(badge(page, job_id)).to_have_text("Completed", timeout=LIVE_S)
    async with web.client("alice") as api:
        events = await follow(api, job_id)
    assert fetches["most_at_once"] == 1
    assert 2 <= fetches["made"] < len(events), (fetches, len(events))
