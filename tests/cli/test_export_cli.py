"""`courseforge export`: a course's file in each registered format, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from courseforge.cli.app import app
from courseforge.domain.course import Course
from courseforge.export.registry import EXPORTERS, FORMAT_NAMES
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from tests.cli.test_jobs_cli import complete

runner = CliRunner()


@pytest.fixture(autouse=True)
def fake_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSEFORGE_LLM_PROVIDER", "fake")


def course_of(database_url: str, job_id: str) -> tuple[str, Course]:
    async def go() -> tuple[str, Course]:
        async with open_runtime(Settings(database_url=database_url, llm_provider="fake")) as rt:
            course_id = (await rt.store.get_job(job_id)).course_id
            assert course_id is not None
            return course_id, (await rt.store.load_course(course_id))[0]

    return asyncio.run(go())


def export(database_url: str, *arguments: str) -> Result:
    return runner.invoke(app, ["export", *arguments, "--database-url", database_url])


def test_every_format_is_written_to_the_named_file(database_url: str, tmp_path: Path) -> None:
    course_id, course = course_of(database_url, complete(database_url, "Tide pools"))

    for name, exporter in EXPORTERS.items():
        target = tmp_path / f"out.{exporter.extension}"
        result = export(database_url, course_id, "--format", name, "--out", str(target))
        assert result.exit_code == 0, result.output
        assert f"Wrote {target}" in result.stdout
        assert target.read_bytes() == exporter.write(course)
    assert Course.model_validate(json.loads((tmp_path / "out.json").read_text())) == course
    assert (tmp_path / "out.md").read_text().startswith(f"# {course.title}")
    assert "<!doctype html>" in (tmp_path / "out.html").read_text().lower()


def test_a_version_is_chosen_and_the_default_file_is_named_by_the_slug(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    course_id, course = course_of(database_url, complete(database_url, "Volcanoes"))
    monkeypatch.chdir(tmp_path)

    written = export(database_url, course_id, "--format", "markdown", "--version", "1")
    missing = export(database_url, course_id, "--version", "2")

    assert written.exit_code == 0, written.output
    assert (tmp_path / f"{course.slug}.md").read_bytes() == EXPORTERS["markdown"].write(course)
    assert missing.exit_code == 1
    assert "has no version 2" in missing.stderr


def test_a_wrong_format_or_course_is_one_clear_line(database_url: str) -> None:
    course_id, _ = course_of(database_url, complete(database_url, "Glaciers"))

    wrong_format = export(database_url, course_id, "--format", "pdf")
    unknown = export(database_url, "3f1c2a4e-8b7d-4c6e-9a1b-2d3e4f5a6b7c")
    malformed = export(database_url, "not-an-id\x00")

    assert wrong_format.exit_code == 1
    assert f"use one of: {', '.join(FORMAT_NAMES)}" in wrong_format.stderr
    assert unknown.exit_code == 1
    assert "no course with id" in unknown.stderr
    assert malformed.exit_code == 1
    assert "is not a course id" in malformed.stderr
