"""The wizard's drafts: kept per owner, edited until queued, nobody else's to see."""

from __future__ import annotations

import pytest

from courseforge.clock import FakeClock
from courseforge.store.database import Database
from courseforge.store.outline_drafts import DraftNotFoundError, OutlineDrafts
from tests.store.listing_helpers import People, insert_job

OUTLINE = {"title": "Photosynthesis", "modules": [{"title": "Light"}]}


@pytest.fixture
async def drafts(database: Database, clock: FakeClock) -> OutlineDrafts:
    return OutlineDrafts(database, clock)


async def new_draft(
    database: Database, drafts: OutlineDrafts, people: People, clock: FakeClock
) -> str:
    job_id = await insert_job(database, people.owner, clock.now(), kind="outline")
    draft = await drafts.create(people.owner, job_id, tasks_per_lesson=2, questions_per_quiz=5)
    return draft.id


async def test_a_draft_keeps_its_sizes_and_edited_outline(
    database: Database, drafts: OutlineDrafts, people: People, clock: FakeClock
) -> None:
    draft_id = await new_draft(database, drafts, people, clock)
    created = await drafts.get(draft_id, people.owner)
    clock.advance(60)
    await drafts.save_outline(draft_id, people.owner, OUTLINE)

    saved = await drafts.get(draft_id, people.owner)
    assert created.outline is None
    assert (saved.tasks_per_lesson, saved.questions_per_quiz) == (2, 5)
    assert saved.outline == OUTLINE
    assert saved.updated_at > saved.created_at == created.created_at


@pytest.mark.parametrize("viewer", ["peer", "admin", "outsider"])
async def test_only_its_owner_sees_or_changes_a_draft(
    database: Database, drafts: OutlineDrafts, people: People, clock: FakeClock, viewer: str
) -> None:
    draft_id = await new_draft(database, drafts, people, clock)
    other = people.named(viewer)
    with pytest.raises(DraftNotFoundError):
        await drafts.get(draft_id, other)
    with pytest.raises(DraftNotFoundError):
        await drafts.save_outline(draft_id, other, OUTLINE)
    assert (await drafts.get(draft_id, people.owner)).outline is None


async def test_a_queued_draft_is_not_edited_any_more(
    database: Database, drafts: OutlineDrafts, people: People, clock: FakeClock
) -> None:
    draft_id = await new_draft(database, drafts, people, clock)
    course_job = await insert_job(database, people.owner, clock.now())
    await drafts.save_outline(draft_id, people.owner, OUTLINE)
    await drafts.mark_queued(draft_id, people.owner, course_job)

    with pytest.raises(DraftNotFoundError):
        await drafts.save_outline(draft_id, people.owner, {"title": "Changed"})
    queued = await drafts.get(draft_id, people.owner)
    assert (queued.course_job_id, queued.outline) == (course_job, OUTLINE)


async def test_an_unknown_draft_is_not_found(drafts: OutlineDrafts, people: People) -> None:
    with pytest.raises(DraftNotFoundError):
        await drafts.get("00000000-0000-0000-0000-000000000000", people.owner)
