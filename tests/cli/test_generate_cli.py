"""`courseforge generate`: files written, exit codes 0 / 1 / 2 / 130, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from courseforge.cli.app import app
from courseforge.domain.course import Course

runner = CliRunner()
SMALL = ["--modules", "2", "--lessons", "1", "--tasks", "1", "--questions", "2"]


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> str:
    monkeypatch.setenv("COURSEFORGE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COURSEFORGE_LLM_PROVIDER", "fake")
    return sqlite_url


def job_rows(database_url: str) -> list[sa.Row[tuple[str, str, str | None]]]:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text("SELECT id, status, failed_unit FROM jobs")))
    engine.dispose()
    return rows


def test_generate_writes_json_and_markdown(fake_env: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["generate", "Rust ownership", *SMALL, "--out", str(out)])

    assert result.exit_code == 0, result.output
    course = Course.model_validate_json((out / "course.json").read_text())
    assert course.counts()["modules"] == 2
    markdown = (out / "course.md").read_text()
    assert markdown.startswith(f"# {course.title}")
    assert all(module.title in markdown for module in course.modules)
    assert "2 modules, 2 lessons, 2 tasks, 2 quizzes" in result.output
    assert "LLM provider: fake" in result.output


def test_a_run_longer_than_its_lease_keeps_its_job(
    fake_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The process that claimed the job renews its lease while generating."""
    monkeypatch.setenv("COURSEFORGE_LEASE_S", "0.3")
    monkeypatch.setenv("COURSEFORGE_FAKE_LATENCY_MS", "250")
    result = runner.invoke(app, ["generate", "Rust ownership", *SMALL, "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "course.json").exists()
    [(_, status, _)] = job_rows(fake_env)
    assert status == "completed"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["generate"], "give a TOPIC"),
        (["generate", "ab"], "topic"),
        (["generate", "Rust ownership", "--level", "expert"], "expert"),
        (["generate", "Rust ownership", "--modules", "0"], "greater than or equal to 1"),
        (["generate", "--resume", "no-such-job"], "no job with id"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    fake_env: str, arguments: list[str], message: str
) -> None:
    result = runner.invoke(app, arguments)

    assert result.exit_code == 2
    assert message in result.output


def test_failed_generation_exits_1_and_resume_finishes_it(
    fake_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COURSEFORGE_FAKE_INVALID_RATE", "1")
    monkeypatch.setenv("COURSEFORGE_JOB_MAX_RUNS", "2")  # one automatic retry, quickly
    monkeypatch.setenv("COURSEFORGE_RETRY_BACKOFF_S", "0.01")
    failed = runner.invoke(app, ["generate", "Rust ownership", *SMALL])
    assert failed.exit_code == 1
    assert "Generation failed: outline" in failed.output
    [(job_id, status, failed_unit)] = job_rows(fake_env)
    assert (status, failed_unit) == ("failed", "outline")

    monkeypatch.setenv("COURSEFORGE_FAKE_INVALID_RATE", "0")
    out = tmp_path / "resumed"
    resumed = runner.invoke(app, ["generate", "--resume", job_id, "--out", str(out)])

    assert resumed.exit_code == 0, resumed.output
    assert (out / "course.json").exists()
    assert job_rows(fake_env) == [(job_id, "completed", None)]


def test_ctrl_c_exits_130_and_leaves_the_job_resumable(fake_env: str, tmp_path: Path) -> None:
    env = {**os.environ, "COURSEFORGE_FAKE_LATENCY_MS": "1500", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "courseforge", "generate", "Rust ownership", *SMALL],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_running(fake_env)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, output
    assert "--resume" in output
    [(job_id, status, _)] = job_rows(fake_env)
    assert status == "cancelled"

    resumed = runner.invoke(app, ["generate", "--resume", job_id, "--out", str(tmp_path)])
    assert resumed.exit_code == 0, resumed.output
    assert job_rows(fake_env)[0][1] == "completed"


def _wait_until_running(database_url: str) -> None:
    """Blocks until the child process has a running job (a condition, bounded in time)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = job_rows(database_url)
        if rows and rows[0][1] == "running":
            return
        time.sleep(0.05)  # polling a condition in another process, not waiting for time
    raise AssertionError("the generate process never started its job")


def test_help_lists_the_documented_options() -> None:
    result = runner.invoke(app, ["generate", "--help"])
    for option in ("--audience", "--level", "--modules", "--lessons", "--tasks", "--source"):
        assert option in result.output
