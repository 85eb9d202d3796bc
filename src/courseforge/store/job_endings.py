"""How a job ends, written once: the store's run endings and the queue's statements
(batch completions, lost jobs, cancels) all build on `end_jobs`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from courseforge.domain.jobs import JobStatus
from courseforge.store.tables import jobs


def end_jobs(
    which: sa.ColumnElement[bool],
    status: JobStatus,
    now: datetime | sa.BindParameter[datetime],
    *,
    error: str | None = None,
    failed_unit: str | None = None,
) -> sa.Update:
    """The jobs `which` selects end as `status` (completed, failed or cancelled): no lease,
    no pending cancel request, finished `now`; `error` and `failed_unit` say why it failed."""
    return (
        jobs.update()
        .where(which)
        .values(
            status=status,
            error=error,
            failed_unit=failed_unit,
            finished_at=now,
            updated_at=now,
            lease_owner=None,
            lease_expires_at=None,
            cancel_requested=False,
        )
    )


def held_by(job_id: str, worker: str) -> sa.ColumnElement[bool]:
    """The job, while `worker` holds its lease (a run taken over must write nothing)."""
    return sa.and_(
        jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING, jobs.c.lease_owner == worker
    )
