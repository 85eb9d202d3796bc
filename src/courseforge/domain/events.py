"""Live progress events of a job: what the CLI draws and (later) what SSE clients receive."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

EventType = Literal[
    "job_created",
    "step_started",
    "step_progress",
    "step_completed",
    "topic_started",
    "topic_progress",
    "topic_completed",
    "job_completed",
    "job_failed",
    "job_cancelled",
    "log",
]
LogLevel = Literal["info", "warning", "error", "success"]
TERMINAL_EVENTS: frozenset[str] = frozenset({"job_completed", "job_failed", "job_cancelled"})


class JobEvent(BaseModel):
    """One event. `fields` holds the type's own data (step, items, title, message, ...)."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    job_id: str
    timestamp: datetime
    fields: dict[str, Any]

    def wire(self) -> dict[str, Any]:
        """The JSON clients receive: type, ISO timestamp, jobId, then the type's fields."""
        return {
            "type": self.type,
            "timestamp": self.timestamp.isoformat(),
            "jobId": self.job_id,
            **self.fields,
        }
