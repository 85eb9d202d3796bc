"""A course job end to end on each database: validity, checkpoints, resume, failure, events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from courseforge.domain.course import Course
from courseforge.domain.jobs import JobStatus
from courseforge.domain.outline import CourseRequest
from courseforge.llm.errors import PermanentLLMError
from courseforge.llm.function_provider import FunctionProvider, valid_answer
from courseforge.llm.port import CompletionRequest
from courseforge.pipeline.events import RecordingSink
from courseforge.pipeline.runner import CoursePipeline
from courseforge.runtime import open_runtime
from courseforge.store.job_store import JobStore
from tests.pipeline.helpers import SMALL, WORKER, create_job, run_job, settings_for

# The pipeline's steps in the order the spec names them.
SPEC_STEPS = ["outline", "lessons", "tasks", "assessments", "summaries", "evaluation", "finalizing"]
# 1 outline + 4 lessons + 4 task sets + (2 quizzes + 4 brain bytes) + (1 metadata + 2 summaries)
SMALL_LLM_UNITS = 18


def always_valid(request: CompletionRequest, _call: int) -> str:
    return valid_answer(request)


async def load_course(database_url: str, course_id: str) -> tuple[Course, dict[str, object]]:
    async with open_runtime(settings_for(database_url)) as runtime:
        return await runtime.store.load_course(course_id)


async def test_generates_a_complete_valid_course(database_url: str) -> None:
    job_id = await create_job(database_url)
    provider = FunctionProvider(always_valid)

    outcome = await run_job(database_url, job_id, provider)

    assert outcome.error is None
    assert outcome.job.status == "completed"
    assert outcome.job.course_id is not None
    course, quality = await load_course(database_url, outcome.job.course_id)
    assert course.counts() == {
        "modules": 2,
        "lessons": 4,
        "tasks": 8,
        "quizzes": 2,
        "questions": 6,
    }
    assert all(len(lesson.brain_bytes) >= 2 for m in course.modules for lesson in m.lessons)
    assert 0 < float(quality["overall"]) <= 1  # type: ignore[arg-type]
    assert sorted(provider.units_requested()) == sorted(set(provider.units_requested()))
    assert len(provider.requests) == SMALL_LLM_UNITS
    assert outcome.job.items_completed == outcome.job.items_total == SMALL_LLM_UNITS + 2
    assert outcome.job.llm_calls == SMALL_LLM_UNITS
    assert outcome.job.tokens_in > 0
    assert outcome.job.tokens_out > 0


async def test_tiers_route_writing_to_complex_and_summaries_to_simple(database_url: str) -> None:
    job_id = await create_job(database_url)
    provider = FunctionProvider(always_valid)

    await run_job(database_url, job_id, provider)

    models = {r.metadata["unit"]: r.model for r in provider.requests}
    assert models["metadata"] == "fake-simple"
    assert models["module_summary:1"] == "fake-simple"
    assert models["lesson:1.1"] == models["quiz:2"] == models["tasks:2.2"] == "fake-complex"


async def test_events_follow_the_steps_in_order(database_url: str) -> None:
    job_id = await create_job(database_url)

    outcome = await run_job(database_url, job_id, FunctionProvider(always_valid))

    started = [e.fields["step"] for e in outcome.events.events if e.type == "step_started"]
    assert started == SPEC_STEPS
    assert outcome.events.events[-1].type == "job_completed"
    lesson_topics = [
        (e.type, e.fields["topicIndex"])
        for e in outcome.events.events
        if e.type.startswith("topic_") and e.fields["step"] == "lessons"
    ]
    for module in (0, 1):
        mine = [kind for kind, index in lesson_topics if index == module]
        assert mine[0] == "topic_started"
        assert mine[-1] == "topic_completed"
    async with open_runtime(settings_for(database_url)) as runtime:
        stored = await runtime.store.list_events(job_id)
    stored_types = [event.type for _, event in stored]
    assert stored_types[0] == "job_created"
    assert stored_types[1:] == [e.type for e in outcome.events.events]
    ids = [event_id for event_id, _ in stored]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_resume_after_a_crash_does_not_redo_finished_units(database_url: str) -> None:
    job_id = await create_job(database_url)

    def crash_on_tasks(request: CompletionRequest, _call: int) -> str | BaseException:
        if request.metadata["unit"] == "tasks:2.1":
            return PermanentLLMError("provider went away")
        return valid_answer(request)

    first = FunctionProvider(crash_on_tasks)
    failed = await run_job(database_url, job_id, first)
    assert failed.job.status == "failed"
    assert failed.job.failed_unit == "tasks:2.1"
    assert "provider went away" in (failed.job.error or "")

    second = FunctionProvider(always_valid)
    resumed = await run_job(database_url, job_id, second)

    finished_before = {u for u in first.units_requested() if u != "tasks:2.1"}
    assert resumed.job.status == "completed"
    assert not finished_before & set(second.units_requested())
    assert "tasks:2.1" in second.units_requested()
    assert len(finished_before) + len(second.requests) == SMALL_LLM_UNITS
    assert resumed.job.course_id is not None
    course, _ = await load_course(database_url, resumed.job.course_id)
    assert course.counts()["tasks"] == 8


async def test_invalid_output_three_times_fails_the_job_naming_unit_and_errors(
    database_url: str,
) -> None:
    job_id = await create_job(database_url)

    def broken_quiz(request: CompletionRequest, _call: int) -> str:
        if request.metadata["unit"] == "quiz:1":
            return '{"questions": []}'
        return valid_answer(request)

    outcome = await run_job(database_url, job_id, FunctionProvider(broken_quiz))

    assert outcome.job.status == "failed"
    assert outcome.job.failed_unit == "quiz:1"
    assert "3 attempt" in (outcome.job.error or "")
    assert "questions" in (outcome.job.error or "")
    async with open_runtime(settings_for(database_url)) as runtime:
        calls = await runtime.store.list_calls(job_id)
        [*_, (_, last)] = await runtime.store.list_events(job_id)
    assert (last.type, last.fields["unit"]) == ("job_failed", "quiz:1")
    quiz_calls = [c for c in calls if c["unit"] == "quiz:1"]
    assert [c["outcome"] for c in quiz_calls] == ["invalid", "invalid", "invalid"]
    assert [c["attempt"] for c in quiz_calls] == [1, 2, 3]


async def test_a_cancelled_run_keeps_finished_units_and_leaves_the_status_to_its_caller(
    database_url: str,
) -> None:
    job_id = await create_job(database_url)
    lessons_started = asyncio.Event()
    release = asyncio.Event()

    class BlockingOnLessons(FunctionProvider):
        async def complete(self, request: CompletionRequest):  # type: ignore[no-untyped-def]
            if request.metadata["unit"].startswith("lesson:"):
                lessons_started.set()
                await release.wait()
            return await super().complete(request)

    provider = BlockingOnLessons(always_valid)
    task = asyncio.create_task(run_job(database_url, job_id, provider))
    await lessons_started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async with open_runtime(settings_for(database_url)) as runtime:
        job = await runtime.store.get_job(job_id)
        units = await runtime.store.load_units(job_id)
    assert job.status == "running"  # the worker decides: cancelled, released or taken over
    assert set(units) == {"outline"}


async def test_source_material_is_read_first_and_cited_by_modules(database_url: str) -> None:
    request = CourseRequest(
        topic="Cell biology from my notes",
        modules=2,
        lessons_per_module=1,
        tasks_per_lesson=1,
        questions_per_quiz=2,
        source_material="Mitochondria make ATP.\nRibosomes build proteins.\nThe membrane...",
    )
    job_id = await create_job(database_url, request)
    provider = FunctionProvider(always_valid)

    outcome = await run_job(database_url, job_id, provider)

    assert provider.units_requested()[:2] == ["source_topics", "outline"]
    assert "Mitochondria make ATP" in provider.requests[0].messages[-1].content
    assert outcome.job.course_id is not None
    course, _ = await load_course(database_url, outcome.job.course_id)
    assert all(module.source_topics for module in course.modules)


async def test_store_round_trips_job_request(database_url: str) -> None:
    async with open_runtime(settings_for(database_url)) as runtime:
        store: JobStore = runtime.store
        job_id = await store.create_course_job(SMALL)
        job = await store.get_job(job_id)
    assert job.request == SMALL
    assert job.status == "pending"
    assert job.created_at.tzinfo is not None


async def test_a_lessons_tasks_start_before_other_lessons_finish(database_url: str) -> None:
    """Units form a graph, not step barriers: lesson 2.2 is held until tasks 1.1 is asked."""
    job_id = await create_job(database_url)
    tasks_asked = asyncio.Event()

    class HoldingLesson(FunctionProvider):
        async def complete(self, request: CompletionRequest):  # type: ignore[no-untyped-def]
            unit = request.metadata["unit"]
            if unit == "tasks:1.1":
                tasks_asked.set()
            if unit == "lesson:2.2":
                await asyncio.wait_for(tasks_asked.wait(), timeout=30)
            return await super().complete(request)

    outcome = await run_job(database_url, job_id, HoldingLesson(always_valid))

    assert outcome.error is None
    assert outcome.job.status == "completed"


async def test_step_events_complete_in_spec_order_even_when_steps_overlap(
    database_url: str,
) -> None:
    job_id = await create_job(database_url)

    outcome = await run_job(database_url, job_id, FunctionProvider(always_valid))

    completed = [e.fields["step"] for e in outcome.events.events if e.type == "step_completed"]
    assert completed == SPEC_STEPS
    starts = {
        e.fields["step"]: i for i, e in enumerate(outcome.events.events) if e.type == "step_started"
    }
    ends = {
        e.fields["step"]: i
        for i, e in enumerate(outcome.events.events)
        if e.type == "step_completed"
    }
    assert all(starts[step] < ends[step] for step in completed)


class EndingWatcher(JobStore):
    """Notes the job's events as they are the moment its status turns completed."""

    events_at_end: list[str] | None = None

    async def mark_finished(self, job_id: str, status: JobStatus, **kwargs: Any) -> bool:
        ended = await super().mark_finished(job_id, status, **kwargs)
        self.events_at_end = [event.type for _, event in await self.list_events(job_id)]
        return ended


async def test_whoever_sees_a_job_completed_finds_its_job_completed_event(
    database_url: str,
) -> None:
    """A client polling the status and then reading the events must not miss the end."""
    job_id = await create_job(database_url)
    async with open_runtime(settings_for(database_url)) as runtime:
        assert await runtime.queue.claim_job(job_id, WORKER)
        store = EndingWatcher(runtime.database, runtime.clock)
        sink = RecordingSink()
        await CoursePipeline(store, runtime.llm, sink, runtime.clock, WORKER).run(job_id)

    assert store.events_at_end is not None
    assert store.events_at_end[-1] == "job_completed"
    assert [event.type for event in sink.events][-1] == "job_completed"  # and it is published
