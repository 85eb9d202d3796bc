"""A course as one standalone HTML page.

Everything in a course was written by an LLM, so every value is escaped (Jinja2's
autoescape) except lesson Markdown, which is rendered and sanitized by the one renderer
the course pages use too (`rendering.markdown_html`): no tag or script in a lesson can
reach the reader's browser as markup.
"""

from __future__ import annotations

from functools import cache

import jinja2
from markupsafe import Markup

from courseforge.domain.course import Course
from courseforge.export.exporter import Exporter
from courseforge.export.rendering import markdown_html

# Lessons are h3 in the page: their own headings start at h4.
LESSON_HEADING_OFFSET = 3


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("courseforge.export", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template("course.html.j2")


def course_html(course: Course) -> str:
    return _template().render(course=course, lesson_html=_lesson_html)


def _lesson_html(markdown: str) -> Markup:
    return markdown_html(markdown, heading_offset=LESSON_HEADING_OFFSET)


EXPORTER = Exporter(
    "html", "HTML", "text/html; charset=utf-8", "html", lambda course: course_html(course).encode()
)
