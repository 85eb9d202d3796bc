"""The new-course wizard's drafts: one row per "Draft outlines", kept server-side so a
reload or a second visit loses nothing between the wizard's steps.

A draft belongs to the user who started it and to nobody else (an admin included): any
other viewer gets DraftNotFoundError, as for an id that does not exist. The outline it
holds is the user's working copy, in any shape while they edit it; it is validated as a
`CourseOutline` only when the course is queued.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from courseforge.clock import Clock, SystemClock
from courseforge.domain.accounts import User
from courseforge.store.database import Database
from courseforge.store.pages import is_row_id
from courseforge.store.tables import outline_drafts


class DraftNotFoundError(LookupError):
    """No such draft, or not the viewer's."""


@dataclass(frozen=True)
class OutlineDraft:
    id: str
    owner_id: str
    outline_job_id: str
    tasks_per_lesson: int
    questions_per_quiz: int
    outline: dict[str, Any] | None  # the picked outline as last edited; None before a pick
    course_job_id: str | None  # set once "Generate & queue" queued the course
    created_at: datetime
    updated_at: datetime


class OutlineDrafts:
    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = clock or SystemClock()

    async def create(
        self, owner: User, outline_job_id: str, *, tasks_per_lesson: int, questions_per_quiz: int
    ) -> OutlineDraft:
        now = self._clock.now()
        draft = OutlineDraft(
            id=str(uuid.uuid4()),
            owner_id=owner.id,
            outline_job_id=outline_job_id,
            tasks_per_lesson=tasks_per_lesson,
            questions_per_quiz=questions_per_quiz,
            outline=None,
            course_job_id=None,
            created_at=now,
            updated_at=now,
        )
        async with self._database.transaction() as conn:
            await conn.execute(outline_drafts.insert().values(**asdict(draft)))
        return draft

    async def get(self, draft_id: str, viewer: User) -> OutlineDraft:
        if not is_row_id(draft_id):
            raise DraftNotFoundError(draft_id)
        query = sa.select(outline_drafts).where(
            outline_drafts.c.id == draft_id, outline_drafts.c.owner_id == viewer.id
        )
        async with self._database.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise DraftNotFoundError(draft_id)
        return OutlineDraft(**row)

    async def save_outline(self, draft_id: str, viewer: User, outline: dict[str, Any]) -> None:
        """Keeps the edited outline; a draft already queued is not changed any more."""
        await self._update(draft_id, viewer, outline=outline)

    async def mark_queued(self, draft_id: str, viewer: User, course_job_id: str) -> None:
        await self._update(draft_id, viewer, course_job_id=course_job_id)

    async def _update(self, draft_id: str, viewer: User, **values: object) -> None:
        if not is_row_id(draft_id):
            raise DraftNotFoundError(draft_id)
        statement = (
            outline_drafts.update()
            .where(
                outline_drafts.c.id == draft_id,
                outline_drafts.c.owner_id == viewer.id,
                outline_drafts.c.course_job_id.is_(None),
            )
            .values(**values, updated_at=self._clock.now())
        )
        async with self._database.transaction() as conn:
            changed = (await conn.execute(statement)).rowcount
        if changed == 0:
            raise DraftNotFoundError(draft_id)
