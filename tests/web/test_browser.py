"""The login pages in a real browser: Debian's chromium driven by Playwright against a live
server. One browser per module, a fresh context (cookies, storage) per test. Screenshots of
each page at desktop and phone width go to SCREENSHOTS (ignored by git) for a person to see."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    ViewportSize,
    async_playwright,
    expect,
)

from courseforge.web.routes import WRONG_LOGIN
from tests.api.conftest import LiveApi
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCREENSHOTS = Path(__file__).parents[2] / "screenshots"
WIDTHS = {
    "desktop": ViewportSize(width=1280, height=800),
    "phone": ViewportSize(width=375, height=740),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    # Playwright cannot download its own browsers here: use the Debian package's, which
    # `make test` installs (scripts/ensure-chromium.sh). Playwright adds --no-sandbox.
    executable = shutil.which("chromium")
    assert executable, "chromium is not installed: run scripts/ensure-chromium.sh"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        await browser.close()


class PageErrors:
    """Console errors and uncaught exceptions of every page in a context. A page answered
    with an error status (a failed login's 401) is what the test checks, not a fault, so
    chromium's "Failed to load resource" for a navigation is left out; for anything the
    page loads itself (scripts, styles, icons) it counts."""

    def __init__(self, context: BrowserContext) -> None:
        self.messages: list[str] = []
        self._documents: set[str] = set()
        context.on("request", self._request)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.messages.append(f"page error: {error.error}"))

    def _request(self, request: Request) -> None:
        if request.is_navigation_request():
            self._documents.add(request.url)

    def _console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource") and url in self._documents:
            return
        self.messages.append(f"console: {message.text} ({url})")


@pytest_asyncio.fixture(loop_scope="module")
async def page(chromium: Browser) -> AsyncIterator[Page]:
    context = await chromium.new_context(viewport=WIDTHS["desktop"])
    errors = PageErrors(context)
    yield await context.new_page()
    await context.close()
    assert errors.messages == []


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, viewport in WIDTHS.items():
        await page.set_viewport_size(viewport)
        await page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    await page.set_viewport_size(WIDTHS["desktop"])


async def sign_in(page: Page, web: LiveApi, password: str = PASSWORD) -> None:
    await page.goto(f"{web.base_url}/login")
    await page.get_by_label("Name").fill("alice")
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_sign_in_with_htmx_loaded_then_sign_out(page: Page, web: LiveApi) -> None:
    await page.goto(f"{web.base_url}/login")
    await screenshot(page, "login")
    await sign_in(page, web)
    await expect(page).to_have_url(f"{web.base_url}/")
    await expect(page.get_by_text("Signed in as alice")).to_be_visible()
    assert str(await page.evaluate("window.htmx.version")).startswith("2.0.")
    # The SSE extension's init, run when it registers, gives htmx its EventSource factory.
    assert await page.evaluate("typeof htmx.createEventSource === 'function'")
    await screenshot(page, "home")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{web.base_url}/login")
    await page.goto(f"{web.base_url}/")
    await expect(page.get_by_text("Signed in as alice")).to_have_count(0)


async def test_a_wrong_password_shows_the_message(page: Page, web: LiveApi) -> None:
    await sign_in(page, web, password="not the password")
    await expect(page.get_by_role("alert")).to_have_text(WRONG_LOGIN)
    await screenshot(page, "login-failed")
