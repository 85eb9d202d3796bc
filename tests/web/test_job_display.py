"""The job page's checklist, "Generating" line and status sentence, from a snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from courseforge.domain.jobs import JobKind, JobStatus
from courseforge.store.job_view import JobProgress, JobView
from courseforge.web.job_display import generating_line, status_message, step_checklist

AT = datetime(2026, 1, 1, tzinfo=UTC)


def view(**changes: Any) -> JobView:
    progress = JobProgress(
        items_completed=changes.pop("done", 0),
        items_total=changes.pop("total", 0),
        percent=0,
        current_item=changes.pop("item", None),
    )
    values: dict[str, Any] = {
        "id": "0b5e6c1a-2d3f-4a5b-8c7d-9e0f1a2b3c4d",
        "kind": JobKind.COURSE,
        "status": JobStatus.RUNNING,
        "step": None,
        "topic": "Tide pools",
        "title": "Tide pools",
        "progress": progress,
        "eta_seconds": None,
        "attempts": 1,
        "error": None,
        "failed_unit": None,
        "course_id": None,
        "created_at": AT,
        "started_at": AT,
        "finished_at": None,
        "duration_seconds": 12.0,
        "llm_calls": 0,
        "tokens_in": 0,
        "tokens_out": 0,
        "cost_usd": 0.0,
    }
    return JobView(**(values | changes))


def states(job: JobView) -> list[str]:
    return [line.state for line in step_checklist(job)]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            JobStatus.RUNNING,
            ["done", "done", "running", "pending", "pending", "pending", "pending"],
        ),
        (JobStatus.FAILED, ["done", "done", "failed", "pending", "pending", "pending", "pending"]),
        (
            JobStatus.CANCELLED,
            ["done", "done", "stopped", "pending", "pending", "pending", "pending"],
        ),
        (
            JobStatus.PENDING,
            ["done", "done", "pending", "pending", "pending", "pending", "pending"],
        ),
        (JobStatus.COMPLETED, ["done"] * 7),
    ],
)
def test_steps_before_the_current_one_are_done(status: JobStatus, expected: list[str]) -> None:
    assert states(view(status=status, step="tasks")) == expected


def test_a_job_that_has_not_started_has_every_step_pending() -> None:
    assert states(view(status=JobStatus.PENDING, step=None)) == ["pending"] * 7


def test_a_course_from_an_approved_outline_starts_with_the_outline_done() -> None:
    queued = step_checklist(view(status=JobStatus.PENDING), outline_given=True)
    assert [line.state for line in queued] == ["done"] + ["pending"] * 6
    # Running, before its first unit is stored (no step yet): lessons are under way.
    started = step_checklist(view(step=None), outline_given=True)
    assert [line.state for line in started][:3] == ["done", "running", "pending"]
    assert states(view(step=None))[:2] == ["running", "pending"]


def test_an_outline_job_has_only_the_outline_step() -> None:
    lines = step_checklist(view(kind=JobKind.OUTLINE, step="outline"))
    assert [(line.step, line.state, line.state_text) for line in lines] == [
        ("outline", "running", "in progress")
    ]


def test_the_generating_line_names_the_item_and_the_count() -> None:
    job = view(step="lessons", item="Who lives here", done=2, total=5)
    assert generating_line(job, step_checklist(job)) == "Generating: Who lives here (2/5)"
    starting = view(step=None, done=0, total=5)
    lines = step_checklist(starting, outline_given=True)
    assert generating_line(starting, lines) == "Generating: lessons (0/5)"
    finished = view(status=JobStatus.COMPLETED, done=5, total=5)
    assert generating_line(finished, step_checklist(finished)) is None


def test_the_status_sentence_follows_the_job() -> None:
    assert status_message(view(status=JobStatus.PENDING)).startswith("Queued: waiting")
    requeued = view(status=JobStatus.PENDING, error="503 from the model")
    assert "503 from the model" in status_message(requeued)
    assert status_message(view(cancel_requested=True)).startswith("Cancelling")
    done = view(status=JobStatus.COMPLETED, duration_seconds=65.0)
    assert status_message(done) == "Completed in 1 min 05 s."
    assert "Retry resumes" in status_message(view(status=JobStatus.FAILED))
