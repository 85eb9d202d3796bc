"""Running one course job against a scripted provider, for the pipeline tests."""

from __future__ import annotations

from dataclasses import dataclass

from courseforge.domain.outline import CourseRequest
from courseforge.llm.gateway import RetryPolicy
from courseforge.llm.port import LLMProvider
from courseforge.pipeline.events import RecordingSink
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from courseforge.store.job_store import JobRecord

SMALL = CourseRequest(
    topic="Photosynthesis basics",
    modules=2,
    lessons_per_module=2,
    tasks_per_lesson=2,
    questions_per_quiz=3,
)
FAST_RETRIES = RetryPolicy(initial_backoff_s=0.001, max_backoff_s=0.002)


@dataclass
class Outcome:
    job: JobRecord
    events: RecordingSink
    error: Exception | None


def settings_for(database_url: str) -> Settings:
    return Settings(database_url=database_url, llm_provider="fake")


async def create_job(database_url: str, request: CourseRequest = SMALL) -> str:
    async with open_runtime(settings_for(database_url)) as runtime:
        return await runtime.store.create_course_job(request)


async def run_job(database_url: str, job_id: str, provider: LLMProvider) -> Outcome:
    sink = RecordingSink()
    error: Exception | None = None
    async with open_runtime(settings_for(database_url), provider=provider) as runtime:
        runtime.llm = runtime.llm.with_policy(FAST_RETRIES)
        try:
            await runtime.pipeline(sink).run(job_id)
        except Exception as exc:
            error = exc
        return Outcome(await runtime.store.get_job(job_id), sink, error)
