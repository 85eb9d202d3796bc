"""The job queue on SQLite and PostgreSQL, with a fake clock driving leases and backoff."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from courseforge.clock import FakeClock
from courseforge.domain.accounts import User
from courseforge.domain.outline import CourseRequest
from courseforge.queue.job_queue import Enqueued
from courseforge.runtime import Runtime, open_runtime
from courseforge.settings import Settings
from courseforge.store.tables import job_events, jobs
from tests.queue.caps import UNCAPPED

LEASE_S = 30.0
MAX_ATTEMPTS = 3


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def runtime(database_url: str, clock: FakeClock) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=database_url,
        llm_provider="fake",
        lease_s=LEASE_S,
        job_max_attempts=MAX_ATTEMPTS,
        **UNCAPPED,
    )
    async with open_runtime(settings, clock=clock) as opened:
        yield opened


@pytest.fixture
async def owner(runtime: Runtime) -> User:
    return await runtime.accounts.create_user("alice", "Acme", "teacher")


def brief(topic: str = "Photosynthesis") -> CourseRequest:
    return CourseRequest(topic=topic)


async def enqueue(runtime: Runtime, owner: User, topic: str, priority: int = 0) -> str:
    enqueued = await runtime.queue.enqueue_course(brief(topic), owner, priority=priority)
    assert enqueued.created
    return enqueued.job_id


async def job_row(runtime: Runtime, job_id: str) -> dict[str, Any]:
    async with runtime.database.connect() as conn:
        row = (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).mappings().one()
    return dict(row)


async def event_types(runtime: Runtime, job_id: str) -> list[str]:
    return [event.type for _, event in await runtime.store.list_events(job_id)]


async def set_scheduled_for(runtime: Runtime, job_id: str, when: datetime) -> None:
    async with runtime.database.transaction() as conn:
        await conn.execute(jobs.update().where(jobs.c.id == job_id).values(scheduled_for=when))


def advance_past(clock: FakeClock, moment: datetime, by: float = 0.001) -> None:
    clock.advance((moment - clock.now()).total_seconds() + by)


async def lose_lease(runtime: Runtime, clock: FakeClock, job_id: str) -> list[str]:
    """The holder stops renewing: one lease length later the sweep finds the job."""
    clock.advance(LEASE_S + 1)
    return await runtime.queue.rescue_expired()


# --- enqueue ---------------------------------------------------------------------


async def test_enqueue_deduplicates_an_active_twin_of_the_same_owner_only(
    runtime: Runtime, owner: User
) -> None:
    first = await runtime.queue.enqueue_course(brief(), owner)
    second = await runtime.queue.enqueue_course(brief(), owner)
    assert first.created
    assert second == Enqueued(first.job_id, created=False, course_id=first.course_id)

    assert await runtime.queue.claim("w1", 1) == [first.job_id]
    assert await runtime.queue.enqueue_course(brief(), owner) == second  # running: still a twin

    bob = await runtime.accounts.create_user("bob", "Acme", "teacher")
    other = await runtime.queue.enqueue_course(brief(), bob)
    assert other.created
    assert other.job_id != first.job_id
    async with runtime.database.connect() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(jobs))).scalar_one()
    assert count == 2


async def test_enqueue_after_the_twin_finished_creates_a_new_job(
    runtime: Runtime, owner: User
) -> None:
    first = await runtime.queue.enqueue_course(brief(), owner)
    assert await runtime.queue.cancel(first.job_id) == "cancelled"

    again = await runtime.queue.enqueue_course(brief(), owner)

    assert again.created
    assert again.job_id != first.job_id
    assert (await job_row(runtime, again.job_id))["status"] == "pending"


# --- claim -------------------------------------------------------------------------


async def test_claim_takes_most_urgent_then_oldest_first(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    old_low = await enqueue(runtime, owner, "Old low", priority=0)
    clock.advance(1)
    old_high = await enqueue(runtime, owner, "Old high", priority=5)
    clock.advance(1)
    new_low = await enqueue(runtime, owner, "New low", priority=0)
    clock.advance(1)
    new_high = await enqueue(runtime, owner, "New high", priority=5)

    order = [await runtime.queue.claim("w1", 1) for _ in range(5)]

    assert order == [[old_high], [new_high], [old_low], [new_low], []]


async def test_claim_returns_at_most_limit_and_the_most_urgent(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    ids = []
    for index in range(5):
        ids.append(await enqueue(runtime, owner, f"Topic {index}", priority=index))
        clock.advance(1)

    first = await runtime.queue.claim("w1", 2)
    rest = await runtime.queue.claim("w1", 10)

    assert set(first) == {ids[4], ids[3]}
    assert len(first) == 2
    assert sorted(rest) == sorted(ids[:3])
    assert await runtime.queue.claim("w1", 10) == []


async def test_claim_waits_for_scheduled_for(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    later = await enqueue(runtime, owner, "Later", priority=10)
    now_job = await enqueue(runtime, owner, "Now", priority=0)
    not_before = clock.now() + timedelta(seconds=60)
    await set_scheduled_for(runtime, later, not_before)

    assert await runtime.queue.claim("w1", 5) == [now_job]
    clock.advance(59)
    assert await runtime.queue.claim("w1", 5) == []
    advance_past(clock, not_before)
    assert await runtime.queue.claim("w1", 5) == [later]


async def test_claim_job_takes_only_that_pending_job(runtime: Runtime, owner: User) -> None:
    first = await enqueue(runtime, owner, "First", priority=5)
    second = await enqueue(runtime, owner, "Second", priority=0)

    assert await runtime.queue.claim_job(second, "cli")
    assert not await runtime.queue.claim_job(second, "other")
    assert not await runtime.queue.claim_job("no-such-job", "cli")

    row = await job_row(runtime, second)
    assert (row["status"], row["lease_owner"], row["attempts"]) == ("running", "cli", 1)
    assert (await job_row(runtime, first))["status"] == "pending"


async def test_concurrent_claimers_take_each_job_exactly_once(
    runtime: Runtime, owner: User
) -> None:
    for index in range(200):
        await enqueue(runtime, owner, f"Topic {index}")
    start = asyncio.Barrier(8)

    async def claimer(worker: str) -> list[str]:
        taken: list[str] = []
        await start.wait()
        while batch := await runtime.queue.claim(worker, 5):
            assert len(batch) <= 5
            taken.extend(batch)
        return taken

    workers = [f"w{index}" for index in range(8)]
    results = await asyncio.gather(*(claimer(worker) for worker in workers))

    claims = Counter(job_id for taken in results for job_id in taken)
    assert len(claims) == 200
    assert set(claims.values()) == {1}
    claimer_of = {
        job_id: worker for worker, taken in zip(workers, results, strict=True) for job_id in taken
    }
    async with runtime.database.connect() as conn:
        rows = (await conn.execute(sa.select(jobs.c.id, jobs.c.status, jobs.c.lease_owner))).all()
    assert len(rows) == 200
    for job_id, status, lease_owner in rows:
        assert status == "running"
        assert lease_owner == claimer_of[job_id]


# --- heartbeat and rescue ----------------------------------------------------------


async def test_claim_leases_the_job_and_heartbeat_extends_the_lease(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    job_id = await enqueue(runtime, owner, "Beating")
    clock.advance(5)
    assert await runtime.queue.claim("w1", 1) == [job_id]
    row = await job_row(runtime, job_id)
    assert (row["status"], row["lease_owner"], row["attempts"]) == ("running", "w1", 1)
    assert row["lease_expires_at"] == clock.now() + timedelta(seconds=LEASE_S)
    assert row["started_at"] == clock.now()
    clock.advance(10)

    held, cancel = await runtime.queue.heartbeat("w1", [job_id])

    assert held == {job_id}
    assert cancel == set()
    row = await job_row(runtime, job_id)
    assert row["lease_expires_at"] == clock.now() + timedelta(seconds=LEASE_S)
    assert await runtime.queue.heartbeat("w1", []) == (set(), set())


async def test_a_healthy_job_is_never_rescued(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    job_id = await enqueue(runtime, owner, "Healthy")
    assert await runtime.queue.claim("w1", 1) == [job_id]

    for _ in range(30):  # ten lease lengths
        clock.advance(LEASE_S / 3)
        held, _ = await runtime.queue.heartbeat("w1", [job_id])
        assert held == {job_id}
        assert await runtime.queue.rescue_expired() == []

    row = await job_row(runtime, job_id)
    assert (row["status"], row["lease_owner"], row["attempts"]) == ("running", "w1", 1)
    assert row["lease_expires_at"] == clock.now() + timedelta(seconds=LEASE_S)


async def test_an_expired_lease_is_queued_again_after_a_backoff(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    job_id = await enqueue(runtime, owner, "Lost")
    await runtime.queue.claim("w1", 1)
    clock.advance(LEASE_S - 1)
    assert await runtime.queue.rescue_expired() == []  # the lease still runs

    assert await lose_lease(runtime, clock, job_id) == [job_id]

    row = await job_row(runtime, job_id)
    assert row["status"] == "pending"
    assert row["lease_owner"] is None
    assert row["lease_expires_at"] is None
    assert row["attempts"] == 1
    assert row["scheduled_for"] > clock.now()
    events = await runtime.store.list_events(job_id)
    last = events[-1][1]
    assert last.type == "log"
    assert last.fields["level"] == "warning"
    assert "w1" in last.fields["message"]
    assert await runtime.queue.rescue_expired() == []  # rescued once

    assert await runtime.queue.claim("w2", 1) == []  # backing off
    advance_past(clock, row["scheduled_for"])
    assert await runtime.queue.claim("w2", 1) == [job_id]
    row = await job_row(runtime, job_id)
    assert (row["status"], row["lease_owner"], row["attempts"]) == ("running", "w2", 2)


async def test_a_job_whose_every_attempt_is_lost_fails(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    job_id = await enqueue(runtime, owner, "Cursed")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        row = await job_row(runtime, job_id)
        if row["scheduled_for"] is not None:
            advance_past(clock, row["scheduled_for"])
        assert await runtime.queue.claim(f"w{attempt}", 1) == [job_id]
        assert (await job_row(runtime, job_id))["attempts"] == attempt
        assert await lose_lease(runtime, clock, job_id) == [job_id]

    row = await job_row(runtime, job_id)
    assert row["status"] == "failed"
    assert f"{MAX_ATTEMPTS} attempts" in row["error"]
    assert row["lease_owner"] is None
    assert row["finished_at"] == clock.now()
    events = await runtime.store.list_events(job_id)
    assert events[-1][1].type == "job_failed"
    assert events[-1][1].fields["error"] == row["error"]
    clock.advance(3600)
    assert await runtime.queue.claim("w9", 1) == []


async def test_heartbeat_of_a_worker_that_lost_the_lease(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    job_id = await enqueue(runtime, owner, "Taken over")
    await runtime.queue.claim("w1", 1)
    await lose_lease(runtime, clock, job_id)
    advance_past(clock, (await job_row(runtime, job_id))["scheduled_for"])
    assert await runtime.queue.claim("w2", 1) == [job_id]
    lease_of_w2 = (await job_row(runtime, job_id))["lease_expires_at"]
    clock.advance(1)

    held, cancel = await runtime.queue.heartbeat("w1", [job_id])

    assert held == set()
    assert cancel == set()
    row = await job_row(runtime, job_id)
    assert row["lease_owner"] == "w2"
    assert row["lease_expires_at"] == lease_of_w2  # the stale heartbeat renewed nothing
    assert (await runtime.queue.heartbeat("w2", [job_id]))[0] == {job_id}


# --- cancel --------------------------------------------------------------------------


async def test_cancel_a_pending_job(runtime: Runtime, owner: User, clock: FakeClock) -> None:
    job_id = await enqueue(runtime, owner, "Unwanted")

    assert await runtime.queue.cancel(job_id) == "cancelled"

    row = await job_row(runtime, job_id)
    assert row["status"] == "cancelled"
    assert row["finished_at"] == clock.now()
    assert (await event_types(runtime, job_id))[-1] == "job_cancelled"
    assert await runtime.queue.claim("w1", 1) == []


async def test_cancel_a_running_job_is_delivered_by_the_next_heartbeat(
    runtime: Runtime, owner: User
) -> None:
    job_id = await enqueue(runtime, owner, "Stop me")
    other = await enqueue(runtime, owner, "Keep me")
    await runtime.queue.claim("w1", 2)

    assert await runtime.queue.cancel(job_id) == "cancelling"

    row = await job_row(runtime, job_id)
    assert (row["status"], row["cancel_requested"]) == ("running", True)
    held, cancel = await runtime.queue.heartbeat("w1", [job_id, other])
    assert held == {job_id, other}
    assert cancel == {job_id}
    assert (await event_types(runtime, job_id))[-1] == "log"


async def test_cancel_a_finished_or_unknown_job(runtime: Runtime, owner: User) -> None:
    completed = await enqueue(runtime, owner, "Done")
    await runtime.store.mark_finished(completed, "completed")
    cancelled = await enqueue(runtime, owner, "Gone")
    await runtime.queue.cancel(cancelled)

    assert await runtime.queue.cancel(completed) == "finished"
    assert await runtime.queue.cancel(cancelled) == "finished"
    assert await runtime.queue.cancel("00000000-0000-0000-0000-000000000000") == "not_found"
    assert (await job_row(runtime, completed))["status"] == "completed"


async def test_a_lost_job_whose_cancel_was_asked_ends_cancelled_not_requeued(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    job_id = await enqueue(runtime, owner, "Cancelled then lost")
    await runtime.queue.claim("w1", 1)
    assert await runtime.queue.cancel(job_id) == "cancelling"
    clock.advance(runtime.queue.policy.lease_s + 1)

    assert await runtime.queue.rescue_expired() == [job_id]

    row = await job_row(runtime, job_id)
    assert row["status"] == "cancelled"
    assert row["lease_owner"] is None
    assert (await event_types(runtime, job_id))[-1] == "job_cancelled"
    assert await runtime.queue.claim("w2", 1) == []


# --- retry ---------------------------------------------------------------------------


async def test_retry_queues_a_failed_job_again(runtime: Runtime, owner: User) -> None:
    job_id = await enqueue(runtime, owner, "Flaky")
    await runtime.queue.claim("w1", 1)
    await runtime.store.mark_finished(job_id, "failed", error="boom", failed_unit="module-1")

    assert await runtime.queue.retry(job_id)

    row = await job_row(runtime, job_id)
    assert row["status"] == "pending"
    assert row["attempts"] == 0
    assert row["error"] is None
    assert row["failed_unit"] is None
    assert row["finished_at"] is None
    assert (await event_types(runtime, job_id))[-1] == "log"
    assert await runtime.queue.claim("w2", 1) == [job_id]


async def test_retry_queues_a_job_that_ran_out_of_attempts_again(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    job_id = await enqueue(runtime, owner, "Lost thrice")
    for attempt in range(MAX_ATTEMPTS):
        row = await job_row(runtime, job_id)
        if row["scheduled_for"] is not None:
            advance_past(clock, row["scheduled_for"])
        assert await runtime.queue.claim(f"w{attempt}", 1) == [job_id]
        await lose_lease(runtime, clock, job_id)
    assert (await job_row(runtime, job_id))["status"] == "failed"

    assert await runtime.queue.retry(job_id)

    row = await job_row(runtime, job_id)
    assert (row["status"], row["attempts"], row["error"]) == ("pending", 0, None)
    assert row["scheduled_for"] is None
    assert await runtime.queue.claim("w9", 1) == [job_id]


async def test_retry_queues_a_cancelled_job_again(runtime: Runtime, owner: User) -> None:
    job_id = await enqueue(runtime, owner, "Changed my mind")
    await runtime.queue.cancel(job_id)

    assert await runtime.queue.retry(job_id)

    row = await job_row(runtime, job_id)
    assert (row["status"], row["attempts"], row["cancel_requested"]) == ("pending", 0, False)


async def test_retry_refuses_pending_running_and_completed_jobs(
    runtime: Runtime, owner: User
) -> None:
    pending = await enqueue(runtime, owner, "Waiting")
    running = await enqueue(runtime, owner, "Busy")
    assert await runtime.queue.claim_job(running, "w1")
    completed = await enqueue(runtime, owner, "Done")
    await runtime.store.mark_finished(completed, "completed")

    assert not await runtime.queue.retry(pending)
    assert not await runtime.queue.retry(running)
    assert not await runtime.queue.retry(completed)
    assert not await runtime.queue.retry("no-such-job")
    assert (await job_row(runtime, completed))["status"] == "completed"
    assert (await job_row(runtime, running))["lease_owner"] == "w1"


async def test_retry_while_an_identical_job_is_active(runtime: Runtime, owner: User) -> None:
    failed = await enqueue(runtime, owner, "Twice")
    await runtime.store.mark_finished(failed, "failed", error="boom")
    twin = await runtime.queue.enqueue_course(brief("Twice"), owner)
    assert twin.created

    assert not await runtime.queue.retry(failed)

    assert (await job_row(runtime, failed))["status"] == "failed"


# --- release -------------------------------------------------------------------------


async def test_release_hands_a_job_back_at_once(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    job_id = await enqueue(runtime, owner, "Handed back")
    other = await enqueue(runtime, owner, "Someone else's")
    assert await runtime.queue.claim_job(job_id, "w1")
    assert await runtime.queue.claim_job(other, "w2")

    assert await runtime.queue.release("w1", [job_id, other]) == [job_id]

    row = await job_row(runtime, job_id)
    assert row["status"] == "pending"
    assert row["lease_owner"] is None
    assert row["lease_expires_at"] is None
    assert row["attempts"] == 0
    assert row["scheduled_for"] == clock.now()  # claimable from now
    assert (await event_types(runtime, job_id))[-1] == "log"
    assert (await job_row(runtime, other))["lease_owner"] == "w2"
    assert await runtime.queue.release("w1", []) == []
    assert await runtime.queue.claim("w3", 5) == [job_id]  # no backoff after a release
    assert (await job_row(runtime, job_id))["attempts"] == 1


# --- retention -------------------------------------------------------------------------


async def test_purge_deletes_events_of_jobs_finished_long_ago_only(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    old_cancelled = await enqueue(runtime, owner, "Old cancelled")
    old_completed = await enqueue(runtime, owner, "Old completed")
    old_pending = await enqueue(runtime, owner, "Old pending", priority=-1)
    old_running = await enqueue(runtime, owner, "Old running", priority=1)
    assert await runtime.queue.claim("w1", 1) == [old_running]
    await runtime.queue.cancel(old_cancelled)
    await runtime.store.mark_finished(old_completed, "completed")
    clock.advance(24 * 3600)
    recent = await enqueue(runtime, owner, "Recent")
    await runtime.store.mark_finished(recent, "failed", error="boom")
    clock.advance(3600)
    kept = {job: await event_types(runtime, job) for job in (old_pending, old_running, recent)}
    async with runtime.database.connect() as conn:
        before = (await conn.execute(sa.select(sa.func.count()).select_from(job_events))).scalar()

    purged = await runtime.queue.purge_old_events(timedelta(hours=24))

    assert await event_types(runtime, old_cancelled) == []
    assert await event_types(runtime, old_completed) == []
    for job_id, types in kept.items():
        assert await event_types(runtime, job_id) == types
        assert types
    async with runtime.database.connect() as conn:
        after = (await conn.execute(sa.select(sa.func.count()).select_from(job_events))).scalar()
    assert purged == before - after == 3  # two job_created and one job_cancelled
    assert await runtime.queue.purge_old_events(timedelta(hours=24)) == 0


# --- poison isolation ------------------------------------------------------------------


async def test_a_job_lost_with_its_worker_runs_only_alone(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    lost = await enqueue(runtime, owner, "Maybe poison")
    fresh = await enqueue(runtime, owner, "Fresh")
    assert await runtime.queue.claim("w1", 1) == [lost]
    await lose_lease(runtime, clock, lost)
    advance_past(clock, (await job_row(runtime, lost))["scheduled_for"])

    busy = await runtime.queue.claim_batch("w2", 5, idle=False)
    assert busy.job_ids == [fresh]  # a busy worker never takes the suspect
    assert not busy.alone

    alone = await runtime.queue.claim_batch("w3", 5, idle=True)
    assert alone.job_ids == [lost]  # an idle worker takes it, and only it
    assert alone.alone


async def test_a_job_lost_before_is_overdue_once_it_waited_the_patience(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    lost = await enqueue(runtime, owner, "Lost long ago")
    fresh = await enqueue(runtime, owner, "Fresh")
    assert await runtime.queue.claim("w1", 1) == [lost]
    await lose_lease(runtime, clock, lost)
    advance_past(clock, (await job_row(runtime, lost))["scheduled_for"])
    patience = runtime.queue.policy.suspect_patience.total_seconds()
    assert patience == 4 * LEASE_S

    assert not await runtime.queue.suspect_overdue()  # claimable just now
    clock.advance(patience - 1)
    assert not await runtime.queue.suspect_overdue()
    clock.advance(2)
    assert await runtime.queue.suspect_overdue()

    busy = await runtime.queue.claim_batch("w2", 5, idle=False)
    assert busy.job_ids == [fresh]  # overdue or not, a busy worker never takes it
    assert await runtime.queue.suspect_overdue()
    alone = await runtime.queue.claim_batch("w3", 5, idle=True)
    assert (alone.job_ids, alone.alone) == ([lost], True)
    assert not await runtime.queue.suspect_overdue()  # it runs now


async def test_a_released_job_lost_before_waits_from_its_release(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    lost = await enqueue(runtime, owner, "Lost, then released")
    assert await runtime.queue.claim("w1", 1) == [lost]
    await lose_lease(runtime, clock, lost)
    advance_past(clock, (await job_row(runtime, lost))["scheduled_for"])
    assert await runtime.queue.claim("w2", 1) == [lost]
    clock.advance(runtime.queue.policy.suspect_patience.total_seconds() + 1)

    assert await runtime.queue.release("w2", [lost]) == [lost]

    assert (await job_row(runtime, lost))["attempts"] == 1  # still lost once
    assert not await runtime.queue.suspect_overdue()
    clock.advance(runtime.queue.policy.suspect_patience.total_seconds() + 1)
    assert await runtime.queue.suspect_overdue()


async def test_an_idle_claim_takes_a_job_lost_before_first_even_behind_urgent_ones(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    lost = await enqueue(runtime, owner, "Lost, low priority", priority=0)
    assert await runtime.queue.claim("w1", 1) == [lost]
    await lose_lease(runtime, clock, lost)
    advance_past(clock, (await job_row(runtime, lost))["scheduled_for"])
    urgent = [await enqueue(runtime, owner, f"Urgent {i}", priority=9) for i in range(3)]

    alone = await runtime.queue.claim_batch("w2", 5, idle=True)

    assert (alone.job_ids, alone.alone) == ([lost], True)
    busy = await runtime.queue.claim_batch("w2", 5, idle=False)
    assert (sorted(busy.job_ids), busy.alone) == (sorted(urgent), False)


# --- complete ----------------------------------------------------------------------------


async def test_complete_ends_only_the_jobs_the_worker_holds(
    runtime: Runtime, owner: User, clock: FakeClock
) -> None:
    mine = [await enqueue(runtime, owner, f"Mine {i}") for i in range(3)]
    theirs = await enqueue(runtime, owner, "Theirs")
    waiting = await enqueue(runtime, owner, "Waiting", priority=-1)
    assert sorted(await runtime.queue.claim("w1", 3)) == sorted(mine)
    assert await runtime.queue.claim("w2", 1) == [theirs]
    clock.advance(5)

    done = await runtime.queue.complete("w1", [*mine, theirs, waiting])

    assert sorted(done) == sorted(mine)
    for job_id in mine:
        row = await job_row(runtime, job_id)
        assert (row["status"], row["lease_owner"], row["finished_at"]) == (
            "completed",
            None,
            clock.now(),
        )
    assert (await job_row(runtime, theirs))["status"] == "running"
    assert (await job_row(runtime, waiting))["status"] == "pending"
    assert await runtime.queue.complete("w1", mine) == []  # already ended
    assert await runtime.queue.complete("w1", []) == []


async def test_this_process_workers_are_woken_when_the_queue_gets_work(
    runtime: Runtime, owner: User
) -> None:
    wakes: list[str] = []
    runtime.queue.wake_on_new_work(lambda: wakes.append("wake"))

    first = await runtime.queue.enqueue_course(brief("Tides"), owner)
    twin = await runtime.queue.enqueue_course(brief("Tides"), owner)
    assert len(wakes) == 1  # a twin adds no work
    assert not twin.created

    assert await runtime.queue.cancel(first.job_id) == "cancelled"
    assert len(wakes) == 1
    assert await runtime.queue.retry(first.job_id)
    assert len(wakes) == 2

    claimed = await runtime.queue.claim("w-1", 1)
    assert await runtime.queue.release("w-1", claimed) == claimed
    assert len(wakes) == 3
    assert await runtime.queue.release("w-1", claimed) == []
    assert len(wakes) == 3
