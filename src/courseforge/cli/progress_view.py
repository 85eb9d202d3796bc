"""Rich live progress for one job: overall bar, step bar, current item, tokens and cost."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from courseforge.domain.events import JobEvent

LOG_COLOURS = {"info": "cyan", "warning": "yellow", "error": "red", "success": "green"}


class ProgressView:
    """An EventSink that draws the job's progress while it runs."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._bars = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._overall: TaskID = self._bars.add_task("Course", total=None)
        self._step: TaskID = self._bars.add_task("Step", total=None)
        self._status = ""
        self._live = Live(self._render(), console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> ProgressView:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, traceback)

    async def publish(self, event: JobEvent) -> None:
        fields = event.fields
        if event.type == "step_started":
            self._bars.update(
                self._step,
                description=f"Step: {fields['step']}",
                total=fields["total"],
                completed=fields["completed"],
            )
        elif event.type == "step_progress":
            self._bars.update(self._step, completed=fields["completed"], total=fields["total"])
            self._bars.update(
                self._overall, completed=fields["itemsCompleted"], total=fields["itemsTotal"]
            )
            self._status = (
                f"Generating: {fields['currentItem']}   "
                f"{fields['tokens']:,} tokens · ${fields['costUsd']:.4f}"
            )
        elif event.type == "log":
            level = str(fields.get("level", "info"))
            colour = LOG_COLOURS.get(level, "white")
            self._console.print(
                f"[{colour}]{level}[/{colour}] {escape(str(fields.get('message')))}"
            )
        self._live.update(self._render())

    def _render(self) -> Table:
        grid = Table.grid()
        grid.add_row(self._bars)
        grid.add_row(self._status)
        return grid
