"""The API and `courseforge jobs --json` show a job the same way: one serializer, one
meaning for every field (a running job's duration is its time so far in both)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from courseforge.cli.app import app
from tests.api.conftest import LiveApi
from tests.api.helpers import BRIEF

runner = CliRunner()


@pytest.fixture
def fake_latency_ms() -> float:
    return 1500.0  # each LLM call: long enough to look at a running job


async def running_job(api: LiveApi, deadline_s: float = 20.0) -> dict[str, Any]:
    async with api.client("alice") as client:
        job_id = (await client.post("/api/outlines", json=BRIEF)).json()["job_id"]
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            job: dict[str, Any] = (await client.get(f"/api/jobs/{job_id}")).json()
            if job["status"] == "running" and job["started_at"] is not None:
                return job
            await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never ran")


def cli_json(api: LiveApi, *arguments: str) -> Any:
    """The command's JSON (run on a thread: it has an event loop of its own)."""
    result = runner.invoke(app, ["jobs", *arguments, "--json", "--database-url", api.database_url])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def test_the_api_and_the_cli_show_a_running_job_alike(api: LiveApi) -> None:
    from_api = await running_job(api)
    shown = await asyncio.to_thread(cli_json, api, "show", from_api["id"])
    listed = await asyncio.to_thread(cli_json, api, "list", "--status", "running")

    assert from_api["duration_seconds"] is not None
    assert from_api["duration_seconds"] >= 0
    for from_cli in (shown, listed[0]):
        assert set(from_api) <= set(from_cli)
        assert from_cli["id"] == from_api["id"]
        assert from_cli["status"] == "running"
        assert from_cli["duration_seconds"] >= from_api["duration_seconds"]
        assert from_cli["progress"].keys() == from_api["progress"].keys()
        assert from_cli["started_at"] == from_api["started_at"]
