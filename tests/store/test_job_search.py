"""JobListing's search on a job's topic and its counts by status, on SQLite and PostgreSQL
(the dashboard's search box and filter tabs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courseforge.domain.outline import CourseOutline, CourseRequest
from courseforge.llm.schema_sample import sample_instance
from courseforge.store.database import Database
from courseforge.store.job_listing import MAX_SEARCH_LENGTH, JobListing
from tests.store.listing_helpers import People, insert_job

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def add(database: Database, people: People, topic: str, status: str = "pending") -> str:
    request = CourseRequest(topic=topic).model_dump(mode="json")
    moment = START + timedelta(minutes=len(topic))
    return await insert_job(database, people.owner, moment, request=request, status=status)


async def found(listing: JobListing, people: People, search: str) -> set[str]:
    page = await listing.list_jobs(people.owner, status=None, limit=50, search=search)
    return {job.request.topic for job in page.items}


async def test_search_is_a_case_insensitive_substring_of_the_topic(
    database: Database, people: People
) -> None:
    for topic in ("Tide pools", "Rock POOLS of Cornwall", "Volcanoes"):
        await add(database, people, topic)
    listing = JobListing(database)

    assert await found(listing, people, "pool") == {"Tide pools", "Rock POOLS of Cornwall"}
    assert await found(listing, people, "VOLC") == {"Volcanoes"}
    assert await found(listing, people, "glaciers") == set()


@pytest.mark.parametrize("typed", ["100%", "a_b", "50/50"])
async def test_like_wildcards_typed_in_a_search_match_only_themselves(
    database: Database, people: People, typed: str
) -> None:
    for topic in ("100% cotton", "1000 cranes", "a_b testing", "axb testing", "50/50 odds"):
        await add(database, people, topic)

    matched = await found(JobListing(database), people, typed)

    assert len(matched) == 1
    assert typed in next(iter(matched))


async def test_a_search_longer_than_the_bound_is_refused(
    database: Database, people: People
) -> None:
    with pytest.raises(ValueError, match="search text"):
        await found(JobListing(database), people, "x" * (MAX_SEARCH_LENGTH + 1))


async def test_counts_by_status_with_and_without_a_search(
    database: Database, people: People
) -> None:
    statuses = ["pending", "running", "running", "completed", "failed", "cancelled"]
    for number, status in enumerate(statuses):
        await add(database, people, f"Tides {number}", status)
    await add(database, people, "Volcanoes", "completed")
    listing = JobListing(database)

    counts = await listing.count_jobs(people.owner)
    searched = await listing.count_jobs(people.owner, search="tides")
    others = await listing.count_jobs(people.peer)

    assert [counts.of(f) for f in (None, "active", "completed", "failed", "cancelled")] == [
        7,
        3,
        2,
        1,
        1,
    ]
    assert (searched.of(None), searched.of("completed")) == (6, 1)
    assert others.of(None) == 0


async def test_search_matches_the_approved_outline_title_that_the_pages_show(
    database: Database, people: People
) -> None:
    request = CourseRequest(topic="Tide pools").model_dump(mode="json")
    outline = _outline_of("Rock pools")
    await insert_job(database, people.owner, START, request=request, outline=outline)
    await add(database, people, "Volcanoes")
    listing = JobListing(database)

    titled = await listing.list_jobs(people.owner, status=None, limit=50, search="rock")
    by_topic = await found(listing, people, "tide")

    assert [job.outline.title for job in titled.items if job.outline] == ["Rock pools"]
    assert by_topic == set()  # the title it has now, not the topic it was drafted from


def _outline_of(title: str) -> dict[str, object]:
    sample = sample_instance(CourseOutline.model_json_schema(), "pools") | {"language": "en"}
    outline = CourseOutline.model_validate(sample).model_copy(update={"title": title})
    return outline.model_dump(mode="json")
