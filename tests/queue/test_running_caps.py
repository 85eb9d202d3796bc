"""Running caps: jobs over a cap wait pending (never fail) and start when a slot frees."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from courseforge.clock import FakeClock
from courseforge.domain.accounts import User
from courseforge.domain.outline import CourseRequest
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def runtime(database_url: str, clock: FakeClock) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=database_url,
        llm_provider="fake",
        max_running_per_organization=4,
        max_running_total=6,
    )
    async with open_runtime(settings, clock=clock) as opened:
        yield opened


async def queue_jobs(runtime: Runtime, owner: User, count: int) -> list[str]:
    return [
        (await runtime.queue.enqueue_course(CourseRequest(topic=f"{owner.name} {i}"), owner)).job_id
        for i in range(count)
    ]


async def status(runtime: Runtime, job_id: str) -> str:
    return (await runtime.store.get_job(job_id)).status


async def test_a_student_runs_one_job_at_a_time(runtime: Runtime) -> None:
    student = await runtime.accounts.create_user("sam", "school", "student")
    first, second = await queue_jobs(runtime, student, 2)

    assert await runtime.queue.claim("w", 10) == [first]
    assert await runtime.queue.claim("w", 10) == []
    assert await status(runtime, second) == "pending"

    await runtime.store.mark_finished(first, "completed")
    assert await runtime.queue.claim("w", 10) == [second]


async def test_a_teacher_runs_three(runtime: Runtime) -> None:
    teacher = await runtime.accounts.create_user("tia", "school", "teacher")
    jobs = await queue_jobs(runtime, teacher, 5)

    assert sorted(await runtime.queue.claim("w", 10)) == sorted(jobs[:3])
    assert [await status(runtime, job) for job in jobs[3:]] == ["pending", "pending"]


async def test_an_organization_cap_spans_its_users(runtime: Runtime) -> None:
    one = await runtime.accounts.create_user("ann", "acme", "admin")
    two = await runtime.accounts.create_user("bob", "acme", "admin")
    outsider = await runtime.accounts.create_user("cy", "other", "teacher")
    acme = await queue_jobs(runtime, one, 3) + await queue_jobs(runtime, two, 3)
    other = await queue_jobs(runtime, outsider, 1)

    claimed = set(await runtime.queue.claim("w", 20))

    assert len(claimed & set(acme)) == 4  # the organization's cap
    assert set(other) <= claimed


async def test_the_global_cap_holds_extra_jobs_pending(runtime: Runtime) -> None:
    admins = [await runtime.accounts.create_user(f"ad{i}", f"org{i}", "admin") for i in range(3)]
    jobs = [job for admin in admins for job in await queue_jobs(runtime, admin, 3)]

    claimed = await runtime.queue.claim("w", 20)

    assert len(claimed) == 6
    waiting = [job for job in jobs if job not in claimed]
    assert [await status(runtime, job) for job in waiting] == ["pending"] * 3
    await runtime.store.mark_finished(claimed[0], "completed")
    assert len(await runtime.queue.claim("w", 20)) == 1


async def test_an_owner_with_fewer_running_jobs_goes_first(runtime: Runtime) -> None:
    busy = await runtime.accounts.create_user("busy", "a", "admin")
    idle = await runtime.accounts.create_user("idle", "b", "admin")
    busy_jobs = await queue_jobs(runtime, busy, 3)  # older than idle's job
    assert await runtime.queue.claim("w", 1) == [busy_jobs[0]]
    [idle_job] = await queue_jobs(runtime, idle, 1)

    assert await runtime.queue.claim("w", 1) == [idle_job]


async def test_a_job_lost_before_held_by_its_owners_cap_is_not_overdue(
    runtime: Runtime, clock: FakeClock
) -> None:
    student = await runtime.accounts.create_user("sue", "school", "student")
    lost, other = await queue_jobs(runtime, student, 2)
    assert await runtime.queue.claim("w1", 1) == [lost]
    clock.advance(runtime.queue.policy.lease_s + 1)
    assert await runtime.queue.rescue_expired() == [lost]
    assert await runtime.queue.claim("w2", 1) == [other]  # the student's one running job
    clock.advance(3600)

    assert not await runtime.queue.suspect_overdue()  # no idle worker could take it now
    await runtime.store.mark_finished(other, "completed")
    assert await runtime.queue.suspect_overdue()


async def test_the_global_cap_holds_a_job_lost_before_too(
    runtime: Runtime, clock: FakeClock
) -> None:
    admins = [await runtime.accounts.create_user(f"ad{i}", f"org{i}", "admin") for i in range(3)]
    [lost] = await queue_jobs(runtime, admins[0], 1)
    assert await runtime.queue.claim("w", 1) == [lost]
    clock.advance(runtime.queue.policy.lease_s + 1)
    assert await runtime.queue.rescue_expired() == [lost]
    clock.advance(3600)
    others = await queue_jobs(runtime, admins[1], 3) + await queue_jobs(runtime, admins[2], 3)
    assert len((await runtime.queue.claim_batch("busy", 10, idle=False)).job_ids) == 6

    assert (await runtime.queue.claim_batch("idle", 5, idle=True)).job_ids == []  # 6 of 6 run
    assert await status(runtime, lost) == "pending"

    await runtime.store.mark_finished(others[0], "completed")
    claim = await runtime.queue.claim_batch("idle", 5, idle=True)
    assert (claim.job_ids, claim.alone) == ([lost], True)
