"""Rows for the read-model tests, written straight into the tables (explicit owners and
timestamps), and the people of the visibility matrix."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from courseforge.domain.accounts import User
from courseforge.domain.outline import CourseRequest
from courseforge.store.database import Database
from courseforge.store.tables import course_versions, courses, jobs


@dataclass(frozen=True)
class People:
    owner: User  # a teacher of Acme who owns the rows
    peer: User  # another teacher of Acme
    admin: User  # Acme's admin
    outsider: User  # Globex's admin

    def named(self, name: str) -> User:
        user: User = getattr(self, name)
        return user


# Who may see the owner's rows (the API says 404 to everyone else).
VISIBILITY = [("owner", True), ("peer", False), ("admin", True), ("outsider", False)]


async def insert_job(database: Database, owner: User, created_at: datetime, **values: Any) -> str:
    """A job row as the queue and a run would leave it; `values` override any column."""
    job_id = str(uuid.uuid4())
    row: dict[str, Any] = {
        "id": job_id,
        "kind": "course",
        "status": "pending",
        "request": CourseRequest(topic="Photosynthesis").model_dump(mode="json"),
        "owner_id": owner.id,
        "organization_id": owner.organization_id,
        "created_at": created_at,
        "updated_at": created_at,
        **values,
    }
    async with database.transaction() as conn:
        await conn.execute(jobs.insert().values(**row))
    return job_id


async def insert_course(
    database: Database, owner: User, created_at: datetime, **values: Any
) -> str:
    """A course row as queueing its generation leaves it: a draft without a version."""
    course_id = str(uuid.uuid4())
    row: dict[str, Any] = {
        "id": course_id,
        "slug": f"course-{course_id[:8]}",
        "title": "Photosynthesis",
        "status": "draft",
        "current_version": 0,
        "owner_id": owner.id,
        "organization_id": owner.organization_id,
        "created_at": created_at,
        "updated_at": created_at,
        **values,
    }
    async with database.transaction() as conn:
        await conn.execute(courses.insert().values(**row))
    return course_id


async def store_version(
    database: Database, course_id: str, at: datetime, content: dict[str, Any], overall: float
) -> int:
    """Stores the next version the way a finished generation does."""
    async with database.transaction() as conn:
        version = (
            await conn.execute(
                courses.update()
                .where(courses.c.id == course_id)
                .values(current_version=courses.c.current_version + 1, updated_at=at)
                .returning(courses.c.current_version)
            )
        ).scalar_one()
        await conn.execute(
            course_versions.insert().values(
                course_id=course_id,
                version=version,
                content=content,
                quality={"overall": overall, "scores": {}, "findings": []},
                created_at=at,
            )
        )
    return int(version)
