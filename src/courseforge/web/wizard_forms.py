"""The wizard's forms as data: the brief and the outline read from posted fields, and
pydantic's errors keyed by the field that shows them.

Validation stays with the domain's models (`OutlineRequest`, `CourseOutline`), the same
as the API's: this module only turns form strings into the shapes those models take
(numbers, lists of lines) and their error locations into field names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError

from courseforge.domain.outline import OutlineRequest

FieldErrors = dict[str, str]  # "modules.1.lessons.0.title" -> what is wrong with it
FormValues = Mapping[str, Any]  # Starlette's FormData, or a plain dict in tests

BRIEF_TEXT_FIELDS = ("topic", "audience", "level", "language", "source_material")
BRIEF_NUMBER_FIELDS = (
    "modules",
    "lessons_per_module",
    "tasks_per_lesson",
    "questions_per_quiz",
    "candidates",
)
# List fields edited one item per line: an error on item N is shown on the list's box.
LINE_LISTS = ("learning_objectives", "objectives", "source_topics")
_WHOLE_NUMBER = re.compile(r"\s*\d{1,6}\s*")


@dataclass
class BriefForm:
    """What the user typed (kept to show the form again) and what was wrong with it."""

    values: dict[str, str]
    errors: FieldErrors = field(default_factory=dict)


def bounds(model: type[BaseModel], name: str) -> tuple[int, int]:
    """A number field's inclusive range, read from the model (one source of truth)."""
    low = high = 0
    for rule in model.model_fields[name].metadata:
        if isinstance(rule, Ge):
            low = int(rule.ge)  # type: ignore[call-overload]
        if isinstance(rule, Le):
            high = int(rule.le)  # type: ignore[call-overload]
    return low, high


def default_brief() -> dict[str, str]:
    defaults = OutlineRequest.model_fields
    values = {name: str(defaults[name].default) for name in BRIEF_NUMBER_FIELDS}
    values |= {name: str(defaults[name].default or "") for name in BRIEF_TEXT_FIELDS}
    return values | {"topic": ""}


def brief_values(form: FormValues) -> dict[str, str]:
    return {name: _text(form, name) for name in (*BRIEF_TEXT_FIELDS, *BRIEF_NUMBER_FIELDS)}


def parse_brief(values: dict[str, str]) -> tuple[OutlineRequest | None, FieldErrors]:
    """The brief, or the errors by field. Empty optional fields take the model's default."""
    data: dict[str, Any] = {}
    errors: FieldErrors = {}
    for name in BRIEF_TEXT_FIELDS:
        if values.get(name, "").strip() or name == "topic":
            data[name] = values.get(name, "")
    for name in BRIEF_NUMBER_FIELDS:
        raw = values.get(name, "").strip()
        if not raw:
            continue
        if _WHOLE_NUMBER.fullmatch(raw):
            data[name] = int(raw)
        else:
            errors[name] = "Enter a whole number"
    try:
        brief = OutlineRequest.model_validate(data)
    except ValidationError as invalid:
        return None, errors_by_field(invalid) | errors
    return (brief, {}) if not errors else (None, errors)


def parse_number(raw: str, low: int, high: int) -> int | None:
    """A whole number within [low, high], else None."""
    if not _WHOLE_NUMBER.fullmatch(raw):
        return None
    number = int(raw)
    return number if low <= number <= high else None


def errors_by_field(invalid: ValidationError) -> FieldErrors:
    """pydantic's errors keyed by dotted location (`modules.1.lessons.0.title`); an error
    on one line of a one-per-line list goes to the list; a whole-model error to ""."""
    errors: FieldErrors = {}
    for error in invalid.errors():
        key = field_name(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        errors.setdefault(key, message)
    return errors


def field_name(loc: tuple[int | str, ...]) -> str:
    parts = list(loc)
    if len(parts) >= 2 and isinstance(parts[-1], int) and parts[-2] in LINE_LISTS:
        parts.pop()
    return ".".join(str(part) for part in parts)


def field_id(name: str) -> str:
    """An HTML id for a field name: `modules.1.title` -> `f-modules-1-title`."""
    return "f-" + name.replace(".", "-") if name else "f-form"


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _text(form: FormValues, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def outline_from_form(form: FormValues) -> dict[str, Any]:
    """The outline as posted by the edit form: every module and lesson field present,
    in the order of their indexes, as the working copy the draft keeps."""
    outline: dict[str, Any] = {
        name: _text(form, name) for name in ("title", "description", "audience", "level")
    }
    outline["language"] = _text(form, "language")
    outline["learning_objectives"] = lines(_text(form, "learning_objectives"))
    outline["modules"] = [
        _module_from_form(form, index) for index in _indexes(form, "modules.{}.title")
    ]
    return outline


def _module_from_form(form: FormValues, index: int) -> dict[str, Any]:
    prefix = f"modules.{index}."
    lessons = [
        {
            "title": _text(form, f"{prefix}lessons.{lesson}.title"),
            "objectives": lines(_text(form, f"{prefix}lessons.{lesson}.objectives")),
        }
        for lesson in _indexes(form, prefix + "lessons.{}.title")
    ]
    return {
        "title": _text(form, prefix + "title"),
        "summary": _text(form, prefix + "summary"),
        "learning_objectives": lines(_text(form, prefix + "learning_objectives")),
        "lessons": lessons,
        "source_topics": lines(_text(form, prefix + "source_topics")),
    }


def _indexes(form: FormValues, pattern: str) -> list[int]:
    """The indexes N for which `pattern.format(N)` was posted, ascending (a hand-made post
    may skip some; the order of the form is kept)."""
    matcher = re.compile(re.escape(pattern).replace(r"\{\}", r"(\d{1,3})"))
    found = {int(m.group(1)) for key in form if (m := matcher.fullmatch(key))}
    return sorted(found)


_FIELD_WORDS = {
    "source_material": "source material",
    "lessons_per_module": "lessons per module",
    "tasks_per_lesson": "tasks per lesson",
    "questions_per_quiz": "questions per quiz",
    "learning_objectives": "objectives",
}


def field_label(name: str) -> str:
    """A field name as a person reads it: `modules.1.lessons.0.title` ->
    "Module 2, lesson 1: title" (numbered from 1, like the page)."""
    parts = name.split(".")
    places: list[str] = []
    while len(parts) >= 2 and parts[1].isdigit():
        places.append(f"{parts[0].removesuffix('s')} {int(parts[1]) + 1}")
        parts = parts[2:]
    words = " ".join(_FIELD_WORDS.get(part, part.replace("_", " ")) for part in parts)
    where = ", ".join(places).capitalize()
    return f"{where}: {words}" if where and words else where or words.capitalize()
