"""The finished course: what is stored, published and exported.

Every cross-reference is checked here (answer keys, objectives a question checks,
duplicate titles), so no invalid course can be built, whatever produced its parts.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from courseforge.domain.text import Markdown, Paragraph, Phrase, Snippet, Title, require_unique

Level = Literal["beginner", "intermediate", "advanced"]
TaskType = Literal["exercise", "reflection", "project", "discussion"]
QuestionType = Literal["multiple_choice", "true_false", "short_answer"]

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")]
TRUE_FALSE_OPTIONS = ["True", "False"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Task(_Strict):
    title: Title
    type: TaskType
    instructions: Paragraph
    estimated_minutes: int = Field(ge=1, le=600)
    success_criteria: list[Phrase] = Field(min_length=1, max_length=8)


class Lesson(_Strict):
    title: Title
    objectives: list[Phrase] = Field(min_length=1, max_length=8)
    content_markdown: Markdown
    key_points: list[Phrase] = Field(min_length=1, max_length=10)
    brain_bytes: list[Snippet] = Field(default_factory=list, max_length=10)
    tasks: list[Task] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _distinct_tasks(self) -> Lesson:
        require_unique([task.title for task in self.tasks], "task titles within a lesson")
        return self


class Question(_Strict):
    type: QuestionType
    prompt: Paragraph
    options: list[Phrase] = Field(default_factory=list, max_length=6)
    answer_index: int | None = None
    answer: Paragraph | None = None
    explanation: Paragraph
    objective: Phrase

    @model_validator(mode="after")
    def _answer_matches_type(self) -> Question:
        if self.type == "short_answer":
            if self.options or self.answer_index is not None:
                raise ValueError("a short_answer question has no options and no answer_index")
            if self.answer is None:
                raise ValueError("a short_answer question needs a model answer")
            return self
        if self.type == "true_false" and self.options != TRUE_FALSE_OPTIONS:
            raise ValueError(f"a true_false question has exactly the options {TRUE_FALSE_OPTIONS}")
        if self.type == "multiple_choice" and not 3 <= len(self.options) <= 6:
            raise ValueError("a multiple_choice question has 3 to 6 options")
        require_unique(self.options, "options")
        if self.answer_index is None or not 0 <= self.answer_index < len(self.options):
            raise ValueError(
                f"answer_index must point at one of the {len(self.options)} options "
                f"(0..{len(self.options) - 1}), got {self.answer_index}"
            )
        return self


class Assessment(_Strict):
    questions: list[Question] = Field(min_length=1, max_length=30)

    @model_validator(mode="after")
    def _distinct_prompts(self) -> Assessment:
        require_unique([q.prompt for q in self.questions], "question prompts")
        return self


class Module(_Strict):
    title: Title
    summary: Paragraph
    learning_objectives: list[Phrase] = Field(min_length=1, max_length=8)
    source_topics: list[Phrase] = Field(default_factory=list, max_length=12)
    lessons: list[Lesson] = Field(min_length=1, max_length=12)
    assessment: Assessment

    @model_validator(mode="after")
    def _cross_references(self) -> Module:
        require_unique(self.learning_objectives, "learning objectives of a module")
        require_unique([lesson.title for lesson in self.lessons], "lesson titles within a module")
        unknown = [
            q.objective
            for q in self.assessment.questions
            if q.objective not in self.learning_objectives
        ]
        if unknown:
            raise ValueError(
                f"questions check objectives the module does not have: {unknown!r}; "
                f"the module's objectives are {self.learning_objectives!r}"
            )
        return self


class Course(_Strict):
    title: Title
    slug: Slug
    description: Paragraph
    audience: Phrase
    level: Level
    language: LanguageTag = "en"
    estimated_hours: float = Field(gt=0, le=1000)
    prerequisites: list[Phrase] = Field(default_factory=list, max_length=10)
    learning_objectives: list[Phrase] = Field(min_length=1, max_length=12)
    tags: list[Phrase] = Field(default_factory=list, max_length=12)
    modules: list[Module] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _distinct_modules(self) -> Course:
        require_unique([module.title for module in self.modules], "module titles")
        require_unique(self.learning_objectives, "course learning objectives")
        return self

    def counts(self) -> dict[str, int]:
        lessons = [lesson for module in self.modules for lesson in module.lessons]
        return {
            "modules": len(self.modules),
            "lessons": len(lessons),
            "tasks": sum(len(lesson.tasks) for lesson in lessons),
            "quizzes": len(self.modules),
            "questions": sum(len(m.assessment.questions) for m in self.modules),
        }
