"""A run whose job was taken over stores no course version: the lease is checked in the
transaction that would store it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from courseforge.llm.function_provider import FunctionProvider, valid_answer
from courseforge.llm.port import CompletionRequest
from courseforge.pipeline.events import RecordingSink
from courseforge.pipeline.runner import LeaseLostError
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.tables import course_versions, jobs
from tests.worker.helpers import tiny


def always_valid(request: CompletionRequest, _call: int) -> str:
    return valid_answer(request)


class TakenOverDuringMetadata(FunctionProvider):
    """While the run waits on its last LLM unit, another worker takes the job over."""

    def __init__(self) -> None:
        super().__init__(always_valid)
        self.runtime: Runtime | None = None

    async def complete(self, request: CompletionRequest):  # type: ignore[no-untyped-def]
        if request.metadata["unit"] == "metadata" and self.runtime is not None:
            await set_lease_owner(self.runtime, request.metadata["job_id"], "w2")
        return await super().complete(request)


async def set_lease_owner(runtime: Runtime, job_id: str, worker: str) -> None:
    async with runtime.database.transaction() as conn:
        await conn.execute(jobs.update().where(jobs.c.id == job_id).values(lease_owner=worker))


async def versions(runtime: Runtime, course_id: str) -> int:
    query = sa.select(sa.func.count()).where(course_versions.c.course_id == course_id)
    async with runtime.database.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    provider = TakenOverDuringMetadata()
    settings = Settings(database_url=database_url, llm_provider="fake")
    async with open_runtime(settings, provider=provider) as opened:
        provider.runtime = opened
        yield opened


async def test_a_run_taken_over_before_finalize_stores_no_course_version(
    runtime: Runtime,
) -> None:
    owner = await runtime.accounts.local_user()
    enqueued = await runtime.queue.enqueue_course(tiny("Taken over late"), owner)
    job_id, course_id = enqueued.job_id, enqueued.course_id
    assert course_id is not None
    assert await runtime.queue.claim_job(job_id, "w1")

    with pytest.raises(LeaseLostError):
        await runtime.pipeline(RecordingSink(), holder="w1").run(job_id)

    assert await versions(runtime, course_id) == 0
    with pytest.raises(LookupError):
        await runtime.store.load_course(course_id)
    units = await runtime.store.load_units(job_id)
    assert "evaluation" in units  # the run got as far as storing the course
    assert "finalize" not in units  # the new holder's run will store it
    job = await runtime.store.get_job(job_id)
    assert (job.status, job.error, job.failed_unit) == ("running", None, None)
    events = [event for _, event in await runtime.store.list_events(job_id)]
    assert not [e for e in events if e.type == "log" and e.fields["level"] == "error"]
    assert "job_failed" not in [e.type for e in events]


async def test_save_course_stores_only_while_the_holder_holds_the_lease(
    runtime: Runtime,
) -> None:
    owner = await runtime.accounts.local_user()
    done = await runtime.queue.enqueue_course(tiny("Finished normally"), owner)
    assert await runtime.queue.claim_job(done.job_id, "w1")
    assert await runtime.pipeline(RecordingSink()).run(done.job_id) == done.course_id
    course, quality = await runtime.store.load_course(done.course_id or "")
    other = await runtime.queue.enqueue_course(tiny("Stored by its holder"), owner)
    assert other.course_id is not None

    assert await runtime.store.save_course(other.job_id, course, quality, holder="w1") is None
    assert await runtime.queue.claim_job(other.job_id, "w1")  # now w1 holds it
    await set_lease_owner(runtime, other.job_id, "w2")
    assert await runtime.store.save_course(other.job_id, course, quality, holder="w1") is None
    assert await versions(runtime, other.course_id) == 0

    stored = await runtime.store.save_course(other.job_id, course, quality, holder="w2")
    assert stored == other.course_id
    assert await versions(runtime, other.course_id) == 1
    assert await runtime.store.save_course(other.job_id, course, quality) == other.course_id
    assert await versions(runtime, other.course_id) == 2  # no holder: no lease to check


async def test_a_cancelled_ending_and_its_event_commit_together(runtime: Runtime) -> None:
    owner = await runtime.accounts.local_user()
    job_id = (await runtime.queue.enqueue_course(tiny("Stopped"), owner)).job_id
    assert await runtime.queue.claim_job(job_id, "w1")
    commits = [0]

    def on_commit(_conn: object) -> None:
        commits[0] += 1

    sa.event.listen(runtime.database.engine.sync_engine, "commit", on_commit)

    await runtime.store.mark_cancelled(job_id, holder="w2")  # not the holder: nothing
    await runtime.store.mark_cancelled(job_id, holder="w1")

    assert commits == [2]  # one each: status and event are never seen apart
    job = await runtime.store.get_job(job_id)
    types = [event.type for _, event in await runtime.store.list_events(job_id)]
    assert job.status == "cancelled"
    assert types.count("job_cancelled") == 1
    assert types[-1] == "job_cancelled"
