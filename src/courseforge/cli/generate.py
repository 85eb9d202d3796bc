"""`courseforge generate TOPIC`: the one-shot main job, with live progress."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

from courseforge.cli.common import DATABASE_URL, migrate
from courseforge.domain.course import Level
from courseforge.domain.jobs import JobStatus
from courseforge.domain.outline import CourseRequest
from courseforge.export.files import write_course_files
from courseforge.llm.errors import ProviderUnavailableError
from courseforge.llm.registry import ProviderChoice, choose_provider
from courseforge.logs import configure_logging
from courseforge.pipeline.events import FanOut
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import ProviderName, Settings
from courseforge.store.job_store import JobNotFoundError

# A course the bundled 135M model finishes in a few minutes on two cores.
LOCAL_SHAPE = {
    "modules": 2,
    "lessons_per_module": 2,
    "tasks_per_lesson": 2,
    "questions_per_quiz": 3,
}
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


@dataclass
class _Run:
    job_id: str | None = None


def generate(
    topic: str | None = typer.Argument(None, help="What the course teaches."),
    audience: str | None = typer.Option(None, help="Who it is for."),
    level: Level = typer.Option("beginner", help="beginner, intermediate or advanced."),
    language: str = typer.Option("en", help="Language tag of the course, e.g. en, de, pt-BR."),
    modules: int | None = typer.Option(None, min=1, max=12, help="Modules (default 5; 2 locally)."),
    lessons: int | None = typer.Option(None, min=1, max=8, help="Lessons per module."),
    tasks: int | None = typer.Option(None, min=1, max=6, help="Tasks per lesson."),
    questions: int | None = typer.Option(None, min=1, max=12, help="Questions per quiz."),
    source: Path | None = typer.Option(
        None, exists=True, dir_okay=False, readable=True, help="Source material to build from."
    ),
    provider: ProviderName | None = typer.Option(
        None, help="auto, openai, anthropic, local, fake."
    ),
    model_complex: str | None = typer.Option(None, help="Model for lessons, tasks and quizzes."),
    model_simple: str | None = typer.Option(None, help="Model for summaries and metadata."),
    out: Path | None = typer.Option(None, help="Folder for course.json and course.md."),
    resume: str | None = typer.Option(None, help="Continue an interrupted or failed job."),
    database_url: str | None = DATABASE_URL,
    publish: bool = typer.Option(
        False, "--publish", help="Publish the course as soon as it is generated."
    ),
    detach: bool = typer.Option(
        False, "--detach", help="Only queue the job and print its id (for workers elsewhere)."
    ),
) -> None:
    """Generate a whole course and write it as JSON and Markdown."""
    console = Console(highlight=False)
    settings = _settings(provider, model_complex, model_simple, database_url)
    configure_logging(settings.log_level, json_lines=settings.log_json)
    choice = choose_provider(settings)
    request = None
    if resume is None:
        if topic is None:
            _usage_error(console, "give a TOPIC, or --resume JOB_ID to continue a job")
        shape = LOCAL_SHAPE if choice.name == "local" else {}
        counts = {
            "modules": modules,
            "lessons_per_module": lessons,
            "tasks_per_lesson": tasks,
            "questions_per_quiz": questions,
        }
        fields: dict[str, Any] = {**shape, **{k: v for k, v in counts.items() if v is not None}}
        if audience:
            fields["audience"] = audience
        material = source.read_text(encoding="utf-8", errors="replace") if source else None
        try:
            request = CourseRequest(
                topic=topic or "",
                level=level,
                language=language,
                source_material=material,
                **fields,
            )
        except ValidationError as error:
            _usage_error(console, _readable(error))
    console.print(choice.announcement())
    if choice.notice:
        console.print(f"[yellow]{choice.notice}[/yellow]")
    migrate(settings.database_url)
    run = _Run(job_id=resume)
    started = time.perf_counter()
    try:
        asyncio.run(
            _generate(settings, choice, request, run, out, console, started, detach, publish)
        )
    except KeyboardInterrupt:
        console.print(
            f"\n[yellow]Interrupted.[/yellow] Finished units are saved; continue with: "
            f"courseforge generate --resume {run.job_id}"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None


async def _generate(
    settings: Settings,
    choice: ProviderChoice,
    request: CourseRequest | None,
    run: _Run,
    out: Path | None,
    console: Console,
    started: float,
    detach: bool,
    publish: bool,
) -> None:
    try:
        async with open_runtime(settings, choice=choice) as runtime:  # chosen once, above
            run.job_id = await _queue_job(runtime, request, run.job_id, console, publish)
            console.print(f"Job {run.job_id}")
            if detach:
                console.print("Queued. A worker (`courseforge worker`) will run it.")
                return
            course_id = await _run_job(runtime, run.job_id, console)
            await _write_and_summarize(runtime, run.job_id, course_id, out, console, started)
    except ProviderUnavailableError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_FAILED) from None
    except JobNotFoundError as error:
        _usage_error(console, str(error))


async def _queue_job(
    runtime: Runtime,
    request: CourseRequest | None,
    resume: str | None,
    console: Console,
    publish: bool,
) -> str:
    """A new job for this brief, or the job to resume queued again."""
    if request is not None:
        owner = await runtime.accounts.local_user()
        enqueued = await runtime.queue.enqueue_course(request, owner, auto_publish=publish)
        if not enqueued.created:
            console.print(
                f"[red]An identical course job is already queued or running:[/red] "
                f"{enqueued.job_id}. Follow it with: courseforge jobs show {enqueued.job_id}"
            )
            raise typer.Exit(EXIT_FAILED)
        return enqueued.job_id
    assert resume is not None
    job = await runtime.store.get_job(resume)
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        await runtime.queue.retry(resume)
    return resume


async def _run_job(runtime: Runtime, job_id: str, console: Console) -> str:
    """Runs the job in this process, through the queue, like any worker would."""
    from courseforge.cli.progress_view import ProgressView

    job = await runtime.store.get_job(job_id)
    if job.status == JobStatus.COMPLETED and job.course_id:
        return job.course_id
    view = ProgressView(console)
    worker = runtime.worker(FanOut(view))  # the claim's holder is the one that heartbeats
    if not await runtime.queue.claim_job(job_id, worker.id):
        console.print(
            f"[red]Job {job_id} is {job.status} and held by another worker[/red]; "
            "resume it after that worker stops (its lease expires)."
        )
        raise typer.Exit(EXIT_FAILED)
    with view:
        await worker.run_claimed(job_id)
    job = await runtime.store.get_job(job_id)
    if job.status != JobStatus.COMPLETED or job.course_id is None:
        console.print(f"[red]Generation {job.status}[/red]: {job.error or 'no course was stored'}")
        console.print(f"Fix the cause, then: courseforge generate --resume {job_id}")
        raise typer.Exit(EXIT_FAILED)
    return job.course_id


async def _write_and_summarize(
    runtime: Runtime,
    job_id: str,
    course_id: str,
    out: Path | None,
    console: Console,
    started: float,
) -> None:
    course, quality = await runtime.store.load_course(course_id)
    job = await runtime.store.get_job(job_id)
    paths = write_course_files(course, out or Path("courses") / course.slug)
    counts = course.counts()
    console.print(
        f"[green]Done:[/green] {counts['modules']} modules, {counts['lessons']} lessons, "
        f"{counts['tasks']} tasks, {counts['quizzes']} quizzes, {job.llm_calls} LLM calls, "
        f"{job.tokens_in + job.tokens_out:,} tokens, ${job.cost_usd:.3f}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    console.print(f"Quality score {quality['overall']:.2f}; wrote {', '.join(map(str, paths))}")


def _settings(
    provider: ProviderName | None,
    model_complex: str | None,
    model_simple: str | None,
    database_url: str | None,
) -> Settings:
    overrides: dict[str, Any] = {
        "llm_provider": provider,
        "model_complex": model_complex,
        "model_simple": model_simple,
        "database_url": database_url,
    }
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _readable(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or 'input'}: {item['msg']}"
        for item in error.errors(include_url=False)
    )


def _usage_error(console: Console, message: str) -> Any:
    console.print(f"[red]Error:[/red] {message}")
    raise typer.Exit(EXIT_USAGE)
