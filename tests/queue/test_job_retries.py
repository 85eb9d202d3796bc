"""Automatic retries of a job whose unit gave up, on SQLite and PostgreSQL.

A unit that gives up on transient errors or invalid answers queues its job again after
a backoff, to resume from its checkpoints, until the job's runs (`job_max_runs`) are
spent; a permanent error fails the job at once. A fake clock drives every backoff.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from courseforge.clock import FakeClock
from courseforge.domain.jobs import JobStatus
from courseforge.domain.outline import CourseRequest
from courseforge.llm.errors import PermanentLLMError, TransientLLMError
from courseforge.llm.function_provider import Answer, FunctionProvider, valid_answer
from courseforge.llm.gateway import RetryPolicy
from courseforge.llm.port import CompletionRequest
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.job_store import JobRecord
from tests.queue.caps import UNCAPPED
from tests.worker.helpers import worker_loop

MAX_RUNS = 3
BACKOFF_S = 2.0
TINY = CourseRequest(
    topic="Retried course",
    modules=1,
    lessons_per_module=2,
    tasks_per_lesson=1,
    questions_per_quiz=1,
)
LLM_UNITS = 10  # outline, 2 lessons, 2 task sets, 2 brain bytes, quiz, summary, metadata


def failing(unit: str, error: BaseException, times: int) -> Callable[..., Answer]:
    """Valid answers, except that `unit`'s first `times` calls raise `error`."""
    seen: Counter[str] = Counter()

    def answer(request: CompletionRequest, _call: int) -> Answer:
        key = request.metadata["unit"]
        seen[key] += 1
        return error if key == unit and seen[key] <= times else valid_answer(request)

    return answer


@asynccontextmanager
async def opened(database_url: str, provider: FunctionProvider) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=database_url,
        llm_provider="fake",
        job_max_runs=MAX_RUNS,
        retry_backoff_s=BACKOFF_S,
        poll_interval_s=0.02,
        **UNCAPPED,  # type: ignore[arg-type]
    )
    async with open_runtime(settings, provider=provider, clock=FakeClock()) as runtime:
        runtime.llm = runtime.llm.with_policy(RetryPolicy(initial_backoff_s=0.001))
        yield runtime


async def enqueue(runtime: Runtime) -> str:
    owner = await runtime.accounts.local_user()
    enqueued = await runtime.queue.enqueue_course(TINY, owner)
    assert enqueued.created
    return enqueued.job_id


async def until(runtime: Runtime, job_id: str, done: Callable[[JobRecord], bool]) -> JobRecord:
    """Polls the job until `done` holds, bounded in time."""
    async with asyncio.timeout(20):
        while not done(job := await runtime.store.get_job(job_id)):  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # polling a condition, not waiting for time to pass
    return job


async def logs(runtime: Runtime, job_id: str) -> list[dict[str, Any]]:
    events = await runtime.store.list_events(job_id)
    return [event.fields for _, event in events if event.type == "log"]


async def types(runtime: Runtime, job_id: str) -> list[str]:
    return [event.type for _, event in await runtime.store.list_events(job_id)]


def waiting_for_retry(job: JobRecord) -> bool:
    return job.status == JobStatus.PENDING and job.attempts == 1


async def test_a_unit_that_gives_up_once_completes_by_itself(database_url: str) -> None:
    flaky = TransientLLMError("503 Service Unavailable")
    provider = FunctionProvider(failing("lesson:1.2", flaky, times=3))  # one unit's 3 attempts
    async with opened(database_url, provider) as runtime, worker_loop(runtime):
        job_id = await enqueue(runtime)
        waiting = await until(runtime, job_id, waiting_for_retry)
        assert (waiting.failed_unit, waiting.attempts) == ("lesson:1.2", 1)  # says why it waits
        [retrying] = [log for log in await logs(runtime, job_id) if "retrying" in log["message"]]
        assert retrying["level"] == "warning"
        assert "unit lesson:1.2 gave up" in retrying["message"]
        assert "503 Service Unavailable" in retrying["message"]
        assert f"(attempt 2 of {MAX_RUNS})" in retrying["message"]
        twin = await runtime.queue.enqueue_course(TINY, await runtime.accounts.local_user())
        assert (twin.created, twin.job_id) == (False, job_id)  # still the active job

        assert isinstance(runtime.clock, FakeClock)
        runtime.clock.advance(BACKOFF_S)  # the backoff is at most its first step
        done = await until(runtime, job_id, lambda job: job.status in ("completed", "failed"))
        events = await types(runtime, job_id)

    assert (done.status, done.attempts, done.error, done.failed_unit) == (
        "completed",
        2,
        None,
        None,
    )
    asked = Counter(provider.units_requested())
    assert asked.pop("lesson:1.2") == 4  # 3 attempts, then 1 in the second run
    assert set(asked.values()) == {1}  # every finished unit was kept, none asked again
    assert len(asked) == LLM_UNITS - 1
    assert events[-1] == "job_completed"


async def test_a_permanent_error_fails_at_once_with_one_attempt(database_url: str) -> None:
    bad_key = PermanentLLMError("OpenAI rejected the API key (401)")
    provider = FunctionProvider(failing("outline", bad_key, times=99))
    async with opened(database_url, provider) as runtime, worker_loop(runtime):
        job_id = await enqueue(runtime)
        failed = await until(runtime, job_id, lambda job: job.status == "failed")
        events = await types(runtime, job_id)
        messages = [log["message"] for log in await logs(runtime, job_id)]

    assert (failed.attempts, failed.failed_unit) == (1, "outline")
    assert "rejected the API key" in (failed.error or "")
    assert provider.units_requested() == ["outline"]  # no re-ask, no retry
    assert events[-1] == "job_failed"
    assert not [message for message in messages if "retrying" in message]


async def test_a_job_out_of_attempts_fails_naming_the_unit(database_url: str) -> None:
    """The command line's own run (`run_claimed`) waits out each backoff itself."""
    invalid = '{"note": "not a lesson"}'
    provider = FunctionProvider(lambda _request, _n: invalid)
    async with opened(database_url, provider) as runtime:
        job_id = await enqueue(runtime)
        worker = runtime.worker()
        assert await runtime.queue.claim_job(job_id, worker.id)
        await worker.run_claimed(job_id)
        failed = await runtime.store.get_job(job_id)
        messages = [log["message"] for log in await logs(runtime, job_id)]

    assert (failed.status, failed.attempts, failed.failed_unit) == ("failed", MAX_RUNS, "outline")
    assert "gave up after 3 attempt(s)" in (failed.error or "")
    assert provider.units_requested() == ["outline"] * 3 * MAX_RUNS
    retries = [m for m in messages if "retrying the job" in m]
    assert [m.rsplit("(attempt", 1)[1] for m in retries] == [" 2 of 3)", " 3 of 3)"]
    assert isinstance(runtime.clock, FakeClock)
    assert len(runtime.clock.sleeps) >= MAX_RUNS - 1  # the backoffs, on the fake clock


async def test_a_cancel_while_the_job_waits_for_its_retry_cancels_it(database_url: str) -> None:
    flaky = TransientLLMError("429 rate limited")
    provider = FunctionProvider(failing("outline", flaky, times=3))
    async with opened(database_url, provider) as runtime, worker_loop(runtime):
        job_id = await enqueue(runtime)
        await until(runtime, job_id, waiting_for_retry)

        assert await runtime.queue.cancel(job_id) == "cancelled"
        assert isinstance(runtime.clock, FakeClock)
        runtime.clock.advance(BACKOFF_S * 10)
        assert await runtime.queue.claim("another", 5) == []  # nothing to run
        cancelled = await runtime.store.get_job(job_id)
        assert (cancelled.status, cancelled.error) == ("cancelled", None)
        assert (await types(runtime, job_id))[-1] == "job_cancelled"

        assert await runtime.queue.retry(job_id)  # `jobs retry`: a fresh set of attempts
        done = await until(runtime, job_id, lambda job: job.status == "completed")
    assert done.attempts == 1
    assert provider.units_requested().count("outline") == 4


@pytest.fixture
async def queue_only(database_url: str) -> AsyncIterator[Runtime]:
    async with opened(database_url, FunctionProvider(lambda r, _n: valid_answer(r))) as runtime:
        yield runtime


async def test_a_job_waiting_for_its_retry_is_not_a_suspect(queue_only: Runtime) -> None:
    """Its worker ended the failed run: any worker may take it with others (a job lost
    with its worker is claimed only by an idle worker, alone)."""
    runtime, clock = queue_only, queue_only.clock
    assert isinstance(clock, FakeClock)
    job_id = await enqueue(runtime)
    assert await runtime.queue.claim("w1", 1) == [job_id]

    ending = await runtime.queue.end_failed_run("w1", job_id, "quiz:1", "503", permanent=False)

    assert ending.outcome == "retrying"
    assert ending.retry_in_s is not None
    assert 0 < ending.retry_in_s <= BACKOFF_S
    assert (await runtime.queue.claim_batch("w2", 5, idle=False)).job_ids == []  # not yet due
    clock.advance(ending.retry_in_s)
    claim = await runtime.queue.claim_batch("w2", 5, idle=False)
    assert (claim.job_ids, claim.alone) == ([job_id], False)
    assert (await runtime.store.get_job(job_id)).attempts == 2


async def test_a_cancel_asked_during_the_failing_run_wins(queue_only: Runtime) -> None:
    runtime = queue_only
    job_id = await enqueue(runtime)
    assert await runtime.queue.claim("w1", 1) == [job_id]
    assert await runtime.queue.cancel(job_id) == "cancelling"

    ending = await runtime.queue.end_failed_run("w1", job_id, "outline", "503", permanent=False)

    assert ending.outcome == "cancelled"
    assert (await runtime.store.get_job(job_id)).status == "cancelled"
    assert (await types(runtime, job_id))[-1] == "job_cancelled"


async def test_only_the_lease_holder_ends_a_failed_run(queue_only: Runtime) -> None:
    runtime = queue_only
    job_id = await enqueue(runtime)
    assert await runtime.queue.claim("w1", 1) == [job_id]

    ending = await runtime.queue.end_failed_run("w2", job_id, "outline", "503", permanent=True)

    assert ending.outcome == "not_held"
    job = await runtime.store.get_job(job_id)
    assert (job.status, job.error) == ("running", None)
