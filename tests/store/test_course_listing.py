"""CourseListing on SQLite and PostgreSQL: who sees which course, pages, versions, publish."""

from __future__ import annotations

import pytest

from courseforge.clock import FakeClock
from courseforge.store.course_listing import (
    CourseListing,
    CourseNotFoundError,
    CourseNotReadyError,
)
from courseforge.store.database import Database
from courseforge.store.pages import InvalidCursorError
from tests.store.listing_helpers import VISIBILITY, People, insert_course, store_version


@pytest.mark.parametrize(("viewer", "sees"), VISIBILITY)
async def test_a_course_is_seen_by_its_owner_and_their_admin_only(
    database: Database, people: People, clock: FakeClock, viewer: str, sees: bool
) -> None:
    course_id = await insert_course(database, people.owner, clock.now())
    await store_version(database, course_id, clock.now(), {"title": "v1"}, 0.9)
    listing, user = CourseListing(database, clock), people.named(viewer)

    page = await listing.list_courses(user, limit=10)

    assert [course.id for course in page.items] == ([course_id] if sees else [])
    if sees:
        assert (await listing.get_course(course_id, user)).content == {"title": "v1"}
        assert [v.version for v in await listing.versions(course_id, user)] == [1]
        assert (await listing.publish(course_id, user)).status == "published"
        return
    for action in (listing.get_course, listing.versions, listing.publish):
        with pytest.raises(CourseNotFoundError, match=f"no course with id '{course_id}'"):
            await action(course_id, user)
    # Refused, not half done: the owner still finds it a draft.
    assert (await listing.get_course(course_id, people.owner)).summary.status == "draft"


async def test_pages_of_courses_newest_first_and_by_status(
    database: Database, people: People, clock: FakeClock
) -> None:
    ids = []
    for n in range(5):
        status = "published" if n % 2 else "draft"
        ids.append(await insert_course(database, people.owner, clock.now(), status=status))
        clock.advance(1)
    await insert_course(database, people.outsider, clock.now())
    listing = CourseListing(database, clock)

    seen, cursor = [], None
    while True:
        page = await listing.list_courses(people.admin, limit=2, cursor=cursor)
        seen += [course.id for course in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids[::-1]

    published = await listing.list_courses(people.owner, limit=10, status="published")
    assert [course.id for course in published.items] == [ids[3], ids[1]]
    drafts = await listing.list_courses(people.owner, limit=10, status="draft")
    assert [course.id for course in drafts.items] == [ids[4], ids[2], ids[0]]
    with pytest.raises(InvalidCursorError):
        await listing.list_courses(people.owner, limit=10, cursor="garbage")
    with pytest.raises(ValueError, match="unknown course status 'archived'"):
        await listing.list_courses(people.owner, limit=10, status="archived")


async def test_a_course_without_a_version_has_no_content(
    database: Database, people: People, clock: FakeClock
) -> None:
    course_id = await insert_course(database, people.owner, clock.now(), job_id=None)
    listing = CourseListing(database, clock)

    detail = await listing.get_course(course_id, people.owner)

    assert detail.summary.current_version == 0
    assert (detail.version, detail.content, detail.quality) == (None, None, None)
    assert await listing.versions(course_id, people.owner) == []
    with pytest.raises(CourseNotFoundError, match="has no version 1"):
        await listing.get_course(course_id, people.owner, version=1)


async def test_the_current_version_or_the_one_asked_for(
    database: Database, people: People, clock: FakeClock
) -> None:
    course_id = await insert_course(database, people.owner, clock.now())
    first_at = clock.now()
    await store_version(database, course_id, first_at, {"title": "first"}, 0.5)
    clock.advance(60)
    await store_version(database, course_id, clock.now(), {"title": "second"}, 0.75)
    listing = CourseListing(database, clock)

    current = await listing.get_course(course_id, people.owner)
    older = await listing.get_course(course_id, people.owner, version=1)
    versions = await listing.versions(course_id, people.owner)

    assert (current.version, current.content) == (2, {"title": "second"})
    assert current.quality is not None
    assert current.quality["overall"] == 0.75
    assert current.summary.current_version == 2
    assert (older.version, older.content) == (1, {"title": "first"})
    assert [(v.version, v.created_at, v.quality_score) for v in versions] == [
        (1, first_at, 0.5),
        (2, clock.now(), 0.75),
    ]
    with pytest.raises(CourseNotFoundError, match="has no version 3"):
        await listing.get_course(course_id, people.owner, version=3)


async def test_publish_waits_for_a_version_and_is_idempotent(
    database: Database, people: People, clock: FakeClock
) -> None:
    course_id = await insert_course(database, people.owner, clock.now())
    listing = CourseListing(database, clock)

    with pytest.raises(CourseNotReadyError, match="no version yet"):
        await listing.publish(course_id, people.owner)
    assert (await listing.get_course(course_id, people.owner)).summary.status == "draft"

    clock.advance(10)
    await store_version(database, course_id, clock.now(), {"title": "v1"}, 0.9)
    clock.advance(10)
    published = await listing.publish(course_id, people.owner)
    assert published.status == "published"
    assert published.published_at == clock.now()
    assert published.updated_at == clock.now()

    clock.advance(10)
    again = await listing.publish(course_id, people.admin)
    assert again == published
    listed = await listing.list_courses(people.owner, limit=5, status="published")
    assert listed.items == [published]
