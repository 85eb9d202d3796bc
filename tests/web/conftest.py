"""A live server per test (as in tests/api) with a user who has a password."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from courseforge.runtime import open_runtime
from tests.api.conftest import LiveApi, ServerThread, add_people, api_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def web_overrides() -> dict[str, object]:
    """Settings a test module changes (override the fixture)."""
    return {}


@pytest.fixture
async def web(database_url: str, web_overrides: dict[str, object]) -> AsyncIterator[LiveApi]:
    settings = api_settings(database_url, **web_overrides)
    with ServerThread(settings, with_worker=False, latency_ms=0) as server:
        live = LiveApi(f"http://127.0.0.1:{server.port}", database_url)
        await add_people(live)
        async with open_runtime(api_settings(database_url)) as runtime:
            await runtime.accounts.set_password("alice", PASSWORD)
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
