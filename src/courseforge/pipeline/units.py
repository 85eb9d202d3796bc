"""The units of work of each step, planned from the request, the outline and earlier results.

A unit is the checkpoint granularity: once its result is stored it is never redone.
Keys are stable names (`lesson:2.1` = module 2, lesson 1) so a resumed run finds them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from courseforge.domain import drafts
from courseforge.domain.outline import CourseOutline, CourseRequest
from courseforge.llm.gateway import LLMGateway
from courseforge.pipeline import prompts

Step = Literal[
    "outline", "lessons", "tasks", "assessments", "summaries", "evaluation", "finalizing"
]
STEPS: tuple[Step, ...] = (
    "outline",
    "lessons",
    "tasks",
    "assessments",
    "summaries",
    "evaluation",
    "finalizing",
)
UnitResult = BaseModel | dict[str, Any]


@dataclass(frozen=True)
class Unit:
    key: str
    step: Step
    title: str
    run: Callable[[], Awaitable[UnitResult]]
    module_index: int | None = None
    needs: tuple[str, ...] = field(default=())


@dataclass
class PlanContext:
    job_id: str
    request: CourseRequest
    llm: LLMGateway
    results: dict[str, Any]
    outline: CourseOutline | None = None

    def approved_outline(self) -> CourseOutline:
        if self.outline is None:
            raise RuntimeError("the outline step has not produced an outline yet")
        return self.outline


def lesson_key(module: int, lesson: int) -> str:
    return f"{module + 1}.{lesson + 1}"


def count_units(request: CourseRequest, outline: CourseOutline | None) -> int:
    """All units of a job, known before the outline exists (from the requested shape)."""
    lessons_per_module = (
        [len(m.lessons) for m in outline.modules]
        if outline
        else [request.lessons_per_module] * request.modules
    )
    modules, lessons = len(lessons_per_module), sum(lessons_per_module)
    outline_units = 0 if outline else 1 + (1 if request.source_material else 0)
    # lessons + tasks + (quizzes + brain bytes) + (metadata + module summaries) + eval + final
    return outline_units + lessons + lessons + (modules + lessons) + (1 + modules) + 2


def plan_outline(ctx: PlanContext) -> list[Unit]:
    if ctx.outline is not None:
        return []
    request = ctx.request
    units: list[Unit] = []
    needs: tuple[str, ...] = ()
    if request.source_material:
        units.append(Unit("source_topics", "outline", "Reading the source material", _source(ctx)))
        needs = ("source_topics",)
    units.append(
        Unit("outline", "outline", f"Outline: {request.topic}", _outline(ctx), needs=needs)
    )
    return units


def _source(ctx: PlanContext) -> Callable[[], Awaitable[UnitResult]]:
    async def run() -> UnitResult:
        return await ctx.llm.generate(
            drafts.SourceTopicsDraft,
            prompts.source_topics(ctx.request),
            tier="complex",
            unit="source_topics",
        )

    return run


def _outline(ctx: PlanContext) -> Callable[[], Awaitable[UnitResult]]:
    async def run() -> UnitResult:
        from courseforge.pipeline.assemble import outline_from_draft, source_topics_of

        request = ctx.request
        topics = source_topics_of(ctx.results)
        shape = drafts.outline_draft(request.modules, request.lessons_per_module, len(topics))
        draft = await ctx.llm.generate(
            shape, prompts.outline(request, topics), tier="complex", unit="outline"
        )
        return outline_from_draft(draft, request, topics)

    return run


def plan_lessons(ctx: PlanContext) -> list[Unit]:
    outline = ctx.approved_outline()
    units = []
    for m, module in enumerate(outline.modules):
        for i, lesson in enumerate(module.lessons):
            key = f"lesson:{lesson_key(m, i)}"
            call = _call(
                ctx, drafts.LessonDraft, prompts.lesson(outline, module, i), "complex", key
            )
            units.append(Unit(key, "lessons", lesson.title, call, module_index=m))
    return units


def plan_tasks(ctx: PlanContext) -> list[Unit]:
    outline, count = ctx.approved_outline(), ctx.request.tasks_per_lesson
    units = []
    for m, module in enumerate(outline.modules):
        for i, lesson in enumerate(module.lessons):
            key = f"tasks:{lesson_key(m, i)}"
            shape = drafts.task_set_draft(count)
            call = _call(ctx, shape, prompts.tasks(outline, module, i, count), "complex", key)
            units.append(Unit(key, "tasks", lesson.title, call, module_index=m))
    return units


def plan_assessments(ctx: PlanContext) -> list[Unit]:
    outline, count = ctx.approved_outline(), ctx.request.questions_per_quiz
    units = []
    for m, module in enumerate(outline.modules):
        key = f"quiz:{m + 1}"
        shape = drafts.quiz_draft(count, len(module.learning_objectives))
        call = _call(ctx, shape, prompts.quiz(outline, module, count), "complex", key)
        units.append(Unit(key, "assessments", f"Quiz: {module.title}", call, module_index=m))
        for i, lesson in enumerate(module.lessons):
            key = f"brain_bytes:{lesson_key(m, i)}"
            messages = prompts.brain_bytes(outline, module, i)
            call = _call(ctx, drafts.BrainBytesDraft, messages, "complex", key)
            units.append(Unit(key, "assessments", f"Brain bytes: {lesson.title}", call, m))
    return units


def plan_summaries(ctx: PlanContext) -> list[Unit]:
    outline = ctx.approved_outline()
    metadata = _call(
        ctx, drafts.CourseMetadataDraft, prompts.course_metadata(outline), "simple", "metadata"
    )
    units = [Unit("metadata", "summaries", "Course description and tags", metadata)]
    for m, module in enumerate(outline.modules):
        key = f"module_summary:{m + 1}"
        messages = prompts.module_summary(outline, module)
        call = _call(ctx, drafts.ModuleSummaryDraft, messages, "simple", key)
        units.append(Unit(key, "summaries", f"Summary: {module.title}", call, module_index=m))
    return units


def _call(
    ctx: PlanContext,
    shape: type[BaseModel],
    messages: list[Any],
    tier: Literal["complex", "simple"],
    key: str,
) -> Callable[[], Awaitable[UnitResult]]:
    async def run() -> UnitResult:
        return await ctx.llm.generate(shape, messages, tier=tier, unit=key)

    return run
