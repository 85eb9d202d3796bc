"""Queueing jobs from synchronous CLI tests (the commands run their own event loop)."""

from __future__ import annotations

import asyncio

from courseforge.domain.outline import CourseRequest
from courseforge.runtime import open_runtime
from courseforge.settings import Settings

TINY = {"modules": 1, "lessons_per_module": 1, "tasks_per_lesson": 1, "questions_per_quiz": 1}


def enqueue(database_url: str, *topics: str) -> list[str]:
    async def go() -> list[str]:
        async with open_runtime(Settings(database_url=database_url, llm_provider="fake")) as rt:
            owner = await rt.accounts.local_user()
            return [
                (await rt.queue.enqueue_course(CourseRequest(topic=topic, **TINY), owner)).job_id
                for topic in topics
            ]

    return asyncio.run(go())
