"""The login pages in a real browser (the kit is in tests/web/conftest.py). Screenshots of
each page at desktop and phone width go to SCREENSHOTS (ignored by git) for a person to see."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from courseforge.web.routes import WRONG_LOGIN
from tests.api.conftest import LiveApi
from tests.web.conftest import assert_accessible, screenshot, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_sign_in_with_htmx_loaded_then_sign_out(page: Page, web: LiveApi) -> None:
    await page.goto(f"{web.base_url}/login")
    await assert_accessible(page)
    await screenshot(page, "login")
    await sign_in(page, web)
    await expect(page).to_have_url(f"{web.base_url}/")
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    await expect(page.locator(".whoami")).to_have_text("alice")
    assert str(await page.evaluate("window.htmx.version")).startswith("2.0.")
    # The SSE extension's init, run when it registers, gives htmx its EventSource factory.
    assert await page.evaluate("typeof htmx.createEventSource === 'function'")
    await screenshot(page, "home")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{web.base_url}/login")
    await page.goto(f"{web.base_url}/")
    await expect(page).to_have_url(f"{web.base_url}/login?next=/")
    await expect(page.locator(".whoami")).to_have_count(0)


async def test_a_wrong_password_shows_the_message(page: Page, web: LiveApi) -> None:
    await sign_in(page, web, password="not the password")
    await expect(page.get_by_role("alert")).to_have_text(WRONG_LOGIN)
    await screenshot(page, "login-failed")
