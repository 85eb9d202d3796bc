"""Running one course job against a scripted provider, for the pipeline tests."""

from __future__ import annotations

from dataclasses import dataclass

from courseforge.domain.outline import CourseRequest
from courseforge.llm.gateway import RetryPolicy
from courseforge.llm.port import LLMProvider
from courseforge.pipeline.events import RecordingSink
from courseforge.pipeline.runner import JobFailedError
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
WORKER = "pipeline-test"


@dataclass
class Outcome:
    job: JobRecord
    events: RecordingSink
    error: Exception | None


def settings_for(database_url: str) -> Settings:
    """One run per job: these tests are about what a run does (the queue's automatic
    retries of a job are tested in tests/queue/test_job_retries.py)."""
    return Settings(database_url=database_url, llm_provider="fake", job_max_runs=1)


async def create_job(database_url: str, request: CourseRequest = SMALL) -> str:
    async with open_runtime(settings_for(database_url)) as runtime:
        return await runtime.store.create_course_job(request)


async def run_job(database_url: str, job_id: str, provider: LLMProvider) -> Outcome:
    """One run of the job under a worker's lease, ended as a worker ends it."""
    sink = RecordingSink()
    error: Exception | None = None
    async with open_runtime(settings_for(database_url), provider=provider) as runtime:
        runtime.llm = runtime.llm.with_policy(FAST_RETRIES)
        if (await runtime.store.get_job(job_id)).status in ("failed", "cancelled"):
            await runtime.queue.retry(job_id)  # as `generate --resume` does
        assert await runtime.queue.claim_job(job_id, WORKER)
        try:
            await runtime.pipeline(sink, holder=WORKER).run(job_id)
        except JobFailedError as failure:  # ended as a worker would end it
            error = failure
            await runtime.queue.end_failed_run(
                WORKER, job_id, failure.unit, failure.reason, permanent=failure.permanent
            )
        except Exception as exc:
            error = exc
        return Outcome(await runtime.store.get_job(job_id), sink, error)
