"""A course as one standalone HTML page.

Everything in a course was written by an LLM, so every value is escaped (Jinja2's
autoescape): no tag or script in a lesson can reach the reader's browser as markup.
Lesson text is shown as paragraphs of plain text.
"""

from __future__ import annotations

from functools import cache

import jinja2

from courseforge.domain.course import Course


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("courseforge.export", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template("course.html.j2")


def course_html(course: Course) -> str:
    return _template().render(course=course, paragraphs=_paragraphs)


def _paragraphs(text: str) -> list[str]:
    return [part.strip() for part in text.split("\n\n") if part.strip()]
