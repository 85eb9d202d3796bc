"""A live server per test (as in tests/api) with a user who has a password, and the
browser kit: Debian's chromium driven by Playwright, one browser per module, a fresh
context per test that fails the test on any console error."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    ViewportSize,
    async_playwright,
)

from courseforge.llm.port import LLMProvider
from courseforge.runtime import open_runtime
from tests.api.conftest import LiveApi, ServerThread, add_people, api_settings

PASSWORD = "correct horse battery"
AXE = Axe()
SCREENSHOTS = Path(__file__).parents[2] / "screenshots"
WIDTHS = {
    "desktop": ViewportSize(width=1280, height=800),
    "phone": ViewportSize(width=375, height=740),
}


@pytest.fixture
def web_overrides() -> dict[str, object]:
    """Settings a test module changes (override the fixture)."""
    return {}


@pytest.fixture
def web_worker() -> bool:
    """Whether the server runs its in-process worker (override: jobs that must run)."""
    return False


@pytest.fixture
def web_latency_ms() -> float:
    """The fake LLM's latency per call (override to make progress visible)."""
    return 0


@pytest.fixture
def web_provider() -> LLMProvider | None:
    """A provider of the test's own (override), else the fake at `web_latency_ms`."""
    return None


@pytest.fixture
async def web(
    database_url: str,
    web_overrides: dict[str, object],
    web_worker: bool,
    web_latency_ms: float,
    web_provider: LLMProvider | None,
) -> AsyncIterator[LiveApi]:
    settings = api_settings(database_url, **web_overrides)
    with ServerThread(
        settings, with_worker=web_worker, latency_ms=web_latency_ms, provider=web_provider
    ) as server:
        live = LiveApi(f"http://127.0.0.1:{server.port}", database_url)
        await add_people(live)
        async with open_runtime(api_settings(database_url)) as runtime:
            for name in ("alice", "bob", "carol"):
                await runtime.accounts.set_password(name, PASSWORD)
        yield live


def browser(web: LiveApi) -> httpx.AsyncClient:
    """A client that keeps cookies and does not follow redirects, like a test browser."""
    return httpx.AsyncClient(base_url=web.base_url, timeout=30)


async def csrf_token(client: httpx.AsyncClient, path: str = "/login") -> str:
    """The token the page at `path` embeds in its forms (its cookie is now set)."""
    page = await client.get(path)
    found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def log_in(
    client: httpx.AsyncClient, name: str = "alice", password: str = PASSWORD, next: str = "/"
) -> httpx.Response:
    token = await csrf_token(client)
    form = {"name": name, "password": password, "next": next, "csrftoken": token}
    return await client.post("/login", data=form)


# --- the real browser ---------------------------------------------------------------


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
    with an error status (a failed login's 401, a 404) is what the test checks, not a
    fault, so chromium's "Failed to load resource" for a navigation is left out; for
    anything the page loads itself (scripts, styles, fragments) it counts. A test that
    provokes an error on purpose removes it from `messages` after checking it."""

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
async def page_errors(chromium: Browser) -> AsyncIterator[tuple[BrowserContext, PageErrors]]:
    context = await chromium.new_context(viewport=WIDTHS["desktop"])
    errors = PageErrors(context)
    yield context, errors
    await context.close()
    assert errors.messages == []


@pytest_asyncio.fixture(loop_scope="module")
async def page(page_errors: tuple[BrowserContext, PageErrors]) -> Page:
    context, _ = page_errors
    return await context.new_page()


async def screenshot(page: Page, name: str) -> None:
    """The page at desktop and phone width, under SCREENSHOTS, for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, viewport in WIDTHS.items():
        await page.set_viewport_size(viewport)
        await page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    await page.set_viewport_size(WIDTHS["desktop"])


async def sign_in(page: Page, web: LiveApi, name: str = "alice", password: str = PASSWORD) -> None:
    await page.goto(f"{web.base_url}/login")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def assert_accessible(page: Page) -> None:
    """axe-core (bundled in axe-playwright-python) finds no serious or critical
    violation on the page as it is now."""
    results = await AXE.run(page)
    blocking = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert blocking == [], blocking
