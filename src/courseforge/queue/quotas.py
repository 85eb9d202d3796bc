"""How many jobs of a kind an owner may create in a sliding hour, by role.

The window is the jobs table itself (their `created_at`), so the limit holds across
every API process sharing the database: the check runs in the enqueue's transaction,
after the owner's row is locked (see `queries.lock_owner`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.domain.accounts import Role, User
from courseforge.domain.jobs import JobKind
from courseforge.queue import queries

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class CreationQuotas:
    """Jobs per hour per owner, by role; each kind of job (course, outline) counts apart."""

    student: int = 3
    teacher: int = 20
    admin: int = 100

    def per_hour(self, role: Role) -> int:
        return {"student": self.student, "teacher": self.teacher, "admin": self.admin}[role]


class CreationRateExceededError(Exception):
    """Over the creation rate: `limit` names it, `retry_after_s` says when a slot frees."""

    def __init__(self, limit: str, retry_after_s: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.message = message


async def check_creation_rate(
    conn: AsyncConnection, owner: User, kind: JobKind, now: datetime, quotas: CreationQuotas
) -> None:
    """Raises CreationRateExceededError if `owner` may not create another `kind` job now.
    Call it inside the enqueue's transaction, after locking the owner."""
    per_hour = quotas.per_hour(owner.role)
    limit = f"{owner.role}: {per_hour} {kind} jobs per hour"
    if per_hour == 0:
        message = f"A {owner.role} may not create {kind} jobs ({limit}); ask an administrator."
        raise CreationRateExceededError(limit, math.ceil(WINDOW.total_seconds()), message)
    statement = queries.newest_created(owner.id, kind, now - WINDOW, per_hour)
    newest = list((await conn.execute(statement)).scalars())
    if len(newest) < per_hour:
        return
    # Once the oldest of the newest `per_hour` jobs leaves the window, one slot is free.
    frees_at = newest[-1] + WINDOW
    retry_after_s = max(1, math.ceil((frees_at - now).total_seconds()))
    message = (
        f"You have created {per_hour} {kind} jobs in the last hour, the most allowed "
        f"({limit}). Try again in {_duration(retry_after_s)}."
    )
    raise CreationRateExceededError(limit, retry_after_s, message)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    return f"{math.ceil(seconds / 60)} min"
