"""The new-course wizard in a real browser: from a topic to a queued course, with the
outline edited on the way (kit: tests/web/conftest.py)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.api.conftest import LiveApi
from tests.web.conftest import assert_accessible, screenshot, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

EDITED_TITLE = "Rock pools of the northern coast"
NEW_LESSON = "Hermit crabs and their shells"


@pytest.fixture
def web_worker() -> bool:
    return True


@pytest.fixture
def web_latency_ms() -> float:
    return 50  # the outline job's progress is visible for a moment


async def fill_brief(page: Page) -> None:
    await page.get_by_label("Topic", exact=True).fill("Tide pools")
    await page.get_by_label("Audience").fill("curious hikers")
    sizes = {"Modules": "2", "Lessons per module": "2", "Tasks per lesson": "1"}
    sizes |= {"Questions per quiz": "2", "Outlines to choose from": "2"}
    for label, value in sizes.items():
        await page.get_by_label(label, exact=True).fill(value)


# `web` before `page`: the server outlives the page, whose dashboard still streams.
async def test_from_a_topic_to_a_queued_course(web: LiveApi, page: Page) -> None:
    await sign_in(page, web)
    await page.get_by_role("link", name="New course").click()
    await expect(page.get_by_role("heading", name="New course")).to_be_visible()
    await page.get_by_role("button", name="Draft outlines").click()  # no topic yet
    topic = page.get_by_label("Topic", exact=True)
    await expect(topic).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#f-topic-error")).to_contain_text("at least 3 characters")
    await assert_accessible(page)  # the page with its errors
    await fill_brief(page)
    await assert_accessible(page)
    await screenshot(page, "wizard-brief")

    await page.get_by_role("button", name="Draft outlines").click()
    await expect(page).to_have_url(re.compile(r"/courses/new/[0-9a-f-]{36}$"))
    picks = page.get_by_role("button", name="Use this outline")
    await expect(picks).to_have_count(2, timeout=30_000)  # polled in, no reload
    await assert_accessible(page)
    await screenshot(page, "wizard-candidates")

    await picks.first.click()
    await expect(page.get_by_role("heading", name="Edit the outline")).to_be_visible()
    first_module = await page.locator("#f-modules-0-title").input_value()
    await page.get_by_label("Course title").fill(EDITED_TITLE)
    await page.get_by_role("button", name="Add lesson to module 1").click()
    new_lesson = page.locator("#f-modules-0-lessons-2-title")
    await expect(new_lesson).to_have_value("")
    await expect(page.get_by_label("Course title")).to_have_value(EDITED_TITLE)  # kept
    await new_lesson.fill(NEW_LESSON)
    await page.locator("#f-modules-0-lessons-2-objectives").fill("Explain why crabs swap shells")
    await page.get_by_role("button", name="Remove lesson 1.1", exact=True).click()
    await expect(page.locator("#f-modules-0-lessons-2-title")).to_have_count(0)
    await expect(page.locator("#f-modules-0-lessons-1-title")).to_have_value(NEW_LESSON)
    await page.get_by_role("button", name="Move down module 1", exact=True).click()
    await expect(page.locator("#f-modules-1-title")).to_have_value(first_module)
    await assert_accessible(page)
    await screenshot(page, "wizard-edit")

    await page.get_by_label("Auto-publish when done").check()
    await page.get_by_label("Priority").fill("3")
    await page.get_by_role("button", name="Generate & queue").click()
    await expect(page).to_have_url(re.compile(r"/\?queued=[0-9a-f-]{36}$"))
    job_id = page.url.rsplit("=", 1)[1]
    async with web.client("alice") as api:
        job = (await api.get(f"/api/jobs/{job_id}")).json()
        course = (await api.get(f"/api/courses/{job['course_id']}")).json()
    assert job["kind"] == "course"
    assert course["title"] == EDITED_TITLE
