"""`courseforge db upgrade`: migrate the configured database to the latest schema."""

from __future__ import annotations

import typer

from courseforge.cli.common import DATABASE_URL, migrate
from courseforge.settings import Settings

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(database_url: str | None = DATABASE_URL) -> None:
    """Apply every pending migration (safe to run repeatedly)."""
    url = database_url or Settings().database_url
    migrate(url)
    typer.echo(f"Database at {url} is up to date.")
