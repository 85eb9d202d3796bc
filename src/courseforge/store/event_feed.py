"""Reading jobs' event streams: one job's from a point, or the news of many jobs at once.

The second serves an API process's single event broker, which fetches what is new for
every job somebody is watching in one query, however many clients watch each job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from courseforge.domain.events import JobEvent
from courseforge.store.database import Database
from courseforge.store.tables import job_events


async def events_after(
    database: Database, last_seen: Mapping[str, int]
) -> list[tuple[int, JobEvent]]:
    """Every event of the jobs in `last_seen` newer than the id seen for that job, by id."""
    if not last_seen:
        return []
    query = (
        sa.select(job_events)
        .where(
            job_events.c.job_id.in_(list(last_seen)),
            job_events.c.id > min(last_seen.values()),
        )
        .order_by(job_events.c.id)
    )
    async with database.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [(row["id"], event_of(row)) for row in rows if row["id"] > last_seen[row["job_id"]]]


def event_of(row: Any) -> JobEvent:
    return JobEvent(
        type=row["type"], job_id=row["job_id"], timestamp=row["created_at"], fields=row["payload"]
    )
