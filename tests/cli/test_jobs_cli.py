"""`courseforge jobs list|show|cancel|retry|logs` on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from courseforge.cli.app import app
from courseforge.domain.outline import CourseRequest
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from tests.cli.helpers import TINY, enqueue

runner = CliRunner()


@pytest.fixture(autouse=True)
def fake_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSEFORGE_LLM_PROVIDER", "fake")


def complete(database_url: str, topic: str) -> str:
    """A job run to the end in this process, the way `generate` runs one."""

    async def go() -> str:
        async with open_runtime(Settings(database_url=database_url, llm_provider="fake")) as rt:
            owner = await rt.accounts.local_user()
            job_id = (
                await rt.queue.enqueue_course(CourseRequest(topic=topic, **TINY), owner)
            ).job_id
            worker = rt.worker()
            assert await rt.queue.claim_job(job_id, worker.id)
            await worker.run_claimed(job_id)
            return job_id

    return asyncio.run(go())


def jobs(database_url: str, *arguments: str) -> Result:
    return runner.invoke(app, ["jobs", *arguments, "--database-url", database_url])


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_shows_newest_first_and_filters_by_status(database_url: str) -> None:
    first, second = enqueue(database_url, "Rust ownership", "Python typing")
    done = complete(database_url, "SQL joins")

    listed = as_json(jobs(database_url, "list", "--json"))
    assert [job["id"] for job in listed] == [done, second, first]
    assert listed[0]["status"] == "completed"
    assert listed[0]["progress"]["items_completed"] == listed[0]["progress"]["items_total"] > 0
    assert listed[2]["topic"] == "Rust ownership"

    pending = as_json(jobs(database_url, "list", "--status", "pending", "--json"))
    assert {job["id"] for job in pending} == {first, second}
    active = as_json(jobs(database_url, "list", "--status", "active", "--limit", "1", "--json"))
    assert [job["id"] for job in active] == [second]

    table = jobs(database_url, "list")
    assert table.exit_code == 0, table.output
    assert all(job_id in table.output for job_id in (first, second, done))
    assert "completed" in table.output


def test_list_rejects_an_unknown_status(database_url: str) -> None:
    result = jobs(database_url, "list", "--status", "stuck")

    assert result.exit_code == 2
    assert "stuck" in result.output


def test_show_gives_the_snapshot(database_url: str) -> None:
    done = complete(database_url, "SQL joins")

    snapshot = as_json(jobs(database_url, "show", done, "--json"))
    assert snapshot["status"] == "completed"
    assert snapshot["attempts"] == 1
    assert snapshot["course_id"] is not None
    assert snapshot["llm_calls"] > 0
    assert snapshot["tokens_in"] > 0
    assert snapshot["duration_seconds"] >= 0

    text = jobs(database_url, "show", done)
    assert text.exit_code == 0, text.output
    assert "completed" in text.output
    assert snapshot["course_id"] in text.output


def test_cancel_a_pending_job_then_retry_it(database_url: str) -> None:
    [job_id] = enqueue(database_url, "Rust ownership")

    cancelled = jobs(database_url, "cancel", job_id)
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled" in cancelled.output
    assert as_json(jobs(database_url, "show", job_id, "--json"))["status"] == "cancelled"

    retried = jobs(database_url, "retry", job_id)
    assert retried.exit_code == 0, retried.output
    assert "queued again" in retried.output
    assert as_json(jobs(database_url, "show", job_id, "--json"))["status"] == "pending"


def test_cancel_a_finished_job_says_so(database_url: str) -> None:
    done = complete(database_url, "SQL joins")

    result = jobs(database_url, "cancel", done)

    assert result.exit_code == 0, result.output
    assert "already finished" in result.output
    assert as_json(jobs(database_url, "show", done, "--json"))["status"] == "completed"


def test_retry_of_a_pending_job_exits_1(database_url: str) -> None:
    [job_id] = enqueue(database_url, "Rust ownership")

    result = jobs(database_url, "retry", job_id)

    assert result.exit_code == 1
    assert "is pending" in result.output
    assert "only failed or cancelled jobs" in result.output


def test_logs_show_the_cancellation(database_url: str) -> None:
    [job_id] = enqueue(database_url, "Rust ownership")
    assert jobs(database_url, "cancel", job_id).exit_code == 0

    lines = as_json(jobs(database_url, "logs", job_id, "--json"))

    assert [line["type"] for line in lines] == ["job_cancelled"]
    assert lines[0]["level"] == "warning"
    assert lines[0]["timestamp"]
    text = jobs(database_url, "logs", job_id)
    assert "Job cancelled" in text.output


def test_logs_of_a_completed_job_end_with_its_completion(database_url: str) -> None:
    done = complete(database_url, "SQL joins")

    lines = as_json(jobs(database_url, "logs", done, "--json"))

    assert lines[-1]["type"] == "job_completed"
    assert lines[-1]["level"] == "success"
    assert {line["type"] for line in lines} <= {"log", "job_completed"}


@pytest.mark.parametrize("command", ["show", "cancel", "retry", "logs"])
def test_an_unknown_job_exits_1_with_a_message(database_url: str, command: str) -> None:
    result = jobs(database_url, command, "no-such-job")

    assert result.exit_code == 1
    assert "no job with id 'no-such-job'" in result.stderr
    assert result.stdout == ""  # stdout holds answers only, so scripts never parse an error
