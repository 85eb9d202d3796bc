"""Which steps have started and finished, reported in the spec's order.

Units of several steps run at once (a lesson's tasks while other lessons are being
written), but clients see steps as a checklist: a step is announced as started no later
than any step after it, and completed only once every step before it has completed.
Steps whose units were all done in an earlier run are not announced again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from courseforge.domain.events import EventType
from courseforge.pipeline.units import STEPS, Step, Unit

StepEvent = tuple[EventType, dict[str, Any]]


@dataclass
class StepTracker:
    units: dict[Step, list[str]] = field(default_factory=dict)
    started: list[Step] = field(default_factory=list)
    completed: list[Step] = field(default_factory=list)

    def add(self, units: list[Unit], done: set[str]) -> None:
        for unit in units:
            self.units.setdefault(unit.step, []).append(unit.key)
        for step, keys in self.units.items():
            known = step in self.started or step in self.completed
            if not known and all(key in done for key in keys):
                self.completed.append(step)  # finished in an earlier run: nothing to announce

    def starting(self, step: Step, done: set[str]) -> list[StepEvent]:
        events: list[StepEvent] = []
        for earlier in STEPS[: STEPS.index(step) + 1]:
            if earlier in self.units and earlier not in self.started + self.completed:
                self.started.append(earlier)
                keys = self.units[earlier]
                fields = {
                    "step": earlier,
                    "total": len(keys),
                    "completed": sum(1 for key in keys if key in done),
                }
                events.append(("step_started", fields))
        return events

    def finishing(self, done: set[str]) -> list[StepEvent]:
        events: list[StepEvent] = []
        for step in STEPS:
            if step in self.completed or step not in self.units:
                continue
            keys = self.units[step]
            if step not in self.started or not all(key in done for key in keys):
                break
            self.completed.append(step)
            events.append(("step_completed", {"step": step, "total": len(keys)}))
        return events

    def current(self) -> Step | None:
        """The earliest step under way: the one a job's `step` shows."""
        for step in self.started:
            if step not in self.completed:
                return step
        return None
