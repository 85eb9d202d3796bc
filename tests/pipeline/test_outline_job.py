"""An outline job end to end on each database: K distinct candidates, its steps and events."""

from __future__ import annotations

import sqlalchemy as sa

from courseforge.domain.outline import CourseOutline, OutlineRequest
from courseforge.llm.errors import PermanentLLMError
from courseforge.llm.function_provider import FunctionProvider, valid_answer
from courseforge.llm.port import CompletionRequest
from courseforge.pipeline.events import FanOut
from courseforge.runtime import open_runtime
from courseforge.store.job_store import NewJob
from courseforge.store.tables import courses
from tests.pipeline.helpers import run_job, settings_for

THREE = OutlineRequest(topic="Photosynthesis basics", modules=2, lessons_per_module=2, candidates=3)
FROM_NOTES = OutlineRequest(
    topic="Cell biology from my notes",
    modules=2,
    lessons_per_module=1,
    candidates=2,
    source_material="Mitochondria make ATP.\nRibosomes build proteins.\nThe membrane...",
)


def always_valid(request: CompletionRequest, _call: int) -> str:
    return valid_answer(request)


async def create_outline_job(database_url: str, request: OutlineRequest) -> str:
    async with open_runtime(settings_for(database_url)) as runtime:
        return (await runtime.store.create_job(NewJob("outline", request))).job_id


async def candidates_of(database_url: str, job_id: str) -> list[CourseOutline]:
    async with open_runtime(settings_for(database_url)) as runtime:
        return await runtime.store.outline_candidates(job_id)


def assert_distinct(outlines: list[CourseOutline]) -> None:
    titles = [outline.title for outline in outlines]
    module_titles = [tuple(m.title for m in outline.modules) for outline in outlines]
    assert len(set(titles)) == len(titles)
    assert len(set(module_titles)) == len(module_titles)


async def test_drafts_k_valid_distinct_candidates_and_no_course(database_url: str) -> None:
    job_id = await create_outline_job(database_url, THREE)
    assert await candidates_of(database_url, job_id) == []
    provider = FunctionProvider(always_valid)

    outcome = await run_job(database_url, job_id, provider)

    assert outcome.error is None
    assert outcome.job.status == "completed"
    assert outcome.job.course_id is None
    assert sorted(provider.units_requested()) == ["outline:1", "outline:2", "outline:3"]
    prompts = {r.metadata["unit"]: r.messages[-1].content for r in provider.requests}
    assert "candidate 2 of 3" in prompts["outline:2"]
    assert "different angle" in prompts["outline:3"]
    candidates = await candidates_of(database_url, job_id)
    assert len(candidates) == 3
    assert_distinct(candidates)
    for outline in candidates:
        assert [len(m.lessons) for m in outline.modules] == [2, 2]
        assert (outline.audience, outline.level) == (THREE.audience, THREE.level)
    async with (
        open_runtime(settings_for(database_url)) as runtime,
        runtime.database.connect() as conn,
    ):
        stored = (await conn.execute(sa.select(sa.func.count()).select_from(courses))).scalar()
    assert stored == 0


async def test_candidates_come_back_in_candidate_order(database_url: str) -> None:
    job_id = await create_outline_job(database_url, THREE)
    await run_job(database_url, job_id, FunctionProvider(always_valid))

    candidates = await candidates_of(database_url, job_id)

    assert ["conventional" in o.title for o in candidates] == [True, False, False]
    assert ["project-based" in o.title for o in candidates] == [False, True, False]
    assert ["problem-first" in o.title for o in candidates] == [False, False, True]


async def test_progress_and_events_cover_the_outline_step_only(database_url: str) -> None:
    job_id = await create_outline_job(database_url, THREE)

    outcome = await run_job(database_url, job_id, FunctionProvider(always_valid))

    job = outcome.job
    assert (job.step, job.items_completed, job.items_total) == ("outline", 3, 3)
    events = outcome.events.events
    assert [e.type for e in events if e.type.startswith("step_")] == [
        "step_started",
        "step_progress",
        "step_progress",
        "step_progress",
        "step_completed",
    ]
    assert events[0].fields == {"step": "outline", "total": 3, "completed": 0}
    progress = [e.fields for e in events if e.type == "step_progress"]
    assert [p["completed"] for p in progress] == [1, 2, 3]
    assert [p["itemsCompleted"] for p in progress] == [1, 2, 3]
    assert {p["itemsTotal"] for p in progress} == {3}
    assert not any(e.type.startswith("topic_") for e in events)
    assert events[-1].type == "job_completed"
    assert events[-1].fields == {"candidates": 3}
    async with open_runtime(settings_for(database_url)) as runtime:
        stored = [event.type for _, event in await runtime.store.list_events(job_id)]
    assert stored == ["job_created", *(e.type for e in events)]


async def test_source_material_is_read_once_and_cited_by_every_candidate(
    database_url: str,
) -> None:
    job_id = await create_outline_job(database_url, FROM_NOTES)
    provider = FunctionProvider(always_valid)

    outcome = await run_job(database_url, job_id, provider)

    units = provider.units_requested()
    assert units[0] == "source_topics"
    assert sorted(units[1:]) == ["outline:1", "outline:2"]
    assert "Mitochondria make ATP" in provider.requests[0].messages[-1].content
    assert (outcome.job.items_completed, outcome.job.items_total) == (3, 3)
    started = [e.fields for e in outcome.events.events if e.type == "step_started"]
    assert started == [{"step": "outline", "total": 3, "completed": 0}]
    candidates = await candidates_of(database_url, job_id)
    assert len(candidates) == 2
    assert_distinct(candidates)
    assert all(module.source_topics for o in candidates for module in o.modules)


async def test_a_failed_candidate_keeps_the_others_and_a_retry_drafts_only_it(
    database_url: str,
) -> None:
    job_id = await create_outline_job(database_url, THREE)

    def second_fails(request: CompletionRequest, _call: int) -> str | BaseException:
        if request.metadata["unit"] == "outline:2":
            return PermanentLLMError("provider went away")
        return valid_answer(request)

    failed = await run_job(database_url, job_id, FunctionProvider(second_fails))
    assert (failed.job.status, failed.job.failed_unit) == ("failed", "outline:2")
    kept = await candidates_of(database_url, job_id)
    assert len(kept) == 2

    again = FunctionProvider(always_valid)
    resumed = await run_job(database_url, job_id, again)

    assert resumed.job.status == "completed"
    assert again.units_requested() == ["outline:2"]
    candidates = await candidates_of(database_url, job_id)
    assert [candidates[0], candidates[2]] == kept
    assert_distinct(candidates)


async def test_a_worker_runs_an_outline_job_from_the_queue(database_url: str) -> None:
    async with open_runtime(
        settings_for(database_url), provider=FunctionProvider(always_valid)
    ) as runtime:
        owner = await runtime.accounts.create_user("tia", "School", "teacher")
        enqueued = await runtime.queue.enqueue_outline(THREE.model_copy(), owner)
        worker = runtime.worker(FanOut())
        assert await runtime.queue.claim_job(enqueued.job_id, worker.id)

        await worker.run_claimed(enqueued.job_id)

        job = await runtime.store.get_job(enqueued.job_id)
        assert (job.status, job.kind, job.course_id) == ("completed", "outline", None)
        assert len(await runtime.store.outline_candidates(enqueued.job_id)) == 3
