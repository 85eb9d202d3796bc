"""Every export of a course full of hostile text is inert: rendered as a permissive reader
would (CommonMark with raw HTML on and any link scheme taken), it has no script, no event
handler and no link to a script, and plain-text fields render as exactly themselves."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from courseforge.domain.course import (
    TRUE_FALSE_OPTIONS,
    Assessment,
    Course,
    Lesson,
    Module,
    Question,
    Task,
)
from courseforge.domain.text import Phrase, Snippet, Title
from courseforge.export.html import course_html
from courseforge.export.markdown import course_to_markdown
from courseforge.export.markdown_safety import escape_text, inert_markdown
from tests.domain.hostile_text import (
    MULTI_LINE_ATTACKS,
    ONE_LINE_ATTACKS,
    distinct,
    markdowns,
    one_line,
    paragraphs,
    phrases,
    snippets,
    titles,
)

COURSES = settings(max_examples=25, deadline=None)
# What Markdown itself makes: any other tag in the rendering came from raw HTML.
MARKDOWN_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "em", "strong"}
MARKDOWN_TAGS |= {"code", "pre", "blockquote", "hr", "br", "a", "img"}
MARKDOWN_ATTRIBUTES = {"href", "src", "alt", "title", "start", "class"}
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")


def permissive_markdown() -> MarkdownIt:
    reader = MarkdownIt("commonmark", {"html": True})
    reader.validateLink = lambda url: True  # type: ignore[method-assign]
    return reader


READER = permissive_markdown()


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def elements(html: str) -> Elements:
    parsed = Elements()
    parsed.feed(html)
    parsed.close()
    return parsed


def runs_script(url: str) -> bool:
    # As a browser reads it: no tabs, line breaks or leading controls; any case.
    plain = "".join(c for c in unquote(url) if c > " " and c != "\x7f").casefold()
    return plain.startswith(SCRIPT_SCHEMES)


def assert_inert(html: str, allowed_tags: set[str] | None = None) -> None:
    assert "<script" not in html.casefold()
    for tag, attrs in elements(html).tags:
        assert tag not in {"script", "iframe", "object", "embed", "svg", "math"}, tag
        if allowed_tags is not None:
            assert tag in allowed_tags, (tag, attrs)
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            assert not runs_script(value or ""), (tag, name, value)
            if allowed_tags is not None:
                assert name in MARKDOWN_ATTRIBUTES, (tag, name)


@st.composite
def questions(draw: st.DrawFn, objectives: list[str]) -> list[Question]:
    prompt = draw(distinct(paragraphs, 3))
    explanation = draw(paragraphs)
    return [
        Question(
            type="multiple_choice",
            prompt=prompt[0],
            options=draw(distinct(phrases, 4)),
            answer_index=draw(st.integers(0, 3)),
            explanation=explanation,
            objective=objectives[0],
        ),
        Question(
            type="true_false",
            prompt=prompt[1],
            options=list(TRUE_FALSE_OPTIONS),
            answer_index=1,
            explanation=explanation,
            objective=objectives[1],
        ),
        Question(
            type="short_answer",
            prompt=prompt[2],
            answer=draw(paragraphs),
            explanation=explanation,
            objective=objectives[1],
        ),
    ]


@st.composite
def lessons(draw: st.DrawFn, title: str) -> Lesson:
    task = Task(
        title=draw(titles),
        type="exercise",
        instructions=draw(paragraphs),
        estimated_minutes=10,
        success_criteria=draw(st.lists(phrases, min_size=1, max_size=2)),
    )
    return Lesson(
        title=title,
        objectives=draw(st.lists(phrases, min_size=1, max_size=2)),
        content_markdown=draw(markdowns),
        key_points=draw(st.lists(phrases, min_size=1, max_size=2)),
        brain_bytes=draw(st.lists(snippets, max_size=2)),
        tasks=[task],
    )


@st.composite
def courses(draw: st.DrawFn) -> Course:
    objectives = draw(distinct(phrases, 2))
    module = Module(
        title=draw(titles),
        summary=draw(paragraphs),
        learning_objectives=objectives,
        source_topics=draw(st.lists(phrases, max_size=2)),
        lessons=[draw(lessons(title)) for title in draw(distinct(titles, 2))],
        assessment=Assessment(questions=draw(questions(objectives))),
    )
    return Course(
        title=draw(titles),
        slug="hostile-course",
        description=draw(paragraphs),
        audience=draw(phrases),
        level="beginner",
        estimated_hours=1.5,
        prerequisites=draw(st.lists(phrases, max_size=2)),
        learning_objectives=draw(distinct(phrases, 2)),
        tags=draw(st.lists(phrases, max_size=2)),
        modules=[module],
    )


@COURSES
@given(course=courses())
def test_the_markdown_export_renders_no_markup_the_course_did_not_mean(course: Course) -> None:
    assert_inert(READER.render(course_to_markdown(course)), allowed_tags=MARKDOWN_TAGS)


@COURSES
@given(course=courses())
def test_the_html_export_renders_no_script_handler_or_script_link(course: Course) -> None:
    assert_inert(course_html(course))


# Plain text: one line, often a payload at the very start (where a line's syntax lives).
bare_one_line = st.one_of(one_line(Title, 120), one_line(Phrase, 200), one_line(Snippet, 400))


@settings(max_examples=300, deadline=None)
@given(text=bare_one_line, context=st.sampled_from(["{}", "- {}", "# {}", "1. {}", "> {}"]))
def test_escaped_text_renders_as_exactly_itself(text: str, context: str) -> None:
    rendered = READER.render(context.format(escape_text(text)))

    assert "".join(elements(rendered).text).strip() == text
    assert_inert(rendered, allowed_tags=MARKDOWN_TAGS)


@pytest.mark.parametrize("attack", ONE_LINE_ATTACKS + MULTI_LINE_ATTACKS)
def test_lesson_markdown_with_an_attack_renders_inert(attack: str) -> None:
    markdown = f"Intro with a [fine link](https://example.org).\n\n{attack}\n\nThe end."

    rendered = READER.render(inert_markdown(markdown))

    assert_inert(rendered, allowed_tags=MARKDOWN_TAGS)
    assert '<a href="https://example.org">fine link</a>' in rendered


def test_a_link_defined_in_one_lesson_cannot_run_a_script_from_another() -> None:
    rendered = READER.render(inert_markdown("[ref]: javascript:alert(1)\n\nSee [ref].\n"))

    assert_inert(rendered, allowed_tags=MARKDOWN_TAGS)
    assert "See [ref]." in "".join(elements(rendered).text)


LESSON = """## Why it matters

Plants make sugar from light. Compare `a < b` and `x & y`:

```python
if light > 0 and water:
    print("<sugar>")
```

1. Light is absorbed.
2. Water is split, see [the notes](https://example.org/notes?a=1&b=2 "Notes").

> Remember: *chlorophyll* is **green**. ![leaf](leaf.png)

[ref]: https://example.org/ref
"""


def test_ordinary_lesson_markdown_is_left_exactly_as_written() -> None:
    assert inert_markdown(LESSON) == LESSON


def test_an_escaped_title_cannot_forge_a_link_or_a_tag() -> None:
    # Titles are one line (the domain refuses line breaks), so they cannot forge a heading.
    rendered = READER.render(f"# {escape_text('x [a](javascript:alert(1)) <b>')}")

    assert elements(rendered).tags == [("h1", [])]
