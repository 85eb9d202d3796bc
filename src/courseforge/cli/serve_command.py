"""`courseforge serve`: the HTTP API (uvicorn), with an in-process worker by default."""

from __future__ import annotations

import os
import secrets

import typer
import uvicorn
from rich.console import Console

from courseforge.cli.common import DATABASE_URL, prepared_settings

APP_FACTORY = "courseforge.api.app:app_from_environment"


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="API processes (uvicorn workers)."),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Run no jobs here: an API-only replica beside `worker`s."
    ),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and, unless --no-worker, run queued jobs."""
    # The settings travel to uvicorn's worker processes through the environment.
    if database_url:
        os.environ["COURSEFORGE_DATABASE_URL"] = database_url
    if no_worker:
        os.environ["COURSEFORGE_API_ONLY"] = "true"
    # Every worker process must sign CSRF tokens alike, or a form served by one is refused
    # by another. Replicas on other hosts share one only when it is configured.
    os.environ.setdefault("COURSEFORGE_CSRF_SECRET", secrets.token_urlsafe(32))
    settings = prepared_settings(None)
    Console(highlight=False).print(
        f"courseforge API on http://{host}:{port} (docs at /docs); "
        + ("no worker here." if settings.api_only else "running jobs in this process too.")
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
