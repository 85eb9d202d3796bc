"""Many hosts, one PostgreSQL: an API-only process streams the events that a separate
worker process writes (PostgreSQL NOTIFY reaches the API's single listener)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from courseforge.store.database import upgrade_database
from tests.api.helpers import BRIEF, approved_outline, assert_valid_success_order, follow
from tests.worker.helpers import start_worker_process, wait_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def api_only_process(postgres_url: str) -> Iterator[str]:
    upgrade_database(postgres_url)
    port = free_port()
    environment = {
        **os.environ,
        "COURSEFORGE_DATABASE_URL": postgres_url,
        "COURSEFORGE_LLM_PROVIDER": "fake",
        # a sweep slower than the test: only NOTIFY can deliver events in time
        "COURSEFORGE_EVENT_SWEEP_S": "3600",
    }
    command = [sys.executable, "-m", "courseforge", "serve", "--no-worker", "--port", str(port)]
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base_url), timeout=30, what="the API process to listen")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def test_an_api_process_streams_a_worker_process_events(
    postgres_url: str, api_only_process: str
) -> None:
    async with open_runtime(Settings(database_url=postgres_url, llm_provider="fake")) as runtime:
        user = await runtime.accounts.create_user("erin", "acme", "teacher")
        token = await runtime.accounts.issue_token(user)
    worker = start_worker_process(postgres_url, COURSEFORGE_FAKE_LATENCY_MS="20")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(
            base_url=api_only_process, headers=headers, timeout=60
        ) as client:
            outline = await approved_outline(client)
            queued = await client.post("/api/courses", json={"outline": outline, **_shape()})
            events = await follow(client, queued.json()["job_id"])
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert_valid_success_order(events)
    assert events[-1].data["courseId"] == queued.json()["course_id"]


def _shape() -> dict[str, int]:
    return {"tasks_per_lesson": BRIEF["tasks_per_lesson"]}
