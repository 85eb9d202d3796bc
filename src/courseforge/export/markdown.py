"""A course as one Markdown document: readable on its own, and the source of the HTML export."""

from __future__ import annotations

from courseforge.domain.course import Course, Lesson, Module, Question


def course_to_markdown(course: Course) -> str:
    parts = [
        f"# {course.title}",
        course.description,
        _facts(course),
        _bullets("Learning objectives", course.learning_objectives),
    ]
    if course.prerequisites:
        parts.append(_bullets("Prerequisites", course.prerequisites))
    for number, module in enumerate(course.modules, start=1):
        parts.append(_module(number, module))
    return "\n\n".join(part for part in parts if part).rstrip() + "\n"


def _facts(course: Course) -> str:
    tags = ", ".join(course.tags) if course.tags else "—"
    return (
        f"- **Audience:** {course.audience}\n- **Level:** {course.level}\n"
        f"- **Language:** {course.language}\n- **Estimated time:** {course.estimated_hours:g} h\n"
        f"- **Tags:** {tags}"
    )


def _bullets(heading: str, items: list[str], level: int = 2) -> str:
    return f"{'#' * level} {heading}\n\n" + "\n".join(f"- {item}" for item in items)


def _module(number: int, module: Module) -> str:
    parts = [f"## Module {number}: {module.title}", module.summary]
    parts.append(_bullets("Objectives", module.learning_objectives, level=3))
    if module.source_topics:
        parts.append(_bullets("Source topics", module.source_topics, level=3))
    for index, lesson in enumerate(module.lessons, start=1):
        parts.append(_lesson(f"{number}.{index}", lesson))
    parts.append(f"### Quiz: {module.title}")
    parts.extend(_question(i, q) for i, q in enumerate(module.assessment.questions, start=1))
    return "\n\n".join(parts)


def _lesson(number: str, lesson: Lesson) -> str:
    parts = [
        f"### Lesson {number}: {lesson.title}",
        _bullets("Objectives", lesson.objectives, level=4),
        _demote_headings(lesson.content_markdown),
        _bullets("Key points", lesson.key_points, level=4),
    ]
    if lesson.brain_bytes:
        parts.append(_bullets("Brain bytes", lesson.brain_bytes, level=4))
    for task in lesson.tasks:
        criteria = "\n".join(f"  - {c}" for c in task.success_criteria)
        parts.append(
            f"#### Task ({task.type}, {task.estimated_minutes} min): {task.title}\n\n"
            f"{task.instructions}\n\nSuccess criteria:\n\n{criteria}"
        )
    return "\n\n".join(parts)


def _question(number: int, question: Question) -> str:
    lines = [f"**Q{number}.** {question.prompt}"]
    if question.options:
        lines += [f"{chr(65 + i)}. {option}" for i, option in enumerate(question.options)]
        assert question.answer_index is not None  # guaranteed by Question's validator
        answer = f"{chr(65 + question.answer_index)}. {question.options[question.answer_index]}"
    else:
        answer = question.answer or ""
    lines.append(f"*Answer:* {answer} — {question.explanation} *(checks: {question.objective})*")
    return "\n\n".join(lines)


def _demote_headings(markdown: str) -> str:
    """Lesson bodies are nested under a level-3 heading, so their own headings start at 5."""
    out = []
    for line in markdown.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("#"):
            hashes = len(stripped) - len(stripped.lstrip("#"))
            line = "#" * min(hashes + 4, 6) + stripped[hashes:]
        out.append(line)
    return "\n".join(out)
