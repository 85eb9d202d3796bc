"""Structural quality checks of a finished course; each yields a score in [0, 1].

These run without an LLM: structure, objective↔assessment coverage, answer keys,
duplicates and reading level. Scores and the findings behind them are stored with
each course version.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from courseforge.domain.course import Course, Level
from courseforge.domain.text import find_duplicates

MIN_LESSON_WORDS = 40
GRADE_CEILING: dict[Level, float] = {"beginner": 10.0, "intermediate": 13.0, "advanced": 17.0}
_SENTENCE = re.compile(r"[.!?]+")
_WORD = re.compile(r"[A-Za-z]+")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")


@dataclass
class QualityReport:
    scores: dict[str, float] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)

    @property
    def overall(self) -> float:
        return round(sum(self.scores.values()) / len(self.scores), 3) if self.scores else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"overall": self.overall, **asdict(self)}


def evaluate(course: Course) -> QualityReport:
    report = QualityReport()
    for check in (_structure, _objective_coverage, _answer_keys, _duplicates, _reading_level):
        name, score, findings = check(course)
        report.scores[name] = round(score, 3)
        report.findings.extend(findings)
    return report


def _structure(course: Course) -> tuple[str, float, list[str]]:
    lessons = [(m, lesson) for m in course.modules for lesson in m.lessons]
    thin = [
        f"lesson {lesson.title!r} has {len(lesson.content_markdown.split())} words"
        for _, lesson in lessons
        if len(lesson.content_markdown.split()) < MIN_LESSON_WORDS
    ]
    no_tasks = [
        f"lesson {lesson.title!r} has no tasks" for _, lesson in lessons if not lesson.tasks
    ]
    problems = thin + no_tasks
    return "structure", 1 - len(problems) / (2 * len(lessons)), problems


def _objective_coverage(course: Course) -> tuple[str, float, list[str]]:
    total, uncovered = 0, []
    for module in course.modules:
        checked = {q.objective for q in module.assessment.questions}
        for objective in module.learning_objectives:
            total += 1
            if objective not in checked:
                uncovered.append(f"objective {objective!r} of {module.title!r} is not assessed")
    return "objective_coverage", 1 - len(uncovered) / total, uncovered


def _answer_keys(course: Course) -> tuple[str, float, list[str]]:
    questions = [q for m in course.modules for q in m.assessment.questions]
    weak = [
        f"question {q.prompt[:60]!r}: the explanation repeats the prompt"
        for q in questions
        if q.explanation.strip().casefold() == q.prompt.strip().casefold()
    ]
    return "answer_keys", 1 - len(weak) / len(questions), weak


def _duplicates(course: Course) -> tuple[str, float, list[str]]:
    lessons = [lesson for m in course.modules for lesson in m.lessons]
    pools = {
        "lesson title": [lesson.title for lesson in lessons],
        "question": [q.prompt for m in course.modules for q in m.assessment.questions],
        "brain byte": [b for lesson in lessons for b in lesson.brain_bytes],
        "task title": [t.title for lesson in lessons for t in lesson.tasks],
    }
    size = sum(len(texts) for texts in pools.values())
    repeats = [
        f"repeated {kind}: {text[:60]!r}"
        for kind, texts in pools.items()
        for text in find_duplicates(texts)
    ]
    return "duplicates", 1 - len(repeats) / max(size, 1), repeats


def _reading_level(course: Course) -> tuple[str, float, list[str]]:
    text = " ".join(lesson.content_markdown for m in course.modules for lesson in m.lessons)
    grade = flesch_kincaid_grade(text)
    ceiling = GRADE_CEILING[course.level]
    if grade <= ceiling:
        return "reading_level", 1.0, []
    score = max(0.0, 1 - (grade - ceiling) / 10)
    return (
        "reading_level",
        score,
        [f"reading grade {grade:.1f} is above {ceiling:g} for {course.level}"],
    )


def flesch_kincaid_grade(text: str) -> float:
    words = _WORD.findall(text)
    if not words:
        return 0.0
    sentences = max(1, len([s for s in _SENTENCE.split(text) if s.strip()]))
    syllables = sum(_syllables(word) for word in words)
    return 0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59


@functools.lru_cache(maxsize=8192)
def _syllables(word: str) -> int:
    lowered = word.casefold()
    groups = len(_VOWEL_GROUP.findall(lowered))
    return max(1, groups - (1 if lowered.endswith("e") and groups > 1 else 0))
