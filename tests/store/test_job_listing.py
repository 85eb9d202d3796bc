"""JobListing on SQLite and PostgreSQL: who sees which job, pages, filters, ETA, logs."""

from __future__ import annotations

import base64
from datetime import timedelta
from statistics import fmean
from typing import Any

import pytest

from courseforge.clock import FakeClock
from courseforge.domain.accounts import User
from courseforge.domain.events import JobEvent
from courseforge.domain.outline import CourseRequest
from courseforge.store.database import Database
from courseforge.store.job_listing import JobListing
from courseforge.store.job_store import JobNotFoundError, JobStore
from courseforge.store.job_view import snapshot_view
from courseforge.store.pages import InvalidCursorError
from tests.store.listing_helpers import VISIBILITY, People, insert_job


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def walk(listing: JobListing, viewer: User | None, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = await listing.list_jobs(viewer, status=None, limit=limit, cursor=cursor)
        seen += [job.id for job in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


# --- who sees what ----------------------------------------------------------------------


@pytest.mark.parametrize(("viewer", "sees"), VISIBILITY)
async def test_a_job_is_seen_by_its_owner_and_their_admin_only(
    database: Database, people: People, clock: FakeClock, viewer: str, sees: bool
) -> None:
    store = JobStore(database, clock)
    job_id = await store.create_course_job(CourseRequest(topic="Tides"), owner=people.owner)
    await store.append_events(
        [JobEvent(type="log", job_id=job_id, timestamp=clock.now(), fields={"message": "hi"})]
    )
    listing, user = JobListing(database), people.named(viewer)

    page = await listing.list_jobs(user, status=None, limit=10)

    assert [job.id for job in page.items] == ([job_id] if sees else [])
    if sees:
        assert (await listing.snapshot(job_id, user)).job.id == job_id
        assert [line.message for line in await listing.logs(job_id, user)] == ["hi"]
        return
    with pytest.raises(JobNotFoundError) as hidden:
        await listing.snapshot(job_id, user)
    with pytest.raises(JobNotFoundError) as missing:
        await listing.snapshot("no-such-job", user)
    assert str(hidden.value) == str(missing.value).replace("no-such-job", job_id)
    with pytest.raises(JobNotFoundError):
        await listing.logs(job_id, user)


async def test_the_operator_sees_every_job(database: Database, people: People) -> None:
    clock = FakeClock()
    ids = [
        await insert_job(database, user, clock.now()) for user in (people.owner, people.outsider)
    ]

    page = await JobListing(database).list_jobs(None, status=None, limit=10)

    assert {job.id for job in page.items} == set(ids)
    assert (await JobListing(database).snapshot(ids[1])).job.id == ids[1]


# --- pages ------------------------------------------------------------------------------


async def test_pages_walk_every_job_once_while_new_ones_arrive(
    database: Database, people: People, clock: FakeClock
) -> None:
    store = JobStore(database, clock)
    existing = []
    for n in range(7):
        # Jobs 2..4 share one timestamp: the id breaks the tie.
        existing.append((clock.now(), await insert_job(database, people.owner, clock.now())))
        if n not in (2, 3):
            clock.advance(1)
    listing = JobListing(database)
    seen: list[str] = []
    cursor = None
    while True:
        page = await listing.list_jobs(people.owner, status=None, limit=3, cursor=cursor)
        seen += [job.id for job in page.items]
        clock.advance(1)
        await store.create_course_job(CourseRequest(topic=f"New {len(seen)}"), owner=people.owner)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == [job_id for _, job_id in sorted(existing, reverse=True)]


async def test_the_last_full_page_has_no_next_cursor(
    database: Database, people: People, clock: FakeClock
) -> None:
    for _ in range(4):
        await insert_job(database, people.owner, clock.now())
        clock.advance(1)
    listing = JobListing(database)

    first = await listing.list_jobs(people.owner, status=None, limit=2)
    second = await listing.list_jobs(people.owner, status=None, limit=2, cursor=first.next_cursor)

    assert first.next_cursor is not None
    assert len(second.items) == 2
    assert second.next_cursor is None
    assert await walk(listing, people.owner, 4) == [j.id for j in first.items + second.items]


async def test_an_admin_pages_through_the_organization_only(
    database: Database, people: People, clock: FakeClock
) -> None:
    mine = []
    for user in (people.owner, people.peer, people.outsider, people.admin, people.owner):
        job_id = await insert_job(database, user, clock.now())
        if user is not people.outsider:
            mine.append(job_id)
        clock.advance(1)

    assert await walk(JobListing(database), people.admin, 2) == mine[::-1]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor!",
        "%%%%",
        b64("no separator"),
        b64("yesterday|abc"),
        b64("2026-01-01T00:00:00|abc"),  # no time zone
        b64("2026-01-01T00:00:00+00:00|"),  # no id
        b64("2026-01-01T00:00:00+00:00|" + "x" * 37),
        "A" * 500,
        base64.urlsafe_b64encode(b"\xff\xfe|\x00").decode(),
    ],
)
async def test_a_malformed_cursor_is_refused_with_a_message(
    database: Database, people: People, cursor: str
) -> None:
    with pytest.raises(InvalidCursorError, match=r"invalid cursor.*next_cursor"):
        await JobListing(database).list_jobs(people.owner, status=None, limit=5, cursor=cursor)


# --- filters ----------------------------------------------------------------------------


async def test_status_filters_and_active(
    database: Database, people: People, clock: FakeClock
) -> None:
    by_status = {}
    for status in ("pending", "running", "completed", "failed", "cancelled"):
        by_status[status] = await insert_job(database, people.owner, clock.now(), status=status)
        clock.advance(1)
    listing = JobListing(database)

    for status, job_id in by_status.items():
        page = await listing.list_jobs(people.owner, status=status, limit=10)
        assert [job.id for job in page.items] == [job_id]
    active = await listing.list_jobs(people.owner, status="active", limit=10)
    assert [job.id for job in active.items] == [by_status["running"], by_status["pending"]]
    with pytest.raises(ValueError, match="unknown status 'stuck'"):
        await listing.list_jobs(people.owner, status="stuck", limit=10)


# --- progress and ETA -------------------------------------------------------------------


async def add_history(
    database: Database,
    people: People,
    clock: FakeClock,
    runs: list[tuple[float, int]],
    **values: Any,
) -> None:
    """Finished jobs that ran `seconds` over `units` units, ending before now."""
    for seconds, units in runs:
        started = clock.now() - timedelta(seconds=seconds + 100)
        await insert_job(
            database,
            people.peer,
            started,
            **{
                "status": "completed",
                "started_at": started,
                "finished_at": started + timedelta(seconds=seconds),
                "items_total": units,
                "items_completed": units,
                **values,
            },
        )


async def test_eta_comes_from_similar_completed_jobs(
    database: Database, people: People, clock: FakeClock
) -> None:
    history = [(100.0, 10), (300.0, 20), (60.0, 4)]
    await add_history(database, people, clock, history)
    # Not similar: another kind, or not completed.
    await add_history(database, people, clock, [(5000.0, 1)], kind="outline")
    await add_history(database, people, clock, [(9000.0, 2)], status="failed")
    running = await insert_job(
        database, people.owner, clock.now(), status="running", items_completed=5, items_total=12
    )
    queued = await insert_job(database, people.owner, clock.now())
    listing = JobListing(database)

    per_unit = fmean(seconds / units for seconds, units in history)
    snapshot = await listing.snapshot(running, people.owner)
    assert snapshot.eta_seconds == pytest.approx(per_unit * 7, abs=0.05)
    assert snapshot_view(snapshot, clock.now()).progress.percent == 41  # 5 of 12, rounded down
    planned = round(fmean(units for _, units in history))
    pending = await listing.snapshot(queued, people.owner)
    assert pending.eta_seconds == pytest.approx(per_unit * planned, abs=0.05)
    assert snapshot_view(pending, clock.now()).progress.percent == 0


async def test_eta_reads_only_the_last_50_runs(
    database: Database, people: People, clock: FakeClock
) -> None:
    await add_history(database, people, clock, [(10_000.0, 1)])  # the oldest: left out
    clock.advance(20_000)
    await add_history(database, people, clock, [(20.0, 10)] * 50)
    running = await insert_job(
        database, people.owner, clock.now(), status="running", items_completed=0, items_total=10
    )

    snapshot = await JobListing(database).snapshot(running)

    assert snapshot.eta_seconds == pytest.approx(20.0)


async def test_no_eta_without_history_nor_for_finished_jobs(
    database: Database, people: People, clock: FakeClock
) -> None:
    running = await insert_job(
        database, people.owner, clock.now(), status="running", items_completed=1, items_total=4
    )
    listing = JobListing(database)
    assert (await listing.snapshot(running)).eta_seconds is None
    assert snapshot_view(await listing.snapshot(running), clock.now()).progress.percent == 25

    await add_history(database, people, clock, [(40.0, 4)])
    done = await insert_job(
        database, people.owner, clock.now(), status="completed", items_completed=4, items_total=4
    )
    assert (await listing.snapshot(done)).eta_seconds is None
    assert snapshot_view(await listing.snapshot(done), clock.now()).progress.percent == 100
    assert (await listing.snapshot(running)).eta_seconds == pytest.approx(30.0)


async def test_a_listing_that_keeps_the_history_reads_it_once_per_period(
    database: Database, people: People, clock: FakeClock
) -> None:
    running = await insert_job(
        database, people.owner, clock.now(), status="running", items_completed=1, items_total=4
    )
    await add_history(database, people, clock, [(40.0, 4)])
    keeping = JobListing(database, history_ttl_s=3600)
    fresh = JobListing(database)
    assert (await keeping.snapshot(running)).eta_seconds == pytest.approx(30.0)

    await add_history(database, people, clock, [(400.0, 4)])

    assert (await keeping.snapshot(running)).eta_seconds == pytest.approx(30.0)
    assert (await fresh.snapshot(running)).eta_seconds == pytest.approx(165.0)
