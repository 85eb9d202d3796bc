"""Entry point: `courseforge generate|db ...`. Exit codes: 0 ok, 1 failed, 2 usage, 130 interrupted."""

from __future__ import annotations

import sys

import typer

from courseforge.cli import db_commands
from courseforge.cli.generate import generate

app = typer.Typer(
    name="courseforge",
    help="Generate complete courses with an LLM; run the job queue, API and workers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="generate")(generate)
app.add_typer(db_commands.app, name="db")


def main() -> None:
    sys.exit(app(standalone_mode=True))
