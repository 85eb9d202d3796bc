"""`courseforge worker`: a standalone worker that runs queued jobs until told to stop.

SIGTERM or Ctrl-C stops it gracefully: it claims nothing more, lets running jobs
finish for a grace period, then hands the rest back to the queue so that another
worker takes them at once. A second signal exits at once (130); the jobs it was
running then come back when their leases expire, as after a crash.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from courseforge.cli.common import DATABASE_URL, EXIT_FAILED, prepared_settings
from courseforge.llm.errors import ProviderUnavailableError
from courseforge.runtime import open_runtime
from courseforge.settings import Settings

EXIT_INTERRUPTED = 130
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def worker(
    concurrency: int | None = typer.Option(
        None, min=1, max=256, help="Jobs run at once (default: COURSEFORGE_WORKER_CONCURRENCY)."
    ),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Run queued jobs until SIGTERM or Ctrl-C (for scale-out: start one per host or core)."""
    console = Console(highlight=False)
    settings = prepared_settings(database_url)
    try:
        asyncio.run(_serve(settings, concurrency, console))
    except ProviderUnavailableError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_FAILED) from None
    except KeyboardInterrupt:  # Ctrl-C while starting, before the handlers are in place
        console.print("[yellow]Interrupted.[/yellow]")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    console.print("Worker stopped.")


async def _serve(settings: Settings, concurrency: int | None, console: Console) -> None:
    async with open_runtime(settings) as runtime:
        console.print(runtime.choice.announcement())
        if runtime.choice.notice:
            console.print(f"[yellow]{runtime.choice.notice}[/yellow]")
        worker = runtime.worker(concurrency=concurrency)
        console.print(
            f"Worker {worker.id} runs up to {worker.config.concurrency} jobs at once; "
            "stop it with SIGTERM or Ctrl-C."
        )
        stop = asyncio.Event()
        with stop_on_signals(stop, console, worker.config.shutdown_grace_s):
            await worker.run(stop)


@contextmanager
def stop_on_signals(stop: asyncio.Event, console: Console, grace_s: float) -> Iterator[None]:
    """The first SIGTERM/SIGINT sets `stop`; a second one ends the process at once."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            console.print("[red]Second signal: exiting now.[/red]")
            sys.stdout.flush()
            # No unwinding: the person asked for now; the leases expire and the jobs return.
            os._exit(EXIT_INTERRUPTED)
        console.print(
            f"[yellow]Stopping:[/yellow] running jobs get {grace_s:.0f} s to finish, then go "
            "back to the queue (signal again to exit at once)."
        )
        stop.set()

    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, on_signal)
    try:
        yield
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)
