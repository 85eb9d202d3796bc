"""Creation-rate quotas: jobs an owner may create per sliding hour, by role and kind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from courseforge.clock import FakeClock
from courseforge.domain.accounts import User
from courseforge.domain.outline import CourseRequest, OutlineRequest
from courseforge.queue.job_queue import Enqueued
from courseforge.queue.quotas import CreationRateExceededError
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.tables import courses, jobs

HOUR_S = 3600


def settings_for(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        llm_provider="fake",
        jobs_per_hour_student=3,
        jobs_per_hour_teacher=5,
        jobs_per_hour_admin=0,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def runtime(database_url: str, clock: FakeClock) -> AsyncIterator[Runtime]:
    async with open_runtime(settings_for(database_url), clock=clock) as opened:
        yield opened


@pytest.fixture
async def student(runtime: Runtime) -> User:
    return await runtime.accounts.create_user("sam", "School", "student")


async def course_job(runtime: Runtime, owner: User, topic: str) -> Enqueued:
    return await runtime.queue.enqueue_course(CourseRequest(topic=topic), owner, rate_limited=True)


async def outline_job(runtime: Runtime, owner: User, topic: str) -> Enqueued:
    return await runtime.queue.enqueue_outline(OutlineRequest(topic=topic), owner)


async def count(runtime: Runtime, table: sa.Table, **where: str) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with runtime.database.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_the_job_over_the_limit_is_refused_until_the_oldest_leaves_the_hour(
    runtime: Runtime, student: User, clock: FakeClock
) -> None:
    for index in range(3):
        assert (await course_job(runtime, student, f"Topic {index}")).created
        clock.advance(10)  # created at 0, 10 and 20 s

    with pytest.raises(CreationRateExceededError) as refused:
        await course_job(runtime, student, "One too many")  # at 30 s

    assert refused.value.limit == "student: 3 course jobs per hour"
    assert refused.value.retry_after_s == HOUR_S - 30
    assert "student: 3 course jobs per hour" in str(refused.value)
    assert "Try again in 60 min" in str(refused.value)
    assert await count(runtime, jobs) == 3
    assert await count(runtime, courses) == 3  # the refused job made no course either

    clock.advance(HOUR_S - 30 - 1)
    with pytest.raises(CreationRateExceededError) as still:
        await course_job(runtime, student, "One too many")
    assert still.value.retry_after_s == 1
    assert "Try again in 1 s" in str(still.value)

    clock.advance(1)  # the first job (at 0 s) has left the window
    assert (await course_job(runtime, student, "One too many")).created
    with pytest.raises(CreationRateExceededError) as next_one:
        await course_job(runtime, student, "And another")
    assert next_one.value.retry_after_s == 10  # until the job made at 10 s leaves


async def test_outline_and_course_jobs_are_counted_apart(runtime: Runtime, student: User) -> None:
    for index in range(3):
        assert (await outline_job(runtime, student, f"Outline {index}")).created

    with pytest.raises(CreationRateExceededError) as refused:
        await outline_job(runtime, student, "Outline 3")
    assert refused.value.limit == "student: 3 outline jobs per hour"

    for index in range(3):
        assert (await course_job(runtime, student, f"Course {index}")).created
    with pytest.raises(CreationRateExceededError):
        await course_job(runtime, student, "Course 3")
    assert await count(runtime, jobs, kind="outline") == 3
    assert await count(runtime, jobs, kind="course") == 3


async def test_limits_follow_the_role_and_are_per_owner(runtime: Runtime, student: User) -> None:
    teacher = await runtime.accounts.create_user("tia", "School", "teacher")
    other_student = await runtime.accounts.create_user("sue", "School", "student")
    for index in range(5):
        assert (await course_job(runtime, teacher, f"Teacher {index}")).created
    for index in range(3):
        assert (await course_job(runtime, student, f"Student {index}")).created

    with pytest.raises(CreationRateExceededError) as refused:
        await course_job(runtime, teacher, "Teacher 5")
    assert refused.value.limit == "teacher: 5 course jobs per hour"
    assert (await course_job(runtime, other_student, "Hers")).created


async def test_a_zero_limit_refuses_every_job(runtime: Runtime) -> None:
    admin = await runtime.accounts.create_user("ada", "School", "admin")

    with pytest.raises(CreationRateExceededError) as refused:
        await outline_job(runtime, admin, "Anything")

    assert refused.value.limit == "admin: 0 outline jobs per hour"
    assert refused.value.retry_after_s >= 1
    assert await count(runtime, jobs) == 0


async def test_an_active_twin_is_returned_even_at_the_limit(
    runtime: Runtime, student: User
) -> None:
    first = await outline_job(runtime, student, "Topic 0")
    for index in range(1, 3):
        await outline_job(runtime, student, f"Topic {index}")

    again = await outline_job(runtime, student, "Topic 0")

    assert again == Enqueued(first.job_id, created=False)


async def test_unlimited_enqueues_are_never_refused_but_count_in_the_window(
    runtime: Runtime, student: User
) -> None:
    for index in range(5):  # the local command line's way: not limited
        await runtime.queue.enqueue_course(CourseRequest(topic=f"Local {index}"), student)

    with pytest.raises(CreationRateExceededError) as refused:
        await course_job(runtime, student, "From the API")
    assert refused.value.retry_after_s == HOUR_S


async def test_the_limit_holds_when_enqueues_race(
    database_url: str, clock: FakeClock, runtime: Runtime, student: User
) -> None:
    """Ten enqueues at once, from two engines (two processes' worth of connections)."""
    async with open_runtime(settings_for(database_url), clock=clock) as other:
        start = asyncio.Barrier(20)

        async def attempt(where: Runtime, kind: str, index: int) -> bool:
            await start.wait()
            try:
                if kind == "course":
                    enqueued = await course_job(where, student, f"Race {index}")
                else:
                    enqueued = await outline_job(where, student, f"Race {index}")
            except CreationRateExceededError:
                return False
            assert enqueued.created
            return True

        outcomes = await asyncio.gather(
            *(
                attempt(runtime if index % 2 else other, kind, index)
                for kind in ("course", "outline")
                for index in range(10)
            )
        )

    assert sum(outcomes[:10]) == 3
    assert sum(outcomes[10:]) == 3
    assert await count(runtime, jobs, kind="course") == 3
    assert await count(runtime, jobs, kind="outline") == 3
    assert await count(runtime, courses) == 3
