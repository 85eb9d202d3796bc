"""The outline editor's structural actions: add, remove and move modules and lessons.

An action is the value of the submit button pressed (`add_lesson:1`, `lesson_up:1:2`),
so every one of them is a plain form post that works without JavaScript. Actions apply
to the working copy (a dict shaped like `CourseOutline`'s JSON), which may be invalid
while the user edits it: validation happens when the course is queued.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Outline = dict[str, Any]


def empty_lesson() -> dict[str, Any]:
    return {"title": "", "objectives": []}


def empty_module() -> dict[str, Any]:
    return {
        "title": "",
        "summary": "",
        "learning_objectives": [],
        "lessons": [empty_lesson()],
        "source_topics": [],
    }


def apply_action(outline: Outline, action: str) -> Outline:
    """The outline after `action`; unchanged for saving, or an action that names no
    existing module or lesson (a stale form: nothing to guess)."""
    name, _, arguments = action.partition(":")
    handler = _ACTIONS.get(name)
    if handler is None:
        return outline
    try:
        indexes = [int(part) for part in arguments.split(":")] if arguments else []
    except ValueError:
        return outline
    changed = copy.deepcopy(outline)
    try:
        handler(changed, *indexes)
    except (IndexError, TypeError):
        return outline
    return changed


def _add_module(outline: Outline) -> None:
    outline["modules"].append(empty_module())


def _remove_module(outline: Outline, module: int) -> None:
    _modules(outline, module)
    del outline["modules"][module]


def _move_module(step: int) -> Callable[[Outline, int], None]:
    def move(outline: Outline, module: int) -> None:
        _swap(outline["modules"], module, module + step)

    return move


def _add_lesson(outline: Outline, module: int) -> None:
    _modules(outline, module)["lessons"].append(empty_lesson())


def _remove_lesson(outline: Outline, module: int, lesson: int) -> None:
    lessons = _modules(outline, module)["lessons"]
    _check(lessons, lesson)
    del lessons[lesson]


def _move_lesson(step: int) -> Callable[[Outline, int, int], None]:
    def move(outline: Outline, module: int, lesson: int) -> None:
        _swap(_modules(outline, module)["lessons"], lesson, lesson + step)

    return move


def _modules(outline: Outline, module: int) -> dict[str, Any]:
    _check(outline["modules"], module)
    found: dict[str, Any] = outline["modules"][module]
    return found


def _swap(items: list[Any], first: int, second: int) -> None:
    _check(items, first)
    _check(items, second)
    items[first], items[second] = items[second], items[first]


def _check(items: list[Any], index: int) -> None:
    if not 0 <= index < len(items):  # no negative indexes: -1 is not "the last"
        raise IndexError(index)


_ACTIONS: dict[str, Callable[..., None]] = {
    "add_module": _add_module,
    "remove_module": _remove_module,
    "module_up": _move_module(-1),
    "module_down": _move_module(+1),
    "add_lesson": _add_lesson,
    "remove_lesson": _remove_lesson,
    "lesson_up": _move_lesson(-1),
    "lesson_down": _move_lesson(+1),
}
