"""What every database command does first, and how commands print JSON for scripts."""

from __future__ import annotations

import json
from typing import Any

import typer

from courseforge.logs import configure_logging
from courseforge.settings import Settings
from courseforge.store.database import upgrade_database


def prepared_settings(database_url: str | None) -> Settings:
    """The settings (`--database-url` over the environment), logging set up from them, and
    the database migrated to this code's schema."""
    settings = Settings(database_url=database_url) if database_url else Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    upgrade_database(settings.database_url)
    return settings


def print_json(document: Any) -> None:
    # typer.echo, not Rich: nothing but the JSON text reaches stdout.
    typer.echo(json.dumps(document, indent=2))
