"""Reading jobs' event streams: one job's from a point, a viewer's replay, or the news.

The news serves an API process's single event broker: one query per round fetches what
is new for every job somebody is watching and, while viewer-wide streams are open, for
every job at all, with each event's owner and organization so that the broker can hand
each viewer only what `visibility.visible_to` would show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from courseforge.domain.accounts import User
from courseforge.domain.events import JobEvent
from courseforge.store.database import Database
from courseforge.store.tables import job_events, jobs
from courseforge.store.visibility import visible_to


@dataclass(frozen=True)
class FeedEvent:
    """An event with what decides who may see it."""

    id: int
    event: JobEvent
    owner_id: str | None
    organization_id: str | None

    def seen_by(self, viewer: User) -> bool:
        """In memory what `visibility.visible_to` is in SQL: an admin's organization's
        jobs, anyone else's own."""
        if viewer.role == "admin":
            return self.organization_id == viewer.organization_id
        return self.owner_id == viewer.id


async def news(
    database: Database, last_seen: Mapping[str, int], feed_after: int | None
) -> list[FeedEvent]:
    """By id: the watched jobs' events newer than the id seen for each, and with
    `feed_after` every job's events after it (the caller drops what it has seen)."""
    wanted: list[sa.ColumnElement[bool]] = []
    if last_seen:
        in_watched = job_events.c.job_id.in_(list(last_seen))
        wanted.append(sa.and_(in_watched, job_events.c.id > min(last_seen.values())))
    if feed_after is not None:
        wanted.append(job_events.c.id > feed_after)
    if not wanted:
        return []
    query = (
        sa.select(job_events, jobs.c.owner_id, jobs.c.organization_id)
        .join(jobs, jobs.c.id == job_events.c.job_id)
        .where(sa.or_(*wanted))
        .order_by(job_events.c.id)
    )
    async with database.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        FeedEvent(row["id"], event_of(row), row["owner_id"], row["organization_id"]) for row in rows
    ]


async def viewer_events_after(
    database: Database, viewer: User, after: int, *, limit: int
) -> list[tuple[int, JobEvent]]:
    """The newest `limit` events after `after` of the jobs `viewer` may see, by id."""
    query = (
        sa.select(job_events)
        .join(jobs, jobs.c.id == job_events.c.job_id)
        .where(job_events.c.id > after, visible_to(viewer, jobs))
        .order_by(job_events.c.id.desc())
        .limit(limit)
    )
    async with database.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [(row["id"], event_of(row)) for row in reversed(rows)]


async def newest_event_id(database: Database) -> int:
    """The id of the newest event of any job; 0 when there are none."""
    async with database.connect() as conn:
        newest = await conn.scalar(sa.select(sa.func.max(job_events.c.id)))
    return int(newest or 0)


def event_of(row: Any) -> JobEvent:
    return JobEvent(
        type=row["type"], job_id=row["job_id"], timestamp=row["created_at"], fields=row["payload"]
    )
