"""What the job page shows beyond the snapshot: its step checklist, the line saying what
is being generated, and a sentence on where the job stands.

Worked out from the job's snapshot alone, so the full page, the panel the page's script
fetches on every event, and a reader without JavaScript all see the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from courseforge.domain.jobs import JobKind, JobStatus
from courseforge.pipeline.units import STEPS
from courseforge.store.job_view import JobView
from courseforge.web.formatting import duration

StepState = Literal["done", "running", "pending", "failed", "stopped"]
STEP_NAMES = {
    "outline": "Outline",
    "lessons": "Lessons",
    "tasks": "Tasks",
    "assessments": "Assessments",
    "summaries": "Summaries",
    "evaluation": "Quality checks",
    "finalizing": "Finalizing",
}
# What a screen reader says for each glyph (the glyphs themselves are hidden from it).
STATE_TEXT: dict[StepState, str] = {
    "done": "done",
    "running": "in progress",
    "pending": "pending",
    "failed": "failed",
    "stopped": "stopped",
}
# Where a step under way stands when the job is no longer running.
_HALTED: dict[JobStatus, StepState] = {
    JobStatus.RUNNING: "running",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "stopped",
    JobStatus.PENDING: "pending",
}


@dataclass(frozen=True)
class StepLine:
    step: str
    name: str
    state: StepState

    @property
    def state_text(self) -> str:
        return STATE_TEXT[self.state]


def job_steps(job: JobView) -> tuple[str, ...]:
    """The spec's steps in order; an outline job has only its first."""
    return ("outline",) if job.kind == JobKind.OUTLINE else STEPS


def step_checklist(job: JobView, *, outline_given: bool = False) -> list[StepLine]:
    """Steps before the job's current one are done, the current one is under way (or
    where the job failed or stopped), later ones pending; all done once it completed.

    A course from an approved outline (`outline_given`) starts with its outline done.
    The job's `step` is stored as units finish, so a run that stopped or goes on
    before its first unit was stored has none yet: its first step not done is the one
    under way.
    """
    steps = job_steps(job)
    first = 1 if outline_given and job.kind == JobKind.COURSE else 0
    current = steps.index(job.step) if job.step in steps else None
    if current is None and job.started_at is not None:
        current = first
    lines = []
    for index, step in enumerate(steps):
        if job.status == JobStatus.COMPLETED or index < max(first, current or 0):
            state: StepState = "done"
        elif index == current:
            state = _HALTED[job.status]
        else:
            state = "pending"
        lines.append(StepLine(step, STEP_NAMES.get(step, step), state))
    return lines


def generating_line(job: JobView, steps: list[StepLine]) -> str | None:
    """ "Generating: <the item just finished> (2/5)" while the job runs; before its
    first item, the step under way stands in for it."""
    progress = job.progress
    if job.status != JobStatus.RUNNING or progress.items_total <= 0:
        return None
    running = [line.name.lower() for line in steps if line.state == "running"]
    item = progress.current_item or (running[0] if running else "the course")
    return f"Generating: {item} ({progress.items_completed}/{progress.items_total})"


def status_message(job: JobView) -> str:
    """One sentence on where the job stands and what happens next."""
    if job.status == JobStatus.PENDING:
        if job.error:
            return f"Queued again after a problem ({job.error}); it resumes where it stopped."
        return "Queued: waiting for a worker to pick it up."
    if job.status == JobStatus.RUNNING:
        if job.cancel_requested:
            return "Cancelling: the job stops after the unit of work under way."
        return "Running: units of work are stored as they finish."
    if job.status == JobStatus.COMPLETED:
        return f"Completed in {duration(job.duration_seconds)}."
    if job.status == JobStatus.FAILED:
        return "Failed. Retry resumes from the unit that failed; finished units are kept."
    return "Cancelled. Finished units are kept; Retry resumes from where it stopped."
