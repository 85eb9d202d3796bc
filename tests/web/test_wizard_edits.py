"""The outline editor's actions and the wizard's form parsing, without a server."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from courseforge.domain.outline import OutlineRequest
from courseforge.web.wizard_edits import apply_action
from courseforge.web.wizard_forms import (
    bounds,
    default_brief,
    field_label,
    field_name,
    outline_from_form,
    parse_brief,
)


def outline() -> dict[str, Any]:
    lesson = {"title": "", "objectives": []}
    modules = [
        {"title": title, "lessons": [{**lesson, "title": f"{title}.{n}"} for n in (1, 2)]}
        for title in ("A", "B", "C")
    ]
    return {"title": "Course", "modules": modules}


def titles(changed: dict[str, Any]) -> list[str]:
    return [module["title"] for module in changed["modules"]]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("module_up:1", ["B", "A", "C"]),
        ("module_down:1", ["A", "C", "B"]),
        ("remove_module:2", ["A", "B"]),
        ("add_module", ["A", "B", "C", ""]),
    ],
)
def test_module_actions(action: str, expected: list[str]) -> None:
    before = outline()
    assert titles(apply_action(before, action)) == expected
    assert before == outline()  # the working copy given is not changed in place


def test_lesson_actions_change_only_their_module() -> None:
    moved = apply_action(outline(), "lesson_down:1:0")
    assert [lesson["title"] for lesson in moved["modules"][1]["lessons"]] == ["B.2", "B.1"]
    added = apply_action(moved, "add_lesson:0")
    assert [lesson["title"] for lesson in added["modules"][0]["lessons"]] == ["A.1", "A.2", ""]
    removed = apply_action(added, "remove_lesson:0:0")
    assert [lesson["title"] for lesson in removed["modules"][0]["lessons"]] == ["A.2", ""]
    assert removed["modules"][1:] == moved["modules"][1:]


@pytest.mark.parametrize(
    "action",
    [
        "module_up:0",  # the first cannot go up
        "module_down:2",  # nor the last down
        "remove_module:-1",  # no negative indexes
        "remove_lesson:0:7",
        "add_lesson:x",
        "lesson_up:1",  # a lesson action needs the lesson
        "drop_table",
        "save",
    ],
)
def test_actions_that_name_nothing_change_nothing(action: str) -> None:
    assert apply_action(copy.deepcopy(outline()), action) == outline()


def test_the_form_is_read_in_index_order_with_one_objective_per_line() -> None:
    form = {
        "title": "Tide pools",
        "learning_objectives": "Name three animals\r\n\r\n  Explain tides ",
        "modules.1.title": "Second",
        "modules.0.title": "First",
        "modules.0.lessons.0.title": "Only lesson",
        "modules.0.lessons.0.objectives": "One\nTwo",
    }
    read = outline_from_form(form)
    assert read["learning_objectives"] == ["Name three animals", "Explain tides"]
    assert titles(read) == ["First", "Second"]
    assert read["modules"][0]["lessons"] == [{"title": "Only lesson", "objectives": ["One", "Two"]}]
    assert read["modules"][1]["lessons"] == []


def test_the_brief_takes_defaults_for_empty_fields_and_reports_non_numbers() -> None:
    values = default_brief() | {"topic": "Tide pools", "audience": " ", "modules": "2"}
    brief, errors = parse_brief(values)
    assert errors == {}
    assert brief == OutlineRequest(topic="Tide pools", modules=2)

    _, errors = parse_brief(values | {"modules": "two", "candidates": "9"})
    assert errors["modules"] == "Enter a whole number"
    assert "less than or equal to 3" in errors["candidates"]


def test_error_locations_name_the_field_that_shows_them() -> None:
    assert field_name(("modules", 1, "lessons", 0, "title")) == "modules.1.lessons.0.title"
    assert field_name(("modules", 1, "learning_objectives", 2)) == "modules.1.learning_objectives"
    assert field_name(()) == ""
    assert field_label("modules.1.lessons.0.title") == "Module 2, lesson 1: title"
    assert field_label("lessons_per_module") == "Lessons per module"
    assert bounds(OutlineRequest, "candidates") == (1, 3)
