"""The API benchmark's data: users with tokens in a few organizations, and their jobs.

Users and tokens go through AccountStore (as `courseforge users create` does); jobs are
bulk-inserted rows in plausible states (they are read, never run), each with its
`job_created` event, and running ones with the start of their first step.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from courseforge.domain.accounts import Role
from courseforge.domain.outline import CourseRequest
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from courseforge.store.tables import job_events, jobs

# status: share of the jobs
STATUS_MIX = {
    "completed": 0.72,
    "failed": 0.08,
    "cancelled": 0.05,
    "running": 0.05,
    "pending": 0.10,
}
TOPICS = ("Tide pools", "Linear algebra", "Baroque music", "Soil science", "Rust ownership")
STEPS = ("lessons", "tasks", "assessments", "summaries")
# One executemany needs the same keys in every row: the columns only some states fill.
OPTIONAL_COLUMNS = (
    "step",
    "started_at",
    "finished_at",
    "llm_calls",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "error",
    "failed_unit",
    "lease_owner",
    "lease_expires_at",
)


@dataclass(frozen=True)
class Owner:
    name: str
    role: Role
    token: str


@dataclass(frozen=True)
class SeededJob:
    id: str
    status: str
    owner: Owner


@dataclass(frozen=True)
class Population:
    owners: list[Owner]
    jobs: list[SeededJob]

    def running(self) -> list[SeededJob]:
        return [job for job in self.jobs if job.status == "running"]


def role_of(index: int) -> Role:
    if index % 10 == 0:
        return "admin"
    return "student" if index % 5 == 1 else "teacher"


async def seed(url: str, *, users: int, organizations: int, job_count: int) -> Population:
    settings = Settings(database_url=url, llm_provider="fake")
    rng = random.Random(7)
    async with open_runtime(settings) as runtime:
        owners, ids = [], {}
        for index in range(users):
            name, role = f"bench-user-{index:03d}", role_of(index)
            user = await runtime.accounts.create_user(name, f"org-{index % organizations}", role)
            owners.append(Owner(name, role, await runtime.accounts.issue_token(user)))
            ids[name] = (user.id, user.organization_id)
        now = runtime.clock.now()
        seeded = [_pick(rng, owners) for _ in range(job_count)]
        rows = [_job_row(rng, job, *ids[job.owner.name], now) for job in seeded]
        events = [event for row in rows for event in _events_of(row)]
        async with runtime.database.transaction() as conn:
            await conn.execute(jobs.insert(), rows)
            await conn.execute(job_events.insert(), events)
    return Population(owners, seeded)


def _pick(rng: random.Random, owners: list[Owner]) -> SeededJob:
    status = rng.choices(list(STATUS_MIX), weights=list(STATUS_MIX.values()))[0]
    return SeededJob(str(uuid.uuid4()), status, rng.choice(owners))


def _job_row(
    rng: random.Random, job: SeededJob, owner_id: str, organization_id: str, now: datetime
) -> dict[str, Any]:
    created = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
    request = CourseRequest(topic=rng.choice(TOPICS), modules=rng.randint(2, 6))
    total = request.modules * 10 + 2
    row: dict[str, Any] = dict.fromkeys(OPTIONAL_COLUMNS) | {
        "id": job.id,
        "kind": "course",
        "status": job.status,
        "request": request.model_dump(mode="json"),
        "owner_id": owner_id,
        "organization_id": organization_id,
        "dedup_key": uuid.uuid4().hex,
        "created_at": created,
        "updated_at": created,
        "items_total": 0,
        "items_completed": 0,
        "attempts": 0,
        "llm_calls": 0,
        "tokens_in": 0,
        "tokens_out": 0,
        "cost_usd": 0.0,
    }
    if job.status == "pending":
        return row
    started = created + timedelta(seconds=rng.uniform(0.1, 30))
    done = total if job.status == "completed" else rng.randint(0, total - 1)
    row |= {
        "step": rng.choice(STEPS),
        "started_at": started,
        "updated_at": started,
        "attempts": 3 if job.status == "failed" else 1,
        "items_total": total,
        "items_completed": done,
        "llm_calls": done,
        "tokens_in": done * 1800,
        "tokens_out": done * 900,
        "cost_usd": round(done * 0.0012, 6),
    }
    if job.status == "running":
        row["lease_owner"] = "bench-host:1:bench"
        row["lease_expires_at"] = now + timedelta(days=1)
        return row
    finished = started + timedelta(seconds=rng.uniform(20, 120))
    row |= {"finished_at": finished, "updated_at": finished}
    if job.status == "failed":
        row |= {"error": "the model's answer failed validation 3 times", "failed_unit": "quiz:2"}
    return row


def _events_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    created = {"job_id": row["id"], "type": "job_created", "created_at": row["created_at"]}
    events = [{**created, "payload": {"kind": "course", "topic": row["request"]["topic"]}}]
    if row["status"] == "running":
        started = {"step": row["step"], "total": row["items_total"]}
        events.append(
            {**created, "type": "step_started", "payload": started, "created_at": row["started_at"]}
        )
    return events
