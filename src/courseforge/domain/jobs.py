"""What a job is and where it stands: its kind and its status.

StrEnums, so a member is also the string stored in the database and sent over the
wire (`JobStatus.PENDING == "pending"`).

    pending ──claim──▶ running ──▶ completed
       ▲                  │  ├──▶ failed     (a permanent error, or out of attempts)
       └──── retry ───────┘  └──▶ cancelled
             (a unit gave up, a lease expired, a worker stopped)
"""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    COURSE = "course"  # a course from a brief (and an approved outline)
    OUTLINE = "outline"  # outline candidates to choose from, no course


class JobStatus(StrEnum):
    PENDING = "pending"  # queued, possibly not before `scheduled_for` (a backoff)
    RUNNING = "running"  # held by a worker under a lease
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES: tuple[JobStatus, ...] = (JobStatus.PENDING, JobStatus.RUNNING)
FINISHED_STATUSES: tuple[JobStatus, ...] = (
    JobStatus.COMPLETED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)
