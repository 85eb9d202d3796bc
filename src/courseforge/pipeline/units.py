"""The units of work of a course job and what each one needs before it can start.

A unit is the checkpoint granularity: once its result is stored it is never redone.
Keys are stable names (`lesson:2.1` = module 2, lesson 1) so a resumed run finds them.
Units form a graph, not a row of barriers: a lesson's tasks start as soon as that
lesson is written, a module's quiz as soon as its lessons are, so the wall time of a
course is its longest chain of dependent calls (outline → lesson → quiz), not the sum
of the slowest unit of every step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from courseforge.domain import drafts
from courseforge.domain.course import Course
from courseforge.domain.outline import CourseOutline, CourseRequest, OutlineRequest
from courseforge.llm.gateway import LLMGateway
from courseforge.llm.port import ChatMessage, Tier
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
Run = Callable[[], Awaitable[UnitResult]]


@dataclass(frozen=True)
class Unit:
    key: str
    step: Step
    title: str
    run: Run
    module_index: int | None = None
    needs: tuple[str, ...] = field(default=())


@dataclass
class PlanContext:
    job_id: str
    request: CourseRequest
    llm: LLMGateway
    results: dict[str, Any]
    outline: CourseOutline | None = None
    course: Course | None = None  # assembled once every content unit is done

    def approved_outline(self) -> CourseOutline:
        if self.outline is None:
            raise RuntimeError("the outline step has not produced an outline yet")
        return self.outline

    def lesson(self, module: int, lesson: int) -> drafts.LessonDraft:
        return drafts.LessonDraft.model_validate(
            self.results[f"lesson:{lesson_key(module, lesson)}"]
        )

    def lessons_of(self, module: int) -> list[drafts.LessonDraft]:
        count = len(self.approved_outline().modules[module].lessons)
        return [self.lesson(module, i) for i in range(count)]


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


def count_candidate_units(request: OutlineRequest) -> int:
    """All units of an outline job: the candidates, after reading any source material."""
    return request.candidates + (1 if request.source_material else 0)


def plan_outline(ctx: PlanContext) -> list[Unit]:
    if ctx.outline is not None:
        return []
    units, needs = _source_units(ctx)
    title = f"Outline: {ctx.request.topic}"
    return [*units, Unit("outline", "outline", title, _outline(ctx), needs=needs)]


def plan_candidates(ctx: PlanContext, count: int) -> list[Unit]:
    """An outline job: `count` alternative outlines (`outline:1`...), drafted side by side."""
    units, needs = _source_units(ctx)
    return units + [
        Unit(
            f"outline:{number}",
            "outline",
            f"Outline candidate {number} of {count}: {ctx.request.topic}",
            _outline(ctx, (number, count)),
            needs=needs,
        )
        for number in range(1, count + 1)
    ]


def _source_units(ctx: PlanContext) -> tuple[list[Unit], tuple[str, ...]]:
    """Reading the source material, when there is some, and what an outline then needs."""
    if not ctx.request.source_material:
        return [], ()
    read = Unit("source_topics", "outline", "Reading the source material", _source(ctx))
    return [read], ("source_topics",)


def _source(ctx: PlanContext) -> Run:
    async def run() -> UnitResult:
        messages = prompts.source_topics(ctx.request)
        return await ctx.llm.generate(
            drafts.SourceTopicsDraft, messages, tier="complex", unit="source_topics"
        )

    return run


def _outline(ctx: PlanContext, candidate: tuple[int, int] | None = None) -> Run:
    """The outline, or candidate (number, count) of an outline job."""
    key = f"outline:{candidate[0]}" if candidate else "outline"

    async def run() -> UnitResult:
        from courseforge.pipeline.assemble import outline_from_draft, source_topics_of

        request = ctx.request
        topics = source_topics_of(ctx.results)
        shape = drafts.outline_draft(request.modules, request.lessons_per_module, len(topics))
        messages = prompts.outline(request, topics, candidate or (1, 1))
        draft = await ctx.llm.generate(shape, messages, tier="complex", unit=key)
        return outline_from_draft(draft, request, topics)

    return run


def plan_content(ctx: PlanContext) -> list[Unit]:
    """Every LLM unit after the outline, each with the units whose results it reads."""
    outline = ctx.approved_outline()
    every_lesson = tuple(
        f"lesson:{lesson_key(m, i)}"
        for m, module in enumerate(outline.modules)
        for i in range(len(module.lessons))
    )
    units = []
    for m, module in enumerate(outline.modules):
        lesson_keys = tuple(f"lesson:{lesson_key(m, i)}" for i in range(len(module.lessons)))
        for i in range(len(module.lessons)):
            units += _lesson_units(ctx, m, i)
        units.append(_quiz_unit(ctx, m, lesson_keys))
        units.append(_module_summary_unit(ctx, m, lesson_keys))
    units.append(_metadata_unit(ctx, every_lesson))
    return units


def _lesson_units(ctx: PlanContext, m: int, i: int) -> list[Unit]:
    outline = ctx.approved_outline()
    module, title, key = outline.modules[m], outline.modules[m].lessons[i].title, lesson_key(m, i)
    count = ctx.request.tasks_per_lesson
    write = _call(
        ctx,
        drafts.LessonDraft,
        lambda: prompts.lesson(outline, module, i),
        "complex",
        f"lesson:{key}",
    )
    tasks = _call(
        ctx,
        drafts.task_set_draft(count),
        lambda: prompts.tasks(outline, module, i, count, ctx.lesson(m, i)),
        "complex",
        f"tasks:{key}",
    )
    snippets = _call(
        ctx,
        drafts.BrainBytesDraft,
        lambda: prompts.brain_bytes(outline, module, i, ctx.lesson(m, i)),
        "complex",
        f"brain_bytes:{key}",
    )
    after_lesson = (f"lesson:{key}",)
    return [
        Unit(f"lesson:{key}", "lessons", title, write, module_index=m),
        Unit(f"tasks:{key}", "tasks", title, tasks, module_index=m, needs=after_lesson),
        Unit(
            f"brain_bytes:{key}",
            "assessments",
            f"Brain bytes: {title}",
            snippets,
            module_index=m,
            needs=after_lesson,
        ),
    ]


def _quiz_unit(ctx: PlanContext, m: int, lesson_keys: tuple[str, ...]) -> Unit:
    outline = ctx.approved_outline()
    module, count = outline.modules[m], ctx.request.questions_per_quiz
    shape = drafts.quiz_draft(count, len(module.learning_objectives))
    call = _call(
        ctx,
        shape,
        lambda: prompts.quiz(outline, module, count, ctx.lessons_of(m)),
        "complex",
        f"quiz:{m + 1}",
    )
    return Unit(f"quiz:{m + 1}", "assessments", f"Quiz: {module.title}", call, m, needs=lesson_keys)


def _module_summary_unit(ctx: PlanContext, m: int, lesson_keys: tuple[str, ...]) -> Unit:
    outline = ctx.approved_outline()
    module = outline.modules[m]
    call = _call(
        ctx,
        drafts.ModuleSummaryDraft,
        lambda: prompts.module_summary(outline, module, ctx.lessons_of(m)),
        "simple",
        f"module_summary:{m + 1}",
    )
    return Unit(
        f"module_summary:{m + 1}", "summaries", f"Summary: {module.title}", call, m, lesson_keys
    )


def _metadata_unit(ctx: PlanContext, every_lesson: tuple[str, ...]) -> Unit:
    """The catalogue entry describes the course as written, so it waits for every lesson."""
    outline = ctx.approved_outline()
    call = _call(
        ctx,
        drafts.CourseMetadataDraft,
        lambda: prompts.course_metadata(outline),
        "simple",
        "metadata",
    )
    return Unit("metadata", "summaries", "Course description and tags", call, needs=every_lesson)


def _call(
    ctx: PlanContext,
    shape: type[BaseModel],
    messages: Callable[[], list[ChatMessage]],
    tier: Tier,
    key: str,
) -> Run:
    """The prompt is built when the unit runs, so it can read the results it needs."""

    async def run() -> UnitResult:
        return await ctx.llm.generate(shape, messages(), tier=tier, unit=key)

    return run
