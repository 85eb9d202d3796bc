"""`courseforge jobs list|show|cancel|retry|logs`: look at the queue and steer its jobs.

Each command parses, makes one call, renders: a Rich table or text for people, or
with `--json` plain JSON on stdout only (for scripts). Exit 1 when the job is unknown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from courseforge.cli.common import DATABASE_URL, prepared_settings, print_json
from courseforge.domain.jobs import JobStatus
from courseforge.runtime import DatabaseRuntime, open_database_runtime
from courseforge.store.job_listing import JobSnapshot, LogLine, StatusFilter
from courseforge.store.job_store import JobNotFoundError
from courseforge.store.job_view import JobView, job_view, snapshot_view

EXIT_FAILED = 1
T = TypeVar("T")

app = typer.Typer(help="List, inspect, cancel and retry queued jobs.", no_args_is_help=True)
# Whole lines (no wrapping at the terminal's width): easy to grep and copy. Errors go
# to stderr, so that stdout holds nothing but the answer (JSON with --json).
console = Console(highlight=False, soft_wrap=True)
errors = Console(highlight=False, soft_wrap=True, stderr=True)

AS_JSON = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")
JOB_ID = typer.Argument(..., help="The job's id.")
LEVEL_STYLES = {"info": "", "success": "green", "warning": "yellow", "error": "red"}


@app.command("list")
def list_jobs(
    status: StatusFilter | None = typer.Option(
        None, help="One status, or active (pending or running)."
    ),
    limit: int = typer.Option(20, min=1, max=1000, help="How many jobs, newest first."),
    as_json: bool = AS_JSON,
    database_url: str | None = DATABASE_URL,
) -> None:
    """The newest jobs first."""
    jobs = _with_runtime(database_url, lambda rt: _job_views(rt, status, limit))
    if as_json:
        print_json([job.model_dump(mode="json") for job in jobs])
    elif not jobs:
        console.print("No jobs.")
    else:
        console.print(_jobs_table(jobs))


@app.command("show")
def show(
    job_id: str = JOB_ID, as_json: bool = AS_JSON, database_url: str | None = DATABASE_URL
) -> None:
    """One job's status, progress, timing, usage and outcome."""
    snapshot, view = _with_runtime(database_url, lambda rt: _snapshot(rt, job_id))
    if as_json:
        print_json(_snapshot_json(snapshot, view))
        return
    for label, value in _snapshot_lines(snapshot, view):
        console.print(f"[bold]{label:<10}[/bold] {escape(value)}")


@app.command("cancel")
def cancel(job_id: str = JOB_ID, database_url: str | None = DATABASE_URL) -> None:
    """Cancel a pending job at once, or ask the worker running it to stop."""
    outcome = _with_runtime(database_url, lambda rt: rt.queue.cancel(job_id))
    if outcome == "not_found":
        _fail(str(JobNotFoundError(job_id)))
    messages = {
        "cancelled": f"Job {job_id} cancelled.",
        "cancelling": f"Job {job_id}: cancellation requested; its worker stops it shortly.",
        "finished": f"Job {job_id} has already finished; nothing to cancel.",
    }
    console.print(escape(messages[outcome]))


@app.command("retry")
def retry(job_id: str = JOB_ID, database_url: str | None = DATABASE_URL) -> None:
    """Queue a failed or cancelled job again; it resumes from its finished units."""
    queued, snapshot = _with_runtime(database_url, lambda rt: _retry(rt, job_id))
    if not queued:
        _fail(
            f"Job {job_id} is {snapshot.job.status}: only failed or cancelled jobs can be retried."
        )
    console.print(
        f"Job {escape(job_id)} queued again; a worker (`courseforge worker`) will resume it."
    )


@app.command("logs")
def logs(
    job_id: str = JOB_ID, as_json: bool = AS_JSON, database_url: str | None = DATABASE_URL
) -> None:
    """The job's log lines and how it ended, oldest first."""
    lines = _with_runtime(database_url, lambda rt: rt.reads.jobs.logs(job_id))
    if as_json:
        print_json([_log_json(line) for line in lines])
        return
    for line in lines:
        style = LEVEL_STYLES.get(line.level, "")
        level = (
            f"[{style}]{line.level.upper():<7}[/{style}]" if style else f"{line.level.upper():<7}"
        )
        console.print(f"{_when(line.at)}  {level}  {escape(line.message)}")


async def _job_views(
    runtime: DatabaseRuntime, status: StatusFilter | None, limit: int
) -> list[JobView]:
    page = await runtime.reads.jobs.list_jobs(None, status=status, limit=limit)
    now = runtime.clock.now()
    return [job_view(job, now) for job in page.items]


async def _snapshot(runtime: DatabaseRuntime, job_id: str) -> tuple[JobSnapshot, JobView]:
    snapshot = await runtime.reads.jobs.snapshot(job_id)
    return snapshot, snapshot_view(snapshot, runtime.clock.now())


async def _retry(runtime: DatabaseRuntime, job_id: str) -> tuple[bool, JobSnapshot]:
    """Retries, and reads the job after: what the message says either way (and: it exists)."""
    queued = await runtime.queue.retry(job_id)
    return queued, await runtime.reads.jobs.snapshot(job_id)


def _with_runtime(database_url: str | None, action: Callable[[DatabaseRuntime], Awaitable[T]]) -> T:
    """These commands call no model: the runtime opens without one (no key needed)."""
    settings = prepared_settings(database_url)

    async def run() -> T:
        async with open_database_runtime(settings) as runtime:
            return await action(runtime)

    try:
        return asyncio.run(run())
    except JobNotFoundError as error:
        _fail(str(error))


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]Error:[/red] {escape(message)}")
    raise typer.Exit(EXIT_FAILED)


# --- rendering -------------------------------------------------------------------


def _jobs_table(jobs: list[JobView]) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    # Whole even in a narrow terminal: the id is what the other commands take.
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("status", no_wrap=True, min_width=9)
    for heading in ("step", "progress", "created", "duration", "cost"):
        table.add_column(heading, no_wrap=True)
    table.add_column("topic", overflow="ellipsis", no_wrap=True, max_width=40)
    for job in jobs:
        table.add_row(
            job.id,
            job.status,
            job.step or "",
            _progress(job),
            _when(job.created_at, seconds=False),
            _seconds_text(job.duration_seconds),
            f"${job.cost_usd:.3f}",
            escape(job.topic),
        )
    return table


def _snapshot_lines(snapshot: JobSnapshot, job: JobView) -> list[tuple[str, str]]:
    stopping = snapshot.cancel_requested and job.status == JobStatus.RUNNING
    lines = [
        ("job", job.id),
        ("status", job.status + (" (cancellation requested)" if stopping else "")),
        ("topic", job.topic),
        ("step", job.step or "-"),
        ("progress", _progress(job)),
        ("current", job.progress.current_item or "-"),
        ("attempts", str(job.attempts)),
        ("worker", snapshot.lease_owner or "-"),
        ("created", _when(job.created_at)),
        ("started", _when(job.started_at)),
        ("finished", _when(job.finished_at)),
        ("duration", _seconds_text(job.duration_seconds)),
        ("llm calls", str(job.llm_calls)),
        ("tokens", f"{job.tokens_in:,} in, {job.tokens_out:,} out"),
        ("cost", f"${job.cost_usd:.4f}"),
        ("course", job.course_id or "-"),
    ]
    if job.error:
        lines.append(
            ("error", job.error + (f" (unit {job.failed_unit})" if job.failed_unit else ""))
        )
    return lines


def _snapshot_json(snapshot: JobSnapshot, job: JobView) -> dict[str, Any]:
    """The job as the API shows it, and the queue's bookkeeping an operator looks at."""
    return {
        **job.model_dump(mode="json"),
        "lease_owner": snapshot.lease_owner,
        "lease_expires_at": _iso(snapshot.lease_expires_at),
        "scheduled_for": _iso(snapshot.scheduled_for),
    }


def _log_json(line: LogLine) -> dict[str, Any]:
    return {
        "id": line.event_id,
        "type": line.type,
        "timestamp": _iso(line.at),
        "level": line.level,
        "message": line.message,
    }


def _progress(job: JobView) -> str:
    return f"{job.progress.items_completed}/{job.progress.items_total}"


def _seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


def _when(moment: datetime | None, *, seconds: bool = True) -> str:
    """In this machine's time zone: what the person reading the terminal lives in."""
    layout = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return moment.astimezone().strftime(layout) if moment else "-"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
