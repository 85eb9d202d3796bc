"""Runs one course job through the steps, unit by unit, from its checkpoints.

Within a step every unit whose inputs are ready runs at once (the LLM gateway bounds
how many calls are in flight); each finished unit is stored before anything else
happens, so a stopped run resumes at the first unfinished unit. When a unit fails,
its siblings are allowed to finish (their work is kept) and the job fails naming it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from courseforge.clock import Clock, SystemClock
from courseforge.domain.course import Course
from courseforge.domain.events import EventType, JobEvent
from courseforge.domain.outline import CourseOutline
from courseforge.llm.errors import LLMError, StructuredOutputError
from courseforge.llm.gateway import LLMCallRecord, LLMGateway
from courseforge.pipeline import units as plan
from courseforge.pipeline.assemble import assemble_course
from courseforge.pipeline.evaluation import evaluate
from courseforge.pipeline.events import EventSink
from courseforge.store.job_store import JobStore, Progress

Planner = Callable[[plan.PlanContext], list[plan.Unit]]


class JobFailedError(Exception):
    def __init__(self, unit: str, reason: str) -> None:
        super().__init__(f"{unit}: {reason}")
        self.unit = unit
        self.reason = reason


@dataclass
class _Counter:
    done: int
    total: int
    tokens: int = 0
    cost_usd: float = 0.0


class CoursePipeline:
    def __init__(
        self, store: JobStore, llm: LLMGateway, events: EventSink, clock: Clock | None = None
    ) -> None:
        self._store = store
        self._llm = llm
        self._events = events
        self._clock = clock or SystemClock()
        self._calls = CallBuffer()
        # Completions are recorded one at a time so that event ids, counters and the order
        # in which listeners see events all agree (concurrent commits could land out of order).
        self._completion = asyncio.Lock()

    async def run(self, job_id: str) -> str:
        """Runs the job to the end and returns the course id; raises JobFailedError."""
        job = await self._store.get_job(job_id)
        results = await self._store.load_units(job_id)
        ctx = plan.PlanContext(
            job_id, job.request, self._llm.with_recorder(self._calls), results, job.outline
        )
        if ctx.outline is None and "outline" in results:
            ctx.outline = CourseOutline.model_validate(results["outline"])
        counter = _Counter(len(results), plan.count_units(job.request, job.outline))
        await self._store.mark_running(job_id, counter.total)
        try:
            for step in plan.STEPS:
                await self._run_step(job_id, step, ctx, counter)
        except asyncio.CancelledError:
            await asyncio.shield(self._finish(job_id, "cancelled", "job_cancelled", {}))
            raise
        except JobFailedError as failure:
            fields = {"error": str(failure), "unit": failure.unit}
            await self._finish(job_id, "failed", "job_failed", fields, failure)
            raise
        course_id = str(results["finalize"]["course_id"])
        await self._finish(job_id, "completed", "job_completed", {"courseId": course_id})
        return course_id

    async def _run_step(
        self, job_id: str, step: plan.Step, ctx: plan.PlanContext, counter: _Counter
    ) -> None:
        planned = self._planner(step)(ctx)
        pending = [unit for unit in planned if unit.key not in ctx.results]
        if not pending:
            return
        done_before = len(planned) - len(pending)
        await self._emit(
            job_id, "step_started", step=step, total=len(planned), completed=done_before
        )
        await self._store.set_progress(
            job_id, Progress(step, counter.done, counter.total, pending[0].title)
        )
        while pending:
            ready = [u for u in pending if all(need in ctx.results for need in u.needs)]
            outcomes = await asyncio.gather(
                *(self._run_unit(job_id, unit, ctx, counter, planned) for unit in ready),
                return_exceptions=True,
            )
            _raise_first_failure(ready, outcomes)
            pending = [u for u in pending if u not in ready]
        if step == "outline":
            ctx.outline = CourseOutline.model_validate(ctx.results["outline"])
            await self._store.set_outline(job_id, ctx.outline)
        await self._emit(job_id, "step_completed", step=step, total=len(planned))

    async def _run_unit(
        self,
        job_id: str,
        unit: plan.Unit,
        ctx: plan.PlanContext,
        counter: _Counter,
        planned: list[plan.Unit],
    ) -> None:
        value = await unit.run()
        result = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        async with self._completion:
            await self._record_completion(job_id, unit, result, ctx, counter, planned)

    async def _record_completion(
        self,
        job_id: str,
        unit: plan.Unit,
        result: Any,
        ctx: plan.PlanContext,
        counter: _Counter,
        planned: list[plan.Unit],
    ) -> None:
        ctx.results[unit.key] = result
        counter.done += 1
        calls = self._calls.drain()
        counter.tokens += sum(c.tokens_in + c.tokens_out for c in calls)
        counter.cost_usd += sum(c.cost_usd for c in calls)
        step_done = sum(1 for u in planned if u.key in ctx.results)
        events = [
            self._event(
                job_id,
                "step_progress",
                step=unit.step,
                completed=step_done,
                total=len(planned),
                currentItem=unit.title,
                unit=unit.key,
                itemsCompleted=counter.done,
                itemsTotal=counter.total,
                tokens=counter.tokens,
                costUsd=round(counter.cost_usd, 6),
            )
        ]
        if unit.module_index is not None:
            events += self._topic_events(job_id, unit, planned, ctx)
        progress = Progress(unit.step, counter.done, counter.total, unit.title)
        await self._store.complete_unit(
            job_id, unit.key, unit.step, result, progress, events, calls
        )
        for event in events:
            await self._events.publish(event)

    def _topic_events(
        self, job_id: str, unit: plan.Unit, planned: list[plan.Unit], ctx: plan.PlanContext
    ) -> list[JobEvent]:
        """A module ("topic") starts with its first finished unit of a step, ends with its last."""
        siblings = [u for u in planned if u.module_index == unit.module_index]
        done = sum(1 for u in siblings if u.key in ctx.results)
        module = ctx.approved_outline().modules[unit.module_index or 0]
        fields: dict[str, Any] = {
            "step": unit.step,
            "topicIndex": unit.module_index,
            "topic": module.title,
            "completed": done,
            "total": len(siblings),
        }
        types: list[EventType] = ["topic_started"] if done == 1 else []
        types.append("topic_progress")
        if done == len(siblings):
            types.append("topic_completed")
        return [self._event(job_id, type_, **fields) for type_ in types]

    def _planner(self, step: plan.Step) -> Planner:
        planners: dict[plan.Step, Planner] = {
            "outline": plan.plan_outline,
            "lessons": plan.plan_lessons,
            "tasks": plan.plan_tasks,
            "assessments": plan.plan_assessments,
            "summaries": plan.plan_summaries,
            "evaluation": self._plan_evaluation,
            "finalizing": self._plan_finalizing,
        }
        return planners[step]

    def _plan_evaluation(self, ctx: plan.PlanContext) -> list[plan.Unit]:
        async def run() -> dict[str, Any]:
            course = _assemble(ctx)
            return evaluate(course).as_dict()

        return [plan.Unit("evaluation", "evaluation", "Quality checks", run)]

    def _plan_finalizing(self, ctx: plan.PlanContext) -> list[plan.Unit]:
        async def run() -> dict[str, Any]:
            course = _assemble(ctx)
            evaluation = ctx.results["evaluation"]
            course_id = await self._store.save_course(ctx.job_id, course, evaluation)
            return {"course_id": course_id}

        return [plan.Unit("finalize", "finalizing", "Storing the course", run)]

    async def _finish(
        self,
        job_id: str,
        status: str,
        event_type: EventType,
        fields: dict[str, Any],
        failure: JobFailedError | None = None,
    ) -> None:
        await self._store.record_calls(job_id, self._calls.drain())
        await self._store.mark_finished(
            job_id,
            status,
            error=str(failure) if failure else None,
            failed_unit=failure.unit if failure else None,
        )
        await self._emit(job_id, event_type, **fields)

    async def _emit(self, job_id: str, type_: EventType, **fields: Any) -> None:
        event = self._event(job_id, type_, **fields)
        await self._store.append_event(event)
        await self._events.publish(event)

    def _event(self, job_id: str, type_: EventType, **fields: Any) -> JobEvent:
        return JobEvent(type=type_, job_id=job_id, timestamp=self._clock.now(), fields=fields)


class CallBuffer:
    """Holds a job's LLM call records until the next checkpoint writes them with it."""

    def __init__(self) -> None:
        self._records: list[LLMCallRecord] = []

    async def record_call(self, record: LLMCallRecord) -> None:
        self._records.append(record)

    def drain(self) -> list[LLMCallRecord]:
        records, self._records = self._records, []
        return records


def _assemble(ctx: plan.PlanContext) -> Course:
    return assemble_course(ctx.approved_outline(), ctx.results)


def _raise_first_failure(ready: list[plan.Unit], outcomes: list[Any]) -> None:
    for unit, outcome in zip(ready, outcomes, strict=True):
        if isinstance(outcome, StructuredOutputError):
            reason = f"gave up after {outcome.attempts} attempt(s): {outcome.reason}"
            raise JobFailedError(unit.key, reason) from outcome
        if isinstance(outcome, LLMError):
            raise JobFailedError(unit.key, str(outcome)) from outcome
        if isinstance(outcome, Exception):
            raise JobFailedError(unit.key, f"{type(outcome).__name__}: {outcome}") from outcome
        if isinstance(outcome, BaseException):
            raise outcome
