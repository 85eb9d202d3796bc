"""A course job's course exists from the moment it is queued, and the run fills it in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from courseforge.clock import FakeClock
from courseforge.domain.accounts import User
from courseforge.domain.outline import CourseOutline, CourseRequest, OutlineRequest
from courseforge.domain.text import slugify
from courseforge.llm.function_provider import FunctionProvider, valid_answer
from courseforge.llm.port import CompletionRequest
from courseforge.pipeline.events import RecordingSink
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.tables import courses, jobs

TINY = CourseRequest(
    topic="Tide pools for beginners",
    modules=1,
    lessons_per_module=1,
    tasks_per_lesson=1,
    questions_per_quiz=1,
)


def always_valid(request: CompletionRequest, _call: int) -> str:
    return valid_answer(request)


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    settings = Settings(database_url=database_url, llm_provider="fake")
    provider = FunctionProvider(always_valid)
    async with open_runtime(settings, provider=provider, clock=FakeClock()) as opened:
        yield opened


@pytest.fixture
async def owner(runtime: Runtime) -> User:
    return await runtime.accounts.create_user("tia", "School", "teacher")


async def rows(runtime: Runtime, table: sa.Table) -> list[dict[str, Any]]:
    async with runtime.database.connect() as conn:
        return [dict(row) for row in (await conn.execute(sa.select(table))).mappings()]


async def test_enqueue_creates_the_draft_course_in_the_job(runtime: Runtime, owner: User) -> None:
    enqueued = await runtime.queue.enqueue_course(TINY, owner)

    assert enqueued.created
    assert enqueued.course_id is not None
    [course] = await rows(runtime, courses)
    assert course["id"] == enqueued.course_id
    assert course["job_id"] == enqueued.job_id
    assert (course["status"], course["current_version"]) == ("draft", 0)
    assert course["title"] == TINY.topic
    assert course["slug"] == slugify(TINY.topic) == "tide-pools-for-beginners"
    assert (course["owner_id"], course["organization_id"]) == (owner.id, owner.organization_id)
    assert (await runtime.store.get_job(enqueued.job_id)).course_id == enqueued.course_id


async def test_an_approved_outline_names_the_course(runtime: Runtime, owner: User) -> None:
    outline = await drafted_outline(runtime, owner)

    enqueued = await runtime.queue.enqueue_course(TINY, owner, outline)

    [course] = [c for c in await rows(runtime, courses) if c["id"] == enqueued.course_id]
    assert course["title"] == outline.title
    assert course["slug"] == slugify(outline.title)


async def test_the_run_stores_the_course_in_the_row_made_at_enqueue(
    runtime: Runtime, owner: User
) -> None:
    enqueued = await runtime.queue.enqueue_course(TINY, owner)

    course_id = await runtime.pipeline(RecordingSink()).run(enqueued.job_id)

    assert course_id == enqueued.course_id
    [course] = await rows(runtime, courses)
    assert course["id"] == enqueued.course_id
    assert course["current_version"] == 1
    assert (course["owner_id"], course["organization_id"]) == (owner.id, owner.organization_id)
    stored, _ = await runtime.store.load_course(course_id)
    assert (course["title"], course["slug"]) == (stored.title, stored.slug)
    job = await runtime.store.get_job(enqueued.job_id)
    assert (job.status, job.course_id) == ("completed", enqueued.course_id)


async def test_a_twin_gives_the_same_job_and_course(runtime: Runtime, owner: User) -> None:
    first = await runtime.queue.enqueue_course(TINY, owner)
    assert await runtime.queue.claim_job(first.job_id, "w1")

    second = await runtime.queue.enqueue_course(TINY, owner, rate_limited=True)

    assert (second.job_id, second.course_id, second.created) == (
        first.job_id,
        first.course_id,
        False,
    )
    assert len(await rows(runtime, courses)) == 1


async def test_a_job_without_a_course_gets_one_owned_like_the_job(
    runtime: Runtime, owner: User
) -> None:
    """Jobs queued before courses were made at enqueue: the run makes the course."""
    enqueued = await runtime.queue.enqueue_course(TINY, owner)
    async with runtime.database.transaction() as conn:
        await conn.execute(jobs.update().values(course_id=None))
        await conn.execute(courses.delete())

    course_id = await runtime.pipeline(RecordingSink()).run(enqueued.job_id)

    [course] = await rows(runtime, courses)
    assert course["id"] == course_id != enqueued.course_id
    assert (course["owner_id"], course["organization_id"]) == (owner.id, owner.organization_id)
    assert (course["job_id"], course["current_version"]) == (enqueued.job_id, 1)


async def test_outline_jobs_make_no_course_and_are_no_twins_of_course_jobs(
    runtime: Runtime, owner: User
) -> None:
    outline_request = OutlineRequest(**TINY.model_dump(), candidates=2)
    drafting = await runtime.queue.enqueue_outline(outline_request, owner)
    course_job = await runtime.queue.enqueue_course(TINY, owner)

    assert drafting.created
    assert drafting.course_id is None
    assert course_job.created
    assert course_job.job_id != drafting.job_id
    twin = await runtime.queue.enqueue_outline(outline_request, owner)
    assert (twin.job_id, twin.created) == (drafting.job_id, False)
    other_count = outline_request.model_copy(update={"candidates": 3})
    assert (await runtime.queue.enqueue_outline(other_count, owner)).created
    assert [c["job_id"] for c in await rows(runtime, courses)] == [course_job.job_id]
    job = await runtime.store.get_job(drafting.job_id)
    assert job.kind == "outline"
    assert job.request == outline_request


async def drafted_outline(runtime: Runtime, owner: User) -> CourseOutline:
    enqueued = await runtime.queue.enqueue_outline(
        OutlineRequest(**TINY.model_dump(), candidates=1), owner
    )
    await runtime.pipeline(RecordingSink()).run(enqueued.job_id)
    [outline] = await runtime.store.outline_candidates(enqueued.job_id)
    return outline
