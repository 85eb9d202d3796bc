"""`courseforge serve --workers 2`: a form served by one worker process is accepted by
the other, because `serve` gives all its workers one CSRF secret."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from courseforge.store.database import upgrade_database
from tests.api.test_cross_process import _answers, free_port
from tests.web.conftest import PASSWORD, csrf_token
from tests.worker.helpers import wait_for

LOGINS = 16


@pytest.fixture
def two_workers(postgres_url: str) -> Iterator[str]:
    upgrade_database(postgres_url)
    port = free_port()
    environment = {**os.environ, "COURSEFORGE_DATABASE_URL": postgres_url}
    environment.pop("COURSEFORGE_CSRF_SECRET", None)
    command = [sys.executable, "-m", "courseforge", "serve", "--no-worker", "--workers", "2"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base_url), timeout=60, what="the API processes to listen")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_every_worker_accepts_the_forms_of_the_others(
    postgres_url: str, two_workers: str
) -> None:
    async with open_runtime(Settings(database_url=postgres_url)) as runtime:
        await runtime.accounts.create_user("erin", "acme", "teacher")
        await runtime.accounts.set_password("erin", PASSWORD)
    statuses = []
    for _ in range(LOGINS):
        # No keep-alive: each request is a new connection, which either worker may accept.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=two_workers, limits=limits, timeout=30) as client:
            token = await csrf_token(client)
            form = {"name": "erin", "password": PASSWORD, "next": "/", "csrftoken": token}
            response = await client.post("/login", data=form)
            statuses.append(response.status_code)
    assert statuses == [303] * LOGINS
