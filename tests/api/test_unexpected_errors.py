"""An unexpected error in a route: a fast 500 with the request id, logged once, concisely,
with no local variables and no secret, whatever the log format."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import cast

import pytest
from fastapi import APIRouter, FastAPI, Request

from courseforge.api.context import CurrentUser
from courseforge.logs import configure_logging, flush_logs
from tests.api.conftest import LiveApi, ServerThread, add_people, api_settings

MAX_LOG_BYTES = 20_000
failing = APIRouter()


class LedgerCorruptedError(RuntimeError):
    """What no route expects."""


@failing.get("/api/test-only/explode")
async def explode(request: Request, user: CurrentUser) -> None:
    # Locals a traceback renderer with show_locals would print: the request, its
    # headers (the bearer token), the user.
    authorization = request.headers["authorization"]
    raise LedgerCorruptedError(f"the ledger of {user.name} is corrupted ({len(authorization)})")


@pytest.fixture(params=[False, True], ids=["console", "json"])
async def exploding_api(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[LiveApi]:
    configure_logging("WARNING", json_lines=request.param)
    server = ServerThread(api_settings(database_url), with_worker=False, latency_ms=0)
    cast(FastAPI, server.server.config.app).include_router(failing)
    try:
        with server:
            live = LiveApi(f"http://127.0.0.1:{server.port}", database_url)
            await add_people(live)
            yield live
    finally:
        configure_logging()


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def uvicorn_errors() -> Iterator[list[logging.LogRecord]]:
    """What uvicorn logs itself (its "Exception in ASGI application" with a traceback)."""
    collected, logger = Collected(), logging.getLogger("uvicorn.error")
    logger.addHandler(collected)
    yield collected.records
    logger.removeHandler(collected)


async def test_an_unexpected_error_is_a_fast_500_logged_once_without_secrets(
    exploding_api: LiveApi,
    capfd: pytest.CaptureFixture[str],
    uvicorn_errors: list[logging.LogRecord],
) -> None:
    token = exploding_api.tokens["alice"]
    async with exploding_api.client("alice") as client:
        capfd.readouterr()
        response = await client.get(
            "/api/test-only/explode", headers={"X-Request-ID": "req-explode-1"}
        )
        # The process goes on serving (what took ~10 s was rendering locals: see the log
        # assertions below; speed is for benchmarks, not tests).
        assert (await client.get("/healthz")).status_code == 200
    flush_logs()
    log = capfd.readouterr().err

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-explode-1"
    assert response.json()["request_id"] == "req-explode-1"
    assert "internal error" in response.json()["detail"]

    assert log.count("LedgerCorruptedError: the ledger of alice") == 1, log[-4000:]
    assert log.count("unhandled_error") == 1
    assert "req-explode-1" in log
    assert token not in log
    assert token[3:20] not in log
    assert [r.getMessage() for r in uvicorn_errors if r.levelno >= logging.ERROR] == []
    assert "locals" not in log.lower()
    assert "authorization =" not in log.lower()
    assert len(log.encode()) < MAX_LOG_BYTES, f"{len(log)} characters of log"
