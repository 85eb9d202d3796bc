"""The course as JSON: the `Course` schema itself, indented."""

from __future__ import annotations

from courseforge.domain.course import Course
from courseforge.export.exporter import Exporter


def course_json(course: Course) -> bytes:
    return (course.model_dump_json(indent=2) + "\n").encode()


EXPORTER = Exporter("json", "JSON", "application/json", "json", course_json)
