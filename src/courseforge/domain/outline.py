"""What a user asks for, and the outline they approve (and may edit) before generation."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from courseforge.domain.course import LanguageTag, Level
from courseforge.domain.text import Paragraph, Phrase, Title, printable, require_unique

MAX_SOURCE_CHARS = 60_000
MAX_MODULES, MAX_LESSONS_PER_MODULE = 12, 8
MAX_TASKS_PER_LESSON, MAX_QUESTIONS_PER_QUIZ = 6, 12
MAX_PRIORITY = 10  # a course job's priority runs 0..MAX_PRIORITY, higher first


class CourseRequest(BaseModel):
    """The user's brief: a topic, or source material, and the course's shape."""

    # Strict: a person's `"modules": true` is a mistake to report, not a 1 to guess.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    topic: Title
    audience: Phrase = "curious adults new to the subject"
    level: Level = "beginner"
    language: LanguageTag = "en"
    modules: int = Field(default=5, ge=1, le=MAX_MODULES)
    lessons_per_module: int = Field(default=3, ge=1, le=MAX_LESSONS_PER_MODULE)
    tasks_per_lesson: int = Field(default=3, ge=1, le=MAX_TASKS_PER_LESSON)
    questions_per_quiz: int = Field(default=4, ge=1, le=MAX_QUESTIONS_PER_QUIZ)
    source_material: Annotated[str, AfterValidator(printable)] | None = Field(
        default=None,
        max_length=MAX_SOURCE_CHARS,
        json_schema_extra={"pattern": r"\S"},  # declares _source_not_blank
    )

    @model_validator(mode="after")
    def _source_not_blank(self) -> CourseRequest:
        if self.source_material is not None and not self.source_material.strip():
            raise ValueError("source_material is empty; leave it out or give some text")
        return self


MAX_OUTLINE_CANDIDATES = 3


class OutlineRequest(CourseRequest):
    """A brief for outline drafting: how many alternative outlines to propose to pick from."""

    candidates: int = Field(default=2, ge=1, le=MAX_OUTLINE_CANDIDATES)

    def brief(self) -> CourseRequest:
        """The brief alone, as a course job takes it."""
        return CourseRequest.model_validate(self.model_dump(exclude={"candidates"}))


class SourceTopic(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Phrase
    summary: Paragraph


class LessonOutline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    objectives: list[Phrase] = Field(min_length=1, max_length=4)


class ModuleOutline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    summary: Paragraph
    learning_objectives: list[Phrase] = Field(min_length=1, max_length=6)
    lessons: list[LessonOutline] = Field(min_length=1, max_length=MAX_LESSONS_PER_MODULE)
    source_topics: list[Phrase] = Field(default_factory=list, max_length=12)

    @model_validator(mode="after")
    def _distinct(self) -> ModuleOutline:
        require_unique([lesson.title for lesson in self.lessons], "lesson titles within a module")
        require_unique(self.learning_objectives, "learning objectives of a module")
        return self


class CourseOutline(BaseModel):
    """The approved plan. Generation fills it in; it never changes its titles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    description: Paragraph
    audience: Phrase
    level: Level
    language: LanguageTag = "en"
    learning_objectives: list[Phrase] = Field(min_length=1, max_length=10)
    modules: list[ModuleOutline] = Field(min_length=1, max_length=MAX_MODULES)

    @model_validator(mode="after")
    def _distinct_modules(self) -> CourseOutline:
        require_unique([module.title for module in self.modules], "module titles")
        require_unique(self.learning_objectives, "course learning objectives")
        return self


def course_brief(
    outline: CourseOutline,
    drafted_from: OutlineRequest | None,
    *,
    tasks_per_lesson: int,
    questions_per_quiz: int,
) -> CourseRequest:
    """The brief of a course job for an approved outline: the outline job's brief when it
    came from one (it may hold source material), else one made from the outline itself;
    shaped like the (possibly edited) outline either way."""
    base: dict[str, Any] = (
        drafted_from.brief().model_dump() if drafted_from else {"topic": outline.title}
    )
    base.update(
        audience=outline.audience,
        level=outline.level,
        language=outline.language,
        modules=len(outline.modules),
        lessons_per_module=max(len(module.lessons) for module in outline.modules),
        tasks_per_lesson=tasks_per_lesson,
        questions_per_quiz=questions_per_quiz,
    )
    return CourseRequest.model_validate(base)
