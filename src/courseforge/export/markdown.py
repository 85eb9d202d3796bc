"""A course as one Markdown document: readable on its own, and the source of the HTML export.

It is inert (`markdown_safety.py`): every plain-text field is escaped, and raw HTML or a
script link that lesson Markdown holds is written as text.
"""

from __future__ import annotations

from courseforge.domain.course import Course, Lesson, Module, Question
from courseforge.export.exporter import Exporter
from courseforge.export.markdown_safety import escape_text as _text
from courseforge.export.markdown_safety import inert_markdown


def course_to_markdown(course: Course) -> str:
    parts = [
        f"# {_text(course.title)}",
        _text(course.description),
        _facts(course),
        _bullets("Learning objectives", course.learning_objectives),
    ]
    if course.prerequisites:
        parts.append(_bullets("Prerequisites", course.prerequisites))
    for number, module in enumerate(course.modules, start=1):
        parts.append(_module(number, module))
    document = "\n\n".join(part for part in parts if part).rstrip() + "\n"
    # The whole document at once: a link in one lesson may use a definition in another.
    return inert_markdown(document)


def _facts(course: Course) -> str:
    tags = ", ".join(_text(tag) for tag in course.tags) if course.tags else "—"
    return (
        f"- **Audience:** {_text(course.audience)}\n- **Level:** {course.level}\n"
        f"- **Language:** {course.language}\n- **Estimated time:** {course.estimated_hours:g} h\n"
        f"- **Tags:** {tags}"
    )


def _bullets(heading: str, items: list[str], level: int = 2) -> str:
    return f"{'#' * level} {heading}\n\n" + "\n".join(f"- {_text(item)}" for item in items)


def _module(number: int, module: Module) -> str:
    title = _text(module.title)
    parts = [f"## Module {number}: {title}", _text(module.summary)]
    parts.append(_bullets("Objectives", module.learning_objectives, level=3))
    if module.source_topics:
        parts.append(_bullets("Source topics", module.source_topics, level=3))
    for index, lesson in enumerate(module.lessons, start=1):
        parts.append(_lesson(f"{number}.{index}", lesson))
    parts.append(f"### Quiz: {title}")
    parts.extend(_question(i, q) for i, q in enumerate(module.assessment.questions, start=1))
    return "\n\n".join(parts)


def _lesson(number: str, lesson: Lesson) -> str:
    parts = [
        f"### Lesson {number}: {_text(lesson.title)}",
        _bullets("Objectives", lesson.objectives, level=4),
        _demote_headings(lesson.content_markdown),
        _bullets("Key points", lesson.key_points, level=4),
    ]
    if lesson.brain_bytes:
        parts.append(_bullets("Brain bytes", lesson.brain_bytes, level=4))
    for task in lesson.tasks:
        criteria = "\n".join(f"  - {_text(c)}" for c in task.success_criteria)
        parts.append(
            f"#### Task ({task.type}, {task.estimated_minutes} min): {_text(task.title)}\n\n"
            f"{_text(task.instructions)}\n\nSuccess criteria:\n\n{criteria}"
        )
    return "\n\n".join(parts)


def _question(number: int, question: Question) -> str:
    lines = [f"**Q{number}.** {_text(question.prompt)}"]
    options = [_text(option) for option in question.options]
    if options:
        lines += [f"{chr(65 + i)}. {option}" for i, option in enumerate(options)]
        assert question.answer_index is not None  # guaranteed by Question's validator
        answer = f"{chr(65 + question.answer_index)}. {options[question.answer_index]}"
    else:
        answer = _text(question.answer or "")
    lines.append(
        f"*Answer:* {answer} — {_text(question.explanation)} "
        f"*(checks: {_text(question.objective)})*"
    )
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


EXPORTER = Exporter(
    "markdown",
    "Markdown",
    "text/markdown; charset=utf-8",
    "md",
    lambda course: course_to_markdown(course).encode(),
)
