"""Where the pipeline's live events go: a port with a fan-out and an in-memory recorder."""

from __future__ import annotations

from typing import Protocol

from courseforge.domain.events import JobEvent


class EventSink(Protocol):
    async def publish(self, event: JobEvent) -> None: ...


class FanOut:
    """Hands each event to every sink in turn (the CLI's view, a broadcaster, ...)."""

    def __init__(self, *sinks: EventSink) -> None:
        self._sinks = sinks

    async def publish(self, event: JobEvent) -> None:
        for sink in self._sinks:
            await sink.publish(event)


class RecordingSink:
    """Keeps every event, for tests and for summaries after a run."""

    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    async def publish(self, event: JobEvent) -> None:
        self.events.append(event)
