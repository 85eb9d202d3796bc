"""A real API server per test: uvicorn on 127.0.0.1 in a thread, over a fresh database.

The server runs in its own thread and event loop, with the fake LLM in-process; tests
talk to it over real HTTP. Its socket is bound before the thread starts, so a request
made at once waits in the listen backlog rather than failing.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from courseforge.api.app import create_app
from courseforge.domain.accounts import Role, User
from courseforge.llm.fake import FakeProvider
from courseforge.llm.port import LLMProvider
from courseforge.runtime import open_runtime
from courseforge.settings import Settings

# name: (role, organization)
PEOPLE: dict[str, tuple[Role, str]] = {
    "alice": ("teacher", "acme"),
    "bob": ("teacher", "acme"),
    "carol": ("admin", "acme"),
    "dave": ("admin", "globex"),
    "sam": ("student", "acme"),
}


@dataclass
class LiveApi:
    base_url: str
    database_url: str
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None = None, **kwargs: object) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


class ServerThread:
    def __init__(
        self,
        settings: Settings,
        *,
        with_worker: bool,
        latency_ms: float,
        provider: LLMProvider | None = None,
    ) -> None:
        provider = provider or FakeProvider(latency_ms=latency_ms)
        app = create_app(settings, with_worker=with_worker, provider=provider)
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
        )
        self.server = uvicorn.Server(config)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(128)
        self.port = self.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]})

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()
        assert not self.thread.is_alive(), "the API server did not stop"


def api_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "llm_provider": "fake",
        "poll_interval_s": 0.05,
        "event_sweep_s": 0.2,
        "shutdown_grace_s": 0.5,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


async def add_people(api: LiveApi) -> None:
    async with open_runtime(api_settings(api.database_url)) as runtime:
        for name, (role, organization) in PEOPLE.items():
            user = await runtime.accounts.create_user(name, organization, role)
            api.users[name] = user
            api.tokens[name] = await runtime.accounts.issue_token(user)


@pytest.fixture
def api_overrides() -> dict[str, object]:
    """Settings a test module changes (override the fixture)."""
    return {}


@pytest.fixture
def fake_latency_ms() -> float:
    return 2.0


@pytest.fixture
async def api(
    database_url: str, api_overrides: dict[str, object], fake_latency_ms: float
) -> AsyncIterator[LiveApi]:
    settings = api_settings(database_url, **api_overrides)
    with ServerThread(settings, with_worker=True, latency_ms=fake_latency_ms) as server:
        live = LiveApi(f"http://127.0.0.1:{server.port}", database_url)
        await add_people(live)
        yield live
