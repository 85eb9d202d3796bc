"""Runs one job from its checkpoints: a course job to a stored course, an outline job to
its outline candidates.

Every unit whose inputs are ready runs at once (the LLM gateway bounds how many calls
are in flight); each finished unit is stored, with its progress and events, before
anything else happens, so a stopped run resumes at the first unfinished units. When a
unit fails, no new unit starts, the ones in flight may finish (their work is kept), and
the run raises JobFailedError naming the unit: whether the job is retried or fails is
the queue's to decide (`JobQueue.end_failed_run`), as stopping is the worker's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from pydantic import BaseModel

from courseforge.clock import Clock, SystemClock
from courseforge.domain.course import Course
from courseforge.domain.events import EventType, JobEvent
from courseforge.domain.jobs import JobStatus
from courseforge.domain.outline import CourseOutline, OutlineRequest
from courseforge.domain.usage import LLMCallRecord
from courseforge.llm.errors import LLMError, StructuredOutputError, TransientLLMError
from courseforge.llm.gateway import LLMGateway
from courseforge.logs import get_logger
from courseforge.pipeline import units as plan
from courseforge.pipeline.assemble import assemble_course
from courseforge.pipeline.evaluation import evaluate
from courseforge.pipeline.events import EventSink
from courseforge.pipeline.steps import StepEvent, StepTracker
from courseforge.store.job_store import JobStore, Progress, UnitCompletion

_log = get_logger(__name__)


class LeaseLostError(Exception):
    """Another worker holds the job now; this run must not write its ending."""


class CancelRequestedError(Exception):
    """Someone asked to cancel the job: the run stops at once, abandoning units in flight."""


# A unit that raises one of these did not fail the job: the job is no longer this run's
# (another worker holds it), or the database is away (the worker hands the run back).
_NOT_THE_JOBS_FAULT = (LeaseLostError, sa.exc.DBAPIError)


class JobFailedError(Exception):
    """A unit gave up. `permanent`: retrying the job cannot help (a bad key, an unknown
    model, a spent budget, a bug); otherwise a later run may well pass (transient errors
    and invalid answers used up the unit's attempts)."""

    def __init__(self, unit: str, reason: str, *, permanent: bool = False) -> None:
        super().__init__(f"{unit}: {reason}")
        self.unit = unit
        self.reason = reason
        self.permanent = permanent


@dataclass
class _Counter:
    done: int
    total: int
    tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class _Run:
    """The state of one run of one job."""

    ctx: plan.PlanContext
    counter: _Counter
    steps: StepTracker
    candidates: int = 0  # an outline job: how many outlines it drafts (a course job: 0)
    cancel_requested: bool = False  # learnt when a unit's checkpoint is written


class CoursePipeline:
    """Runs one job: make one per run (it holds that run's call buffer and writer queue)."""

    def __init__(
        self,
        store: JobStore,
        llm: LLMGateway,
        events: EventSink,
        clock: Clock | None = None,
        holder: str | None = None,
    ) -> None:
        self._holder = holder  # the worker whose lease this run is under, if any
        self._store = store
        self._llm = llm
        self._events = events
        self._clock = clock or SystemClock()
        self._calls = CallBuffer(self._warn_about_attempt)
        # Events are written by one writer at a time so that event ids, counters and the
        # order in which listeners see events all agree (on PostgreSQL ids are taken at
        # insert, so concurrent transactions could publish out of id order).
        self._writer = asyncio.Lock()
        self._unwritten: list[tuple[plan.Unit, Any]] = []
        self._job_id = ""

    async def run(self, job_id: str) -> str | None:
        """Runs the job to the end and returns the course id (None for an outline job,
        which stores no course); raises JobFailedError, leaving the job `running` for its
        worker to end or queue again."""
        self._job_id = job_id
        structlog.contextvars.bind_contextvars(job_id=job_id)
        run = await self._start(job_id)
        try:
            await self._run_plan(job_id, run)
        except (asyncio.CancelledError, CancelRequestedError, JobFailedError):
            # Why it stopped (cancel, shutdown, lost lease, Ctrl-C) and what a failure
            # means (retry or fail) are the worker's and the queue's to say.
            await asyncio.shield(self._store.record_calls(job_id, self._calls.drain()))
            raise
        if run.candidates:
            message = f"{run.candidates} outline candidate(s) drafted"
            await self._emit(job_id, "log", level="success", message=message, details={})
            await self._finish(job_id, "job_completed", {"candidates": run.candidates})
            return None
        course_id = str(run.ctx.results["finalize"]["course_id"])
        await self._emit(job_id, "log", level="success", message="Course stored", details={})
        await self._finish(job_id, "job_completed", {"courseId": course_id})
        return course_id

    async def _run_plan(self, job_id: str, run: _Run) -> None:
        if run.candidates:
            await self._run_units(job_id, run, plan.plan_candidates(run.ctx, run.candidates))
            return
        await self._run_units(job_id, run, plan.plan_outline(run.ctx))
        await self._adopt_outline(job_id, run.ctx)
        await self._run_units(job_id, run, plan.plan_content(run.ctx) + self._closing(run.ctx))

    async def _warn_about_attempt(self, record: LLMCallRecord) -> None:
        """A failed attempt is worth a log line: it is what a person looks at when a job drags."""
        what = {"invalid": "answered invalid output", "transient_error": "hit a transient error"}
        await self._emit(
            self._job_id,
            "log",
            level="warning",
            message=f"{record.unit}: attempt {record.attempt} {what.get(record.outcome, 'failed')}",
            details={"unit": record.unit, "model": record.model, "error": record.error},
        )

    async def _start(self, job_id: str) -> _Run:
        job = await self._store.get_job(job_id)
        results = await self._store.load_units(job_id)
        llm = self._llm.with_recorder(self._calls, job_id=job_id)
        ctx = plan.PlanContext(job_id, job.request, llm, results, job.outline)
        if ctx.outline is None and "outline" in results:
            ctx.outline = CourseOutline.model_validate(results["outline"])
        if isinstance(job.request, OutlineRequest):  # an outline job
            candidates, total = job.request.candidates, plan.count_candidate_units(job.request)
        else:
            candidates, total = 0, plan.count_units(job.request, job.outline)
        counter = _Counter(len(results), total)
        await self._store.mark_running(job_id, counter.total)
        if results:
            message = f"Resuming: {len(results)} of {counter.total} units already done"
            await self._emit(job_id, "log", level="info", message=message, details={})
        return _Run(ctx, counter, StepTracker(), candidates)

    async def _adopt_outline(self, job_id: str, ctx: plan.PlanContext) -> None:
        if ctx.outline is None:
            ctx.outline = CourseOutline.model_validate(ctx.results["outline"])
            await self._store.set_outline(job_id, ctx.outline)

    async def _run_units(self, job_id: str, run: _Run, units: list[plan.Unit]) -> None:
        results = run.ctx.results
        run.steps.add(units, set(results))
        waiting = [unit for unit in units if unit.key not in results]
        running: dict[asyncio.Task[None], plan.Unit] = {}
        failure: JobFailedError | None = None
        try:
            while waiting or running:
                ready = [u for u in waiting if all(need in results for need in u.needs)]
                if failure is None and ready:
                    starting = [e for u in ready for e in run.steps.starting(u.step, set(results))]
                    await self._emit_all(job_id, starting)
                    for unit in ready:
                        waiting.remove(unit)
                        running[asyncio.create_task(self._run_unit(job_id, unit, run))] = unit
                if not running:
                    break
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                if run.cancel_requested:
                    raise CancelRequestedError(job_id)
                for task in finished:
                    unit = running.pop(task)
                    error = task.exception()
                    if isinstance(error, _NOT_THE_JOBS_FAULT):
                        raise error
                    if failure is None and error is not None:
                        failure = _as_failure(unit, error)
        except (asyncio.CancelledError, CancelRequestedError, *_NOT_THE_JOBS_FAULT):
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        if failure is not None:
            raise failure
        if waiting:
            raise RuntimeError(f"units whose inputs never came: {[u.key for u in waiting]}")

    async def _run_unit(self, job_id: str, unit: plan.Unit, run: _Run) -> None:
        value = await unit.run()
        result = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        self._unwritten.append((unit, result))
        async with self._writer:
            # Whoever holds the lock writes every completion queued so far; finding the
            # queue empty means an earlier holder already wrote this one.
            batch, self._unwritten = self._unwritten, []
            if batch:
                # A cancellation must not cut a write in half (it would strand the
                # connection); the write finishes, then the cancellation goes on.
                await asyncio.shield(self._record_completions(job_id, batch, run))

    async def _record_completions(
        self, job_id: str, batch: list[tuple[plan.Unit, Any]], run: _Run
    ) -> None:
        ctx, counter = run.ctx, run.counter
        calls = self._calls.drain()
        counter.tokens += sum(c.tokens_in + c.tokens_out for c in calls)
        counter.cost_usd += sum(c.cost_usd for c in calls)
        completions = []
        for unit, result in batch:
            ctx.results[unit.key] = result
            counter.done += 1
            events = [self._progress_event(job_id, unit, run)]
            if unit.module_index is not None:
                events += self._topic_events(job_id, unit, run)
            finished_steps = run.steps.finishing(set(ctx.results))
            events += [self._event(job_id, type_, **f) for type_, f in finished_steps]
            completions.append(UnitCompletion(unit.key, unit.step, result, events))
        last = batch[-1][0]
        progress = Progress(
            run.steps.current() or last.step, counter.done, counter.total, last.title
        )
        cancel = await self._store.complete_units(job_id, completions, progress, calls)
        for completion in completions:
            for event in completion.events:
                await self._events.publish(event)
        if cancel:
            run.cancel_requested = True

    def _progress_event(self, job_id: str, unit: plan.Unit, run: _Run) -> JobEvent:
        keys = run.steps.units[unit.step]
        return self._event(
            job_id,
            "step_progress",
            step=unit.step,
            completed=sum(1 for key in keys if key in run.ctx.results),
            total=len(keys),
            currentItem=unit.title,
            unit=unit.key,
            itemsCompleted=run.counter.done,
            itemsTotal=run.counter.total,
            tokens=run.counter.tokens,
            costUsd=round(run.counter.cost_usd, 6),
        )

    def _topic_events(self, job_id: str, unit: plan.Unit, run: _Run) -> list[JobEvent]:
        """A module ("topic") starts with its first finished unit of a step, ends with its last."""
        keys = run.steps.units[unit.step]
        siblings = [k for k in keys if _module_of(k) == unit.module_index]
        done = sum(1 for key in siblings if key in run.ctx.results)
        module = run.ctx.approved_outline().modules[unit.module_index or 0]
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

    def _closing(self, ctx: plan.PlanContext) -> list[plan.Unit]:
        """Quality checks once every LLM unit is done, then the stored course version."""
        content = tuple(unit.key for unit in plan.plan_content(ctx))

        async def check() -> dict[str, Any]:
            return evaluate(_assemble(ctx)).as_dict()

        async def store() -> dict[str, Any]:
            evaluation = ctx.results["evaluation"]
            course_id = await self._store.save_course(
                ctx.job_id, _assemble(ctx), evaluation, holder=self._holder
            )
            if course_id is None:  # taken over: the version is the new holder's to store
                raise LeaseLostError(ctx.job_id)
            return {"course_id": course_id}

        return [
            plan.Unit("evaluation", "evaluation", "Quality checks", check, needs=content),
            plan.Unit("finalize", "finalizing", "Storing the course", store, needs=("evaluation",)),
        ]

    async def _finish(self, job_id: str, event_type: EventType, fields: dict[str, Any]) -> None:
        """The run completed the job (while its worker still holds the lease)."""
        _log.info("job_finished", status=JobStatus.COMPLETED)
        await self._store.record_calls(job_id, self._calls.drain())
        # The status and its event in one transaction: a client that sees the job completed
        # finds job_completed in its events (they used to follow a moment later).
        async with self._writer:
            ended = await self._store.mark_finished(
                job_id, JobStatus.COMPLETED, holder=self._holder, event=event_type, fields=fields
            )
            if not ended:
                raise LeaseLostError(job_id)
            await self._events.publish(self._event(job_id, event_type, **fields))

    async def _emit_all(self, job_id: str, step_events: list[StepEvent]) -> None:
        events = [self._event(job_id, type_, **fields) for type_, fields in step_events]
        if events:
            await asyncio.shield(self._write_events(events))

    async def _write_events(self, events: list[JobEvent]) -> None:
        async with self._writer:
            await self._store.append_events(events)
            for event in events:
                await self._events.publish(event)

    async def _emit(self, job_id: str, type_: EventType, **fields: Any) -> None:
        await self._emit_all(job_id, [(type_, fields)])

    def _event(self, job_id: str, type_: EventType, **fields: Any) -> JobEvent:
        return JobEvent(type=type_, job_id=job_id, timestamp=self._clock.now(), fields=fields)


class CallBuffer:
    """Holds a job's LLM call records until the next checkpoint writes them with it."""

    def __init__(self, on_failed_attempt: Callable[[LLMCallRecord], Awaitable[None]]) -> None:
        self._records: list[LLMCallRecord] = []
        self._on_failed_attempt = on_failed_attempt

    async def record_call(self, record: LLMCallRecord) -> None:
        self._records.append(record)
        if record.outcome != "ok":
            await self._on_failed_attempt(record)

    def drain(self) -> list[LLMCallRecord]:
        records, self._records = self._records, []
        return records


def _assemble(ctx: plan.PlanContext) -> Course:
    if ctx.course is None:
        ctx.course = assemble_course(ctx.approved_outline(), ctx.results)
    return ctx.course


def _module_of(key: str) -> int | None:
    """`tasks:2.1` and `quiz:2` belong to module index 1; `metadata` to none."""
    _, _, position = key.partition(":")
    head = position.split(".")[0]
    return int(head) - 1 if head.isdigit() else None


def _as_failure(unit: plan.Unit, error: BaseException | None) -> JobFailedError:
    """What the unit's error means for the job: worth another run, or permanent."""
    if isinstance(error, StructuredOutputError):
        reason = f"gave up after {error.attempts} attempt(s): {error.reason}"
        return JobFailedError(unit.key, reason, permanent=error.permanent)
    if isinstance(error, LLMError):
        transient = isinstance(error, TransientLLMError)
        return JobFailedError(unit.key, str(error), permanent=not transient)
    # A bug, or a course that cannot be assembled: another run would only repeat it.
    return JobFailedError(unit.key, f"{type(error).__name__}: {error}", permanent=True)
