"""The shapes the LLM answers in, one per unit of work.

Each is built so that a grammar-constrained decoder can enforce most of it by itself:
counts are exact (minItems = maxItems), choices are enums, an answer is the index of
an option and an objective is the index of the module's objective, never free text
to be matched. The factories bake the requested counts into the schema.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from courseforge.domain.course import TRUE_FALSE_OPTIONS, Question, Task, TaskType
from courseforge.domain.outline import SourceTopic
from courseforge.domain.text import Markdown, Paragraph, Phrase, Snippet, Title, require_unique

MINUTE_CHOICES = Literal[5, 10, 15, 20, 30, 45, 60, 90, 120]


class Draft(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _exactly(item: Any, count: int) -> Any:
    return Annotated[list[item], Field(min_length=count, max_length=count)]


def _index_below(count: int) -> Any:
    return Literal.__getitem__(tuple(range(count)))


# --- source material -------------------------------------------------------


class SourceTopicsDraft(Draft):
    topics: list[SourceTopic] = Field(min_length=1, max_length=8)

    @model_validator(mode="after")
    def _distinct(self) -> SourceTopicsDraft:
        require_unique([topic.name for topic in self.topics], "topic names")
        return self


# --- outline ---------------------------------------------------------------


class LessonOutlineDraft(Draft):
    title: Title
    objectives: list[Phrase] = Field(min_length=1, max_length=3)


class ModuleOutlineDraft(Draft):
    title: Title
    summary: Paragraph
    learning_objectives: list[Phrase] = Field(min_length=2, max_length=4)
    lessons: list[LessonOutlineDraft]
    source_topic_indexes: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct(self) -> ModuleOutlineDraft:
        require_unique([lesson.title for lesson in self.lessons], "lesson titles within a module")
        require_unique(self.learning_objectives, "learning objectives of a module")
        return self


class OutlineDraft(Draft):
    title: Title
    description: Paragraph
    learning_objectives: list[Phrase] = Field(min_length=2, max_length=6)
    modules: list[ModuleOutlineDraft]

    @model_validator(mode="after")
    def _distinct(self) -> OutlineDraft:
        require_unique([module.title for module in self.modules], "module titles")
        return self


@cache
def outline_draft(modules: int, lessons: int, source_topics: int = 0) -> type[OutlineDraft]:
    """An outline with exactly `modules` × `lessons`; each module cites source topics by index."""
    lesson_list = _exactly(LessonOutlineDraft, lessons)
    cited: Any = (list[int], Field(default_factory=list, max_length=0))
    if source_topics:
        index: Any = _index_below(source_topics)
        cited = (Annotated[list[index], Field(min_length=1, max_length=source_topics)], ...)
    module = create_model(
        f"ModuleOutline_{lessons}_{source_topics}",
        __base__=ModuleOutlineDraft,
        lessons=(lesson_list, ...),
        source_topic_indexes=cited,
    )
    return create_model(
        f"Outline_{modules}x{lessons}_{source_topics}",
        __base__=OutlineDraft,
        modules=(_exactly(module, modules), ...),
    )


# --- lessons, tasks, brain bytes ---------------------------------------------


class LessonDraft(Draft):
    content_markdown: Markdown
    key_points: list[Phrase] = Field(min_length=2, max_length=5)


class TaskDraft(Draft):
    title: Title
    type: TaskType
    instructions: Paragraph
    estimated_minutes: MINUTE_CHOICES
    success_criteria: list[Phrase] = Field(min_length=1, max_length=4)

    def to_task(self) -> Task:
        return Task.model_validate(self.model_dump())


class TaskSetDraft(Draft):
    tasks: list[TaskDraft]

    @model_validator(mode="after")
    def _distinct(self) -> TaskSetDraft:
        require_unique([task.title for task in self.tasks], "task titles")
        return self


@cache
def task_set_draft(count: int) -> type[TaskSetDraft]:
    return create_model(
        f"TaskSet_{count}", __base__=TaskSetDraft, tasks=(_exactly(TaskDraft, count), ...)
    )


class BrainBytesDraft(Draft):
    brain_bytes: list[Snippet] = Field(min_length=2, max_length=3)

    @model_validator(mode="after")
    def _distinct(self) -> BrainBytesDraft:
        require_unique(self.brain_bytes, "brain bytes")
        return self


# --- quizzes ---------------------------------------------------------------


class MultipleChoiceDraft(Draft):
    type: Literal["multiple_choice"]
    prompt: Paragraph
    options: list[Phrase] = Field(min_length=4, max_length=4)
    answer_index: Literal[0, 1, 2, 3]
    explanation: Paragraph
    objective_index: int

    @model_validator(mode="after")
    def _distinct(self) -> MultipleChoiceDraft:
        require_unique(self.options, "options")
        return self

    def to_question(self, objectives: list[str]) -> Question:
        return Question(
            type="multiple_choice",
            prompt=self.prompt,
            options=list(self.options),
            answer_index=self.answer_index,
            explanation=self.explanation,
            objective=objectives[self.objective_index],
        )


class TrueFalseDraft(Draft):
    type: Literal["true_false"]
    prompt: Paragraph = Field(description="a statement that is either true or false")
    is_true: bool
    explanation: Paragraph
    objective_index: int

    def to_question(self, objectives: list[str]) -> Question:
        return Question(
            type="true_false",
            prompt=self.prompt,
            options=list(TRUE_FALSE_OPTIONS),
            answer_index=0 if self.is_true else 1,
            explanation=self.explanation,
            objective=objectives[self.objective_index],
        )


class ShortAnswerDraft(Draft):
    type: Literal["short_answer"]
    prompt: Paragraph
    answer: Paragraph
    explanation: Paragraph
    objective_index: int

    def to_question(self, objectives: list[str]) -> Question:
        return Question(
            type="short_answer",
            prompt=self.prompt,
            answer=self.answer,
            explanation=self.explanation,
            objective=objectives[self.objective_index],
        )


QuestionDraft = Union[MultipleChoiceDraft, TrueFalseDraft, ShortAnswerDraft]  # noqa: UP007


class QuizDraft(Draft):
    questions: list[Any]

    @model_validator(mode="after")
    def _distinct(self) -> QuizDraft:
        require_unique([q.prompt for q in self.questions], "question prompts")
        return self

    def to_questions(self, objectives: list[str]) -> list[Question]:
        return [q.to_question(objectives) for q in self.questions]


@cache
def quiz_draft(questions: int, objectives: int) -> type[QuizDraft]:
    """A quiz of exactly `questions`, each pointing at one of `objectives` by index."""
    index = (_index_below(objectives), ...)
    kinds = tuple(
        create_model(f"{kind.__name__}_{objectives}", __base__=kind, objective_index=index)
        for kind in (MultipleChoiceDraft, TrueFalseDraft, ShortAnswerDraft)
    )
    one_of: Any = Union.__getitem__(kinds)
    question: Any = Annotated[one_of, Field(discriminator="type")]
    return create_model(
        f"Quiz_{questions}_{objectives}",
        __base__=QuizDraft,
        questions=(_exactly(question, questions), ...),
    )


# --- summaries (cheap tier) ------------------------------------------------------


class CourseMetadataDraft(Draft):
    description: Paragraph
    prerequisites: list[Phrase] = Field(min_length=0, max_length=5)
    tags: list[Phrase] = Field(min_length=1, max_length=6)


class ModuleSummaryDraft(Draft):
    summary: Paragraph
