"""Turning checkpointed drafts into an outline and then into the validated course."""

from __future__ import annotations

import math
from typing import Any

from courseforge.domain import drafts
from courseforge.domain.course import Assessment, Course, Lesson, Module
from courseforge.domain.outline import (
    CourseOutline,
    CourseRequest,
    LessonOutline,
    ModuleOutline,
    SourceTopic,
)
from courseforge.domain.text import slugify
from courseforge.pipeline.units import lesson_key

READING_WORDS_PER_MINUTE = 200
MINUTES_PER_QUESTION = 2


def source_topics_of(results: dict[str, Any]) -> list[SourceTopic]:
    found = results.get("source_topics")
    return drafts.SourceTopicsDraft.model_validate(found).topics if found else []


def outline_from_draft(
    draft: drafts.OutlineDraft, request: CourseRequest, topics: list[SourceTopic]
) -> CourseOutline:
    return CourseOutline(
        title=draft.title,
        description=draft.description,
        audience=request.audience,
        level=request.level,
        language=request.language,
        learning_objectives=list(draft.learning_objectives),
        modules=[
            ModuleOutline(
                title=module.title,
                summary=module.summary,
                learning_objectives=list(module.learning_objectives),
                lessons=[
                    LessonOutline(title=lesson.title, objectives=list(lesson.objectives))
                    for lesson in module.lessons
                ],
                source_topics=[topics[i].name for i in module.source_topic_indexes],
            )
            for module in draft.modules
        ],
    )


def assemble_course(outline: CourseOutline, results: dict[str, Any]) -> Course:
    metadata = drafts.CourseMetadataDraft.model_validate(results["metadata"])
    modules = [_module(outline, m, results) for m in range(len(outline.modules))]
    return Course(
        title=outline.title,
        slug=slugify(outline.title),
        description=metadata.description,
        audience=outline.audience,
        level=outline.level,
        language=outline.language,
        estimated_hours=_estimated_hours(modules),
        prerequisites=list(metadata.prerequisites),
        learning_objectives=list(outline.learning_objectives),
        tags=list(metadata.tags),
        modules=modules,
    )


def _module(outline: CourseOutline, m: int, results: dict[str, Any]) -> Module:
    plan = outline.modules[m]
    stored_quiz = results[f"quiz:{m + 1}"]
    quiz_shape = drafts.quiz_draft(len(stored_quiz["questions"]), len(plan.learning_objectives))
    quiz = quiz_shape.model_validate(stored_quiz)
    summary = drafts.ModuleSummaryDraft.model_validate(results[f"module_summary:{m + 1}"])
    return Module(
        title=plan.title,
        summary=summary.summary,
        learning_objectives=list(plan.learning_objectives),
        source_topics=list(plan.source_topics),
        lessons=[_lesson(plan, m, i, results) for i in range(len(plan.lessons))],
        assessment=Assessment(questions=quiz.to_questions(list(plan.learning_objectives))),
    )


def _lesson(plan: ModuleOutline, m: int, i: int, results: dict[str, Any]) -> Lesson:
    key = lesson_key(m, i)
    body = drafts.LessonDraft.model_validate(results[f"lesson:{key}"])
    tasks = results[f"tasks:{key}"]["tasks"]
    task_set = drafts.task_set_draft(len(tasks)).model_validate(results[f"tasks:{key}"])
    snippets = drafts.BrainBytesDraft.model_validate(results[f"brain_bytes:{key}"])
    return Lesson(
        title=plan.lessons[i].title,
        objectives=list(plan.lessons[i].objectives),
        content_markdown=body.content_markdown,
        key_points=list(body.key_points),
        brain_bytes=list(snippets.brain_bytes),
        tasks=[task.to_task() for task in task_set.tasks],
    )


def _estimated_hours(modules: list[Module]) -> float:
    """Reading time + task time + quiz time, rounded up to the half hour."""
    minutes = 0.0
    for module in modules:
        minutes += MINUTES_PER_QUESTION * len(module.assessment.questions)
        for lesson in module.lessons:
            minutes += len(lesson.content_markdown.split()) / READING_WORDS_PER_MINUTE
            minutes += sum(task.estimated_minutes for task in lesson.tasks)
    return max(0.5, math.ceil(minutes / 30) / 2)
