"""What every database command shares: the `--database-url` option, settings, logging
and migrations before it runs, one line when the database is out of reach, and JSON
output for scripts."""

from __future__ import annotations

import json
import re
from typing import Any

import typer
from sqlalchemy.engine import make_url

from courseforge.logs import configure_logging
from courseforge.settings import Settings
from courseforge.store.database import upgrade_database
from courseforge.store.outages import is_database_unreachable

EXIT_FAILED = 1
DATABASE_URL = typer.Option(None, "--database-url", help="Overrides COURSEFORGE_DATABASE_URL.")


def prepared_settings(database_url: str | None) -> Settings:
    """The settings (`--database-url` over the environment), logging set up from them, and
    the database migrated to this code's schema."""
    settings = Settings(database_url=database_url) if database_url else Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    migrate(settings.database_url)
    return settings


def migrate(database_url: str) -> None:
    """Migrates the database to head; if it cannot be reached, the command ends with one
    line saying so (exit 1), not with the driver's traceback."""
    try:
        upgrade_database(database_url)
    except Exception as error:
        if not is_database_unreachable(error):
            raise
        typer.echo(f"error: {unreachable(database_url, error)}", err=True)
        raise typer.Exit(EXIT_FAILED) from None


def unreachable(database_url: str, error: BaseException) -> str:
    """`cannot reach the database at URL (reason)`, the password hidden."""
    shown = make_url(database_url).render_as_string(hide_password=True)
    return f"cannot reach the database at {shown} ({_reason(error)})"


def _reason(error: BaseException) -> str:
    # The driver's own error (SQLAlchemy wraps it), first line, last clause: libpq says
    # 'connection failed: connection to server at "h", port 1 failed: Connection refused'.
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    reason = re.sub(r"^\[Errno [^]]*\]\s*", "", lines[0].rsplit(": ", 1)[-1].strip())
    return reason[:1].lower() + reason[1:]


def print_json(document: Any) -> None:
    # typer.echo, not Rich: nothing but the JSON text reaches stdout.
    typer.echo(json.dumps(document, indent=2))
