"""The `courseforge` command. Exit codes: 0 ok, 1 failed, 2 usage, 130 interrupted."""

from __future__ import annotations

import sys

import typer

from courseforge.cli import db_commands, jobs_commands, users_commands
from courseforge.cli.export_command import export_course
from courseforge.cli.generate import generate
from courseforge.cli.serve_command import serve
from courseforge.cli.worker_command import worker

app = typer.Typer(
    name="courseforge",
    help="Generate complete courses with an LLM; run the job queue, API and workers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="generate")(generate)
app.command(name="worker")(worker)
app.command(name="serve")(serve)
app.command(name="export")(export_course)
app.add_typer(db_commands.app, name="db")
app.add_typer(jobs_commands.app, name="jobs")
app.add_typer(users_commands.app, name="users")


def main() -> None:
    sys.exit(app(standalone_mode=True))
