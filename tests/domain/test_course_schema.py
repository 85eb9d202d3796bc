"""The schemas reject each class of bad LLM output, and say where the problem is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from courseforge.domain.course import Course, Lesson, Module, Question, Task
from courseforge.domain.drafts import (
    MultipleChoiceDraft,
    SourceTopicsDraft,
    TaskDraft,
    outline_draft,
    quiz_draft,
    task_set_draft,
)
from courseforge.domain.outline import CourseRequest
from courseforge.llm.schema_sample import sample_instance

OBJECTIVES = ["Explain photosynthesis", "Name the inputs of the light reactions"]
MARKDOWN = "## Light reactions\n\n" + "Chlorophyll absorbs light and splits water. " * 3


# --- valid building blocks; each test breaks exactly one thing ------------------------


def task(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Sketch the light reactions",
        "type": "exercise",
        "instructions": "Draw the thylakoid membrane and label where water is split.",
        "estimated_minutes": 20,
        "success_criteria": ["Water splitting is labelled"],
        **changes,
    }


def lesson(**changes: Any) -> dict[str, Any]:
    return {
        "title": "The light reactions",
        "objectives": ["Name the inputs of the light reactions"],
        "content_markdown": MARKDOWN,
        "key_points": ["Light splits water"],
        **changes,
    }


def multiple_choice(**changes: Any) -> dict[str, Any]:
    return {
        "type": "multiple_choice",
        "prompt": "Which gas do plants release during photosynthesis?",
        "options": ["Oxygen", "Nitrogen", "Carbon dioxide", "Helium"],
        "answer_index": 0,
        "explanation": "Splitting water releases oxygen as a by-product.",
        "objective": OBJECTIVES[0],
        **changes,
    }


def true_false(**changes: Any) -> dict[str, Any]:
    return {
        "type": "true_false",
        "prompt": "Photosynthesis happens in the mitochondria.",
        "options": ["True", "False"],
        "answer_index": 1,
        "explanation": "It happens in the chloroplasts.",
        "objective": OBJECTIVES[0],
        **changes,
    }


def short_answer(**changes: Any) -> dict[str, Any]:
    return {
        "type": "short_answer",
        "prompt": "What are the two inputs of the light reactions?",
        "answer": "Light and water are the inputs.",
        "explanation": "Light energy splits water molecules.",
        "objective": OBJECTIVES[1],
        **changes,
    }


def module(**changes: Any) -> dict[str, Any]:
    return {
        "title": "How plants make food",
        "summary": "Where the energy in food comes from, step by step.",
        "learning_objectives": list(OBJECTIVES),
        "lessons": [lesson(tasks=[task()])],
        "assessment": {"questions": [multiple_choice(), true_false(), short_answer()]},
        **changes,
    }


def course(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Photosynthesis basics",
        "slug": "photosynthesis-basics",
        "description": "A short course on how plants turn light into food.",
        "audience": "curious adults",
        "level": "beginner",
        "estimated_hours": 2.5,
        "learning_objectives": ["Explain photosynthesis"],
        "modules": [module()],
        **changes,
    }


def task_draft(title: str = "Sketch the light reactions", **changes: Any) -> dict[str, Any]:
    return task(title=title, **changes)


def rejection(model: type[BaseModel], data: Any) -> list[tuple[str, str]]:
    """The (location, message) of every problem the model reports for `data`."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [
        (".".join(str(part) for part in error["loc"]), error["msg"])
        for error in info.value.errors(include_url=False)
    ]


def assert_rejected(model: type[BaseModel], data: Any, loc: str, *fragments: str) -> None:
    problems = rejection(model, data)
    assert any(
        where == loc and all(fragment in message for fragment in fragments)
        for where, message in problems
    ), f"expected a problem at {loc!r} mentioning {fragments!r}, got {problems!r}"


# --- positive cases --------------------------------------------------------------------


def test_a_minimal_valid_course_builds() -> None:
    built = Course.model_validate(course())

    assert built.language == "en"
    assert built.counts() == {
        "modules": 1,
        "lessons": 1,
        "tasks": 1,
        "quizzes": 1,
        "questions": 3,
    }
    assert built.modules[0].assessment.questions[1].options == ["True", "False"]


def test_text_is_stored_stripped() -> None:
    built = Task.model_validate(task(title="   Sketch the light reactions \n"))

    assert built.title == "Sketch the light reactions"


def test_a_course_survives_a_json_round_trip() -> None:
    built = Course.model_validate(course())

    assert Course.model_validate_json(built.model_dump_json()) == built


def test_a_quiz_draft_converts_into_questions_a_module_accepts() -> None:
    draft_type = quiz_draft(3, len(OBJECTIVES))
    draft = draft_type.model_validate(
        sample_instance(draft_type.model_json_schema(), "photosynthesis")
    )

    questions = draft.to_questions(OBJECTIVES)
    built = Module.model_validate(
        module(assessment={"questions": [q.model_dump() for q in questions]})
    )

    assert {q.objective for q in built.assessment.questions} <= set(OBJECTIVES)


def test_a_valid_task_draft_becomes_a_task() -> None:
    draft = TaskDraft.model_validate(task_draft())

    assert draft.to_task() == Task.model_validate(task())


def test_course_request_accepts_absent_or_real_source_material() -> None:
    assert CourseRequest(topic="Photosynthesis").source_material is None
    request = CourseRequest(topic="Photosynthesis", source_material="Plants use light.")
    assert request.source_material == "Plants use light."


# --- bad text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "loc", "fragment"),
    [
        pytest.param(Task, task(title=""), "title", "at least 3 characters", id="empty-title"),
        pytest.param(
            Task, task(title=" \t\n  "), "title", "at least 3 characters", id="whitespace-title"
        ),
        pytest.param(
            Task,
            task(title="?!...--"),
            "title",
            "must contain letters or digits",
            id="punctuation-title",
        ),
        pytest.param(
            Task, task(title="x" * 121), "title", "at most 120 characters", id="long-title"
        ),
        pytest.param(
            Task,
            task(success_criteria=[""]),
            "success_criteria.0",
            "at least 2 characters",
            id="empty-phrase",
        ),
        pytest.param(
            Task,
            task(success_criteria=["  !! ,, "]),
            "success_criteria.0",
            "must contain letters or digits",
            id="punctuation-phrase",
        ),
        pytest.param(
            Task,
            task(success_criteria=["y" * 201]),
            "success_criteria.0",
            "at most 200 characters",
            id="long-phrase",
        ),
        pytest.param(
            Task,
            task(instructions="          "),
            "instructions",
            "at least 10 characters",
            id="whitespace-paragraph",
        ),
        pytest.param(
            Task,
            task(instructions="z" * 1501),
            "instructions",
            "at most 1500 characters",
            id="long-paragraph",
        ),
        pytest.param(
            Lesson,
            lesson(content_markdown="## Short"),
            "content_markdown",
            "at least 80 characters",
            id="short-markdown",
        ),
        pytest.param(
            Lesson,
            lesson(content_markdown="#" * 20 + " " * 40 + "-" * 40),
            "content_markdown",
            "must contain letters or digits",
            id="punctuation-markdown",
        ),
        pytest.param(
            Lesson,
            lesson(brain_bytes=["b" * 401]),
            "brain_bytes.0",
            "at most 400 characters",
            id="long-snippet",
        ),
    ],
)
def test_bad_text_is_rejected_where_it_is(
    model: type[BaseModel], data: dict[str, Any], loc: str, fragment: str
) -> None:
    assert_rejected(model, data, loc, fragment)


# --- wrong counts ----------------------------------------------------------------------


def test_a_task_set_with_too_few_tasks_is_rejected() -> None:
    data = {"tasks": [task_draft("First task"), task_draft("Second task")]}

    assert_rejected(task_set_draft(3), data, "tasks", "at least 3 items", "not 2")


def test_a_task_set_with_too_many_tasks_is_rejected() -> None:
    data = {"tasks": [task_draft(f"Task number {i}") for i in range(4)]}

    assert_rejected(task_set_draft(3), data, "tasks", "at most 3 items")


def test_an_outline_module_with_too_few_lessons_is_rejected() -> None:
    draft_type = outline_draft(2, 3)
    data = sample_instance(draft_type.model_json_schema(), "photosynthesis")
    draft_type.model_validate(data)  # the sample itself is valid
    data["modules"][1]["lessons"] = data["modules"][1]["lessons"][:2]

    assert_rejected(draft_type, data, "modules.1.lessons", "at least 3 items", "not 2")


def test_an_outline_with_too_many_modules_is_rejected() -> None:
    draft_type = outline_draft(2, 3)
    data = sample_instance(outline_draft(3, 3).model_json_schema(), "photosynthesis")

    assert_rejected(draft_type, data, "modules", "at most 2 items")


def test_a_course_without_modules_is_rejected() -> None:
    assert_rejected(Course, course(modules=[]), "modules", "at least 1 item")


def test_a_lesson_with_too_many_key_points_is_rejected() -> None:
    data = lesson(key_points=[f"Key point {i}" for i in range(11)])

    assert_rejected(Lesson, data, "key_points", "at most 10 items")


# --- duplicates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "loc", "fragments"),
    [
        pytest.param(
            task_set_draft(2),
            {"tasks": [task_draft("Intro to X"), task_draft("intro to x!")]},
            "",
            ("task titles must be distinct", "'intro to x!'"),
            id="task-set-titles",
        ),
        pytest.param(
            Lesson,
            lesson(tasks=[task(title="Intro to X"), task(title="INTRO, to X.")]),
            "",
            ("task titles within a lesson must be distinct", "'INTRO, to X.'"),
            id="lesson-task-titles",
        ),
        pytest.param(
            Module,
            module(lessons=[lesson(title="Intro to X"), lesson(title="intro to x!")]),
            "",
            ("lesson titles within a module must be distinct", "'intro to x!'"),
            id="module-lesson-titles",
        ),
        pytest.param(
            Course,
            course(modules=[module(title="Intro to X"), module(title="Intro to x?")]),
            "",
            ("module titles must be distinct", "'Intro to x?'"),
            id="course-module-titles",
        ),
        pytest.param(
            SourceTopicsDraft,
            {
                "topics": [
                    {"name": "Light reactions", "summary": "Light splits water molecules."},
                    {"name": "light-reactions", "summary": "The same topic named twice."},
                ]
            },
            "",
            ("topic names must be distinct", "'light-reactions'"),
            id="source-topic-names",
        ),
        pytest.param(
            Question,
            multiple_choice(options=["Oxygen", "Nitrogen", "oxygen!", "Helium"]),
            "",
            ("options must be distinct", "'oxygen!'"),
            id="question-options",
        ),
        pytest.param(
            MultipleChoiceDraft,
            {
                "type": "multiple_choice",
                "prompt": "Which gas do plants release?",
                "options": ["Oxygen", "Nitrogen", "Helium", "OXYGEN"],
                "answer_index": 0,
                "explanation": "Splitting water releases oxygen.",
                "objective_index": 0,
            },
            "",
            ("options must be distinct", "'OXYGEN'"),
            id="draft-options",
        ),
        pytest.param(
            Module,
            module(learning_objectives=["Explain photosynthesis", "explain photosynthesis."]),
            "",
            ("learning objectives of a module must be distinct",),
            id="module-objectives",
        ),
    ],
)
def test_duplicates_are_rejected_case_and_punctuation_blind(
    model: type[BaseModel], data: dict[str, Any], loc: str, fragments: tuple[str, ...]
) -> None:
    assert_rejected(model, data, loc, *fragments)


def test_titles_that_only_look_alike_are_not_duplicates() -> None:
    data = {"tasks": [task_draft("Intro to X"), task_draft("Intro to XY")]}

    assert len(task_set_draft(2).model_validate(data).tasks) == 2


# --- questions -------------------------------------------------------------------------


@pytest.mark.parametrize("answer_index", [4, -1, None])
def test_multiple_choice_answer_index_must_point_at_an_option(answer_index: int | None) -> None:
    assert_rejected(
        Question,
        multiple_choice(answer_index=answer_index),
        "",
        "answer_index must point at one of the 4 options (0..3)",
        f"got {answer_index}",
    )


@pytest.mark.parametrize(
    ("count", "loc", "fragment"),
    [(2, "", "3 to 6 options"), (7, "options", "at most 6 items")],
)
def test_multiple_choice_needs_three_to_six_options(count: int, loc: str, fragment: str) -> None:
    options = [f"Option {i}" for i in range(count)]

    assert_rejected(Question, multiple_choice(options=options), loc, fragment)


@pytest.mark.parametrize(
    "options",
    [["Yes", "No"], ["False", "True"], ["True", "False", "Maybe"], []],
    ids=["yes-no", "reversed", "three", "none"],
)
def test_true_false_has_exactly_true_and_false(options: list[str]) -> None:
    assert_rejected(
        Question, true_false(options=options), "", "true_false question has exactly the options"
    )


def test_true_false_answer_index_must_be_zero_or_one() -> None:
    assert_rejected(Question, true_false(answer_index=2), "", "answer_index", "got 2")


@pytest.mark.parametrize(
    "changes",
    [{"options": ["Light", "Water", "Air"]}, {"answer_index": 0}],
    ids=["options", "answer_index"],
)
def test_short_answer_has_no_options(changes: dict[str, Any]) -> None:
    assert_rejected(Question, short_answer(**changes), "", "short_answer question has no options")


def test_short_answer_needs_a_model_answer() -> None:
    data = short_answer()
    del data["answer"]

    assert_rejected(Question, data, "", "short_answer question needs a model answer")


def test_a_question_must_check_one_of_the_modules_objectives() -> None:
    stray = multiple_choice(objective="Explain osmosis")
    data = module(assessment={"questions": [stray, true_false()]})

    assert_rejected(Module, data, "", "objectives the module does not have", "'Explain osmosis'")


def test_a_course_reports_the_module_whose_question_is_off_objective() -> None:
    bad = module(
        title="A second module",
        assessment={"questions": [short_answer(objective="Explain osmosis")]},
    )

    assert_rejected(
        Course,
        course(modules=[module(), bad]),
        "modules.1",
        "objectives the module does not have",
    )


@pytest.mark.parametrize("kind", ["multiple_choice", "true_false", "short_answer"])
def test_a_quiz_draft_objective_index_must_be_below_the_objective_count(kind: str) -> None:
    draft_type = quiz_draft(2, 3)
    data = sample_instance(draft_type.model_json_schema(), "photosynthesis")
    draft_type.model_validate(data)  # the sample itself is valid
    data["questions"][1] = {**_question_of_kind(kind), "objective_index": 3}

    assert_rejected(
        draft_type, data, f"questions.1.{kind}.objective_index", "Input should be 0, 1 or 2"
    )


def _question_of_kind(kind: str) -> dict[str, Any]:
    common = {
        "type": kind,
        "prompt": f"A {kind.replace('_', ' ')} question about light?",
        "explanation": "Because light splits water.",
        "objective_index": 0,
    }
    if kind == "multiple_choice":
        return {**common, "options": ["Oxygen", "Nitrogen", "Argon", "Helium"], "answer_index": 0}
    if kind == "true_false":
        return {**common, "is_true": True}
    return {**common, "answer": "Oxygen is released."}


def test_a_valid_quiz_draft_question_of_each_kind_is_accepted() -> None:
    data = {
        "questions": [
            _question_of_kind(k) for k in ("multiple_choice", "true_false", "short_answer")
        ]
    }

    draft = quiz_draft(3, 1).model_validate(data)

    assert [q.type for q in draft.questions] == ["multiple_choice", "true_false", "short_answer"]


# --- enums, extra fields, choices, patterns ----------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "loc", "fragment"),
    [
        pytest.param(
            Course,
            course(level="expert"),
            "level",
            "'beginner', 'intermediate' or 'advanced'",
            id="level",
        ),
        pytest.param(
            Task,
            task(type="homework"),
            "type",
            "'exercise', 'reflection', 'project' or 'discussion'",
            id="task-type",
        ),
        pytest.param(
            TaskDraft,
            task_draft(type="Exercise"),
            "type",
            "'exercise', 'reflection', 'project' or 'discussion'",
            id="task-draft-type-case",
        ),
        pytest.param(
            Question,
            multiple_choice(type="essay"),
            "type",
            "'multiple_choice', 'true_false' or 'short_answer'",
            id="question-type",
        ),
        pytest.param(
            quiz_draft(1, 1),
            {"questions": [{**_question_of_kind("short_answer"), "type": "essay"}]},
            "questions.0",
            "'essay'",
            id="quiz-draft-question-type",
        ),
        pytest.param(
            CourseRequest,
            {"topic": "Photosynthesis", "level": "Beginner"},
            "level",
            "'beginner', 'intermediate' or 'advanced'",
            id="request-level",
        ),
    ],
)
def test_unknown_enum_values_are_rejected(
    model: type[BaseModel], data: dict[str, Any], loc: str, fragment: str
) -> None:
    assert_rejected(model, data, loc, fragment)


@pytest.mark.parametrize(
    ("model", "data", "loc"),
    [
        pytest.param(Course, course(author="Someone"), "author", id="course"),
        pytest.param(TaskDraft, task_draft(difficulty="hard"), "difficulty", id="task-draft"),
        pytest.param(Question, multiple_choice(hint="Think of air"), "hint", id="question"),
        pytest.param(
            task_set_draft(1),
            {"tasks": [task_draft()], "notes": "here are the tasks"},
            "notes",
            id="task-set",
        ),
        pytest.param(
            CourseRequest,
            {"topic": "Photosynthesis", "modules_count": 3},
            "modules_count",
            id="request",
        ),
    ],
)
def test_extra_fields_are_rejected(model: type[BaseModel], data: dict[str, Any], loc: str) -> None:
    assert_rejected(model, data, loc, "Extra inputs are not permitted")


@pytest.mark.parametrize("minutes", [0, 7, 25, 180])
def test_task_draft_minutes_must_be_one_of_the_choices(minutes: int) -> None:
    assert_rejected(
        TaskDraft, task_draft(estimated_minutes=minutes), "estimated_minutes", "5, 10, 15, 20"
    )


def test_a_finished_task_allows_minutes_a_draft_may_not_choose() -> None:
    assert Task.model_validate(task(estimated_minutes=25)).estimated_minutes == 25


@pytest.mark.parametrize(
    "slug",
    [
        "Photosynthesis",
        "photo--synthesis",
        "-photosynthesis",
        "photosynthesis-",
        "photo_synthesis",
        "photo synthesis",
        "",
    ],
)
def test_slug_must_match_the_pattern(slug: str) -> None:
    assert_rejected(Course, course(slug=slug), "slug", "should match pattern")


def test_slug_has_a_length_limit() -> None:
    assert_rejected(Course, course(slug="a" * 81), "slug", "at most 80 characters")


@pytest.mark.parametrize("source", ["", "   ", "\n\t \n"], ids=["empty", "spaces", "whitespace"])
def test_course_request_rejects_blank_source_material(source: str) -> None:
    assert_rejected(
        CourseRequest,
        {"topic": "Photosynthesis", "source_material": source},
        "",
        "source_material is empty",
    )


def test_answers_in_json_form_are_rejected_the_same_way() -> None:
    text = json.dumps({"tasks": [task_draft(title="!!")]})

    with pytest.raises(ValidationError) as info:
        task_set_draft(1).model_validate_json(text)

    assert info.value.errors()[0]["loc"] == ("tasks", 0, "title")
