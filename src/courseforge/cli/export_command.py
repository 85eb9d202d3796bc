"""`courseforge export COURSE_ID --format F [--version N] [--out PATH]`: a course's file,
in any format of export/registry.py, the same bytes the API's export route answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from courseforge.cli.common import DATABASE_URL, prepared_settings
from courseforge.domain.course import Course
from courseforge.export.registry import FORMAT_NAMES, UnknownFormatError, export
from courseforge.runtime import open_database_runtime
from courseforge.settings import Settings
from courseforge.store.course_listing import CourseNotFoundError
from courseforge.store.pages import is_row_id

EXIT_FAILED = 1
errors = Console(highlight=False, soft_wrap=True, stderr=True)


def export_course(
    course_id: str = typer.Argument(..., help="The course's id."),
    format: str = typer.Option("json", "--format", help=f"One of: {', '.join(FORMAT_NAMES)}."),
    version: int | None = typer.Option(None, min=1, help="A stored version (default: current)."),
    out: Path | None = typer.Option(None, help="The file to write (default: ./<slug>.<ext>)."),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Write a course to a file: JSON, Markdown or a standalone HTML page."""
    if not is_row_id(course_id):
        _fail(f"{course_id!r} is not a course id (see `courseforge jobs list` for ids)")
    settings = prepared_settings(database_url)
    try:
        course = asyncio.run(_course(settings, course_id, version))
        filename, _, content = export(course, format)
    except (CourseNotFoundError, UnknownFormatError, _NoVersionError) as error:
        _fail(str(error))
    target = out or Path(filename)
    target.write_bytes(content)
    typer.echo(f"Wrote {target} ({len(content):,} bytes).")


class _NoVersionError(Exception):
    pass


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]Error:[/red] {escape(message)}")
    raise typer.Exit(EXIT_FAILED)


async def _course(settings: Settings, course_id: str, version: int | None) -> Course:
    async with open_database_runtime(settings) as runtime:
        detail = await runtime.reads.courses.get_course(course_id, None, version)
    if detail.content is None:
        raise _NoVersionError(f"course {course_id} has no version yet; wait for its job")
    return Course.model_validate(detail.content)
