"""The bundled offline model writes a whole (small) valid course, end to end."""

from __future__ import annotations

import pytest

from courseforge.domain.outline import CourseRequest
from courseforge.pipeline.events import RecordingSink
from courseforge.runtime import open_runtime
from courseforge.settings import Settings

TINY = CourseRequest(
    topic="How photosynthesis works",
    modules=1,
    lessons_per_module=1,
    tasks_per_lesson=1,
    questions_per_quiz=1,
)
# outline + lesson + tasks + brain bytes + quiz + metadata + module summary
LLM_UNITS = 7


@pytest.mark.slow
async def test_local_model_generates_a_valid_course(database_url: str) -> None:
    settings = Settings(database_url=database_url, llm_provider="local")
    async with open_runtime(settings) as runtime:
        assert runtime.choice.name == "local"
        assert runtime.choice.notice is not None
        job_id = await runtime.store.create_course_job(TINY)
        course_id = await runtime.pipeline(RecordingSink()).run(job_id)
        course, quality = await runtime.store.load_course(course_id)
        job = await runtime.store.get_job(job_id)
        calls = await runtime.store.list_calls(job_id)

    assert course.counts() == {
        "modules": 1,
        "lessons": 1,
        "tasks": 1,
        "quizzes": 1,
        "questions": 1,
    }
    assert job.status == "completed"
    assert {c["provider"] for c in calls} == {"local"}
    assert {c["unit"] for c in calls if c["outcome"] == "ok"} == {
        "outline",
        "lesson:1.1",
        "tasks:1.1",
        "brain_bytes:1.1",
        "quiz:1",
        "metadata",
        "module_summary:1",
    }
    assert job.llm_calls >= LLM_UNITS
    assert all(c["tokens_out"] > 0 for c in calls if c["outcome"] == "ok")
    assert 0 < float(quality["overall"]) <= 1
