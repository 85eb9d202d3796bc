"""Stored XSS across the pages: a brief and an outline typed with script and markup, and
a model that writes the same into every field, are shown as text on the wizard, the
dashboard, the job page and the course page, and run nothing (kit: tests/web/conftest.py;
the hostile model and the checks: tests/web/test_browser_course.py)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.api.conftest import LiveApi
from tests.web.conftest import sign_in
from tests.web.test_browser_course import (
    IMAGE,
    LINK,
    SCRIPT,
    assert_nothing_injected,
    hostile_model,
)
from tests.web.test_browser_wizard import fill_brief

pytestmark = pytest.mark.asyncio(loop_scope="module")
TYPED_TITLE = f"Pools {SCRIPT} {LINK}"


@pytest.fixture
def web_worker() -> bool:
    return True


# `web` before `page`: the server outlives the page, whose dashboard still streams.
@pytest.mark.parametrize("web_provider", [hostile_model()], ids=["hostile-model"])
async def test_markup_typed_or_written_by_the_model_runs_on_no_page(
    web: LiveApi, page: Page
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await sign_in(page, web)
    await page.get_by_role("link", name="New course").click()
    await fill_brief(page)
    await page.get_by_label("Topic", exact=True).fill(f"Tide pools {IMAGE}")
    await page.get_by_role("button", name="Draft outlines").click()
    picks = page.get_by_role("button", name="Use this outline")
    await expect(picks).to_have_count(2, timeout=30_000)
    await expect(page.get_by_text(SCRIPT).first).to_be_visible()  # the model's, as text
    await assert_nothing_injected(page)

    await picks.first.click()
    await page.get_by_label("Course title").fill(TYPED_TITLE)
    await page.locator("#f-modules-0-lessons-0-objectives").fill(f"Spot {IMAGE} anemones")
    await page.get_by_role("button", name="Generate & queue").click()
    await expect(page).to_have_url(re.compile(r"/\?queued=[0-9a-f-]{36}$"))
    job_id = page.url.rsplit("=", 1)[1]
    await expect(page.get_by_text(TYPED_TITLE).first).to_be_visible()
    await assert_nothing_injected(page)

    await page.goto(f"{web.base_url}/jobs/{job_id}")
    course_link = page.get_by_role("link", name="View the course")
    await expect(course_link).to_be_visible(timeout=60_000)  # the job ran, live
    await expect(page.get_by_role("heading", level=1)).to_have_text(TYPED_TITLE)
    await assert_nothing_injected(page)

    await course_link.click()
    await expect(page.get_by_text(IMAGE).first).to_be_visible()
    await assert_nothing_injected(page)
    await page.goto(f"{web.base_url}/courses")
    await assert_nothing_injected(page)
    assert dialogs == []
