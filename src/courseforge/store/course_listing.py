"""Courses as their owners see them: a page at a time, one course (any version), its
versions, and publishing it.

A course row exists from the moment its generation is queued (status "draft",
current_version 0); each finished generation stores a version. A course the viewer may
not see is not found, exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.clock import Clock, SystemClock
from courseforge.domain.accounts import User
from courseforge.store.database import Database
from courseforge.store.pages import Page, fetch_page, is_row_id
from courseforge.store.tables import course_versions, courses
from courseforge.store.visibility import visible_to

CourseStatus = Literal["draft", "published"]
COURSE_STATUSES: tuple[str, ...] = get_args(CourseStatus)


class CourseNotFoundError(LookupError):
    def __init__(self, course_id: str, version: int | None = None) -> None:
        super().__init__(
            f"no course with id {course_id!r}"
            if version is None
            else f"course {course_id!r} has no version {version}"
        )
        self.course_id = course_id
        self.version = version


class CourseNotReadyError(Exception):
    """Publishing a course whose generation has not stored a version yet."""

    def __init__(self, course_id: str) -> None:
        super().__init__(
            f"course {course_id!r} has no version yet: publish it once its generation has finished"
        )
        self.course_id = course_id


@dataclass(frozen=True)
class CourseSummary:
    id: str
    title: str
    slug: str
    status: str
    current_version: int  # 0 until the first version is stored
    job_id: str | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


@dataclass(frozen=True)
class CourseDetail:
    summary: CourseSummary
    version: int | None  # None (and no content) until the first version is stored
    content: dict[str, Any] | None
    quality: dict[str, Any] | None


@dataclass(frozen=True)
class VersionSummary:
    version: int
    created_at: datetime
    quality_score: float | None  # the quality report's overall score


class CourseListing:
    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = clock or SystemClock()

    async def list_courses(
        self, viewer: User, *, limit: int, cursor: str | None = None, status: str | None = None
    ) -> Page[CourseSummary]:
        """Newest first; `status` "draft", "published" or None (both)."""
        query = sa.select(courses).where(visible_to(viewer, courses))
        if status is not None:
            if status not in COURSE_STATUSES:
                raise ValueError(f"unknown course status {status!r}: use draft or published")
            query = query.where(courses.c.status == status)
        async with self._database.connect() as conn:
            return await fetch_page(
                conn, query, courses, limit=limit, cursor=cursor, to_item=_summary
            )

    async def get_course(
        self, course_id: str, viewer: User | None, version: int | None = None
    ) -> CourseDetail:
        """The current version, or the one asked for (CourseNotFoundError if there is none).
        `viewer` None: the operator at the command line, who may read every course."""
        async with self._database.connect() as conn:
            row = await _visible_course(conn, course_id, viewer)
            wanted = version if version is not None else row["current_version"]
            if version is None and wanted == 0:
                return CourseDetail(_summary(row), None, None, None)
            stored = await _version(conn, course_id, wanted)
        return CourseDetail(_summary(row), wanted, dict(stored.content), dict(stored.quality))

    async def versions(self, course_id: str, viewer: User) -> list[VersionSummary]:
        """Oldest first; empty until the first version is stored."""
        query = (
            sa.select(
                course_versions.c.version, course_versions.c.created_at, course_versions.c.quality
            )
            .where(course_versions.c.course_id == course_id)
            .order_by(course_versions.c.version)
        )
        async with self._database.connect() as conn:
            await _visible_course(conn, course_id, viewer)
            rows = (await conn.execute(query)).all()
        return [VersionSummary(r.version, r.created_at, _score(r.quality)) for r in rows]

    async def quality_scores(self, course_ids: list[str], viewer: User) -> dict[str, float]:
        """The overall quality score of each course's current version, in one query (a
        page of courses beside its scores); a course without a version has none."""
        query = (
            sa.select(courses.c.id, course_versions.c.quality)
            .join(
                course_versions,
                sa.and_(
                    course_versions.c.course_id == courses.c.id,
                    course_versions.c.version == courses.c.current_version,
                ),
            )
            .where(courses.c.id.in_(course_ids), visible_to(viewer, courses))
        )
        async with self._database.connect() as conn:
            rows = (await conn.execute(query)).all() if course_ids else []
        scored = ((row.id, _score(row.quality)) for row in rows)
        return {course_id: score for course_id, score in scored if score is not None}

    async def publish(self, course_id: str, viewer: User) -> CourseSummary:
        """Published from now on; publishing again changes nothing (published_at stays)."""
        now = self._clock.now()
        async with self._database.transaction() as conn:
            row = await _visible_course(conn, course_id, viewer)
            if row["current_version"] == 0:
                raise CourseNotReadyError(course_id)
            if row["status"] != "published":
                # A concurrent publish may have won meanwhile: it keeps its published_at.
                await conn.execute(
                    courses.update()
                    .where(courses.c.id == course_id, courses.c.status != "published")
                    .values(status="published", published_at=now, updated_at=now)
                )
                row = await _visible_course(conn, course_id, viewer)
        return _summary(row)


async def _visible_course(conn: AsyncConnection, course_id: str, viewer: User | None) -> Any:
    if not is_row_id(course_id):
        raise CourseNotFoundError(course_id)
    query = sa.select(courses).where(courses.c.id == course_id)
    if viewer is not None:
        query = query.where(visible_to(viewer, courses))
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise CourseNotFoundError(course_id)
    return row


async def _version(conn: AsyncConnection, course_id: str, version: int) -> Any:
    query = sa.select(course_versions.c.content, course_versions.c.quality).where(
        course_versions.c.course_id == course_id, course_versions.c.version == version
    )
    stored = (await conn.execute(query)).first()
    if stored is None:
        raise CourseNotFoundError(course_id, version)
    return stored


def _summary(row: Any) -> CourseSummary:
    return CourseSummary(
        id=row["id"],
        title=row["title"],
        slug=row["slug"],
        status=row["status"],
        current_version=row["current_version"],
        job_id=row["job_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        published_at=row["published_at"],
    )


def _score(quality: Any) -> float | None:
    overall = quality.get("overall") if isinstance(quality, dict) else None
    return float(overall) if isinstance(overall, int | float) else None
