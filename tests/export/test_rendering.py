"""Markdown to HTML for the pages and the HTML export: Markdown's own structure renders,
anything that could run a script or add markup the allowlist lacks does not."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from courseforge.export.html import course_html
from courseforge.export.rendering import ALLOWED_TAGS, LINK_REL, markdown_html
from tests.domain.hostile_text import MULTI_LINE_ATTACKS, ONE_LINE_ATTACKS, markdowns
from tests.export.sample_course import LESSON_MARKDOWN, sample_course
from tests.export.test_inert_exports import assert_inert, elements

# An `on…=` attribute inside a tag (text holds no `<`: the renderer escapes it).
EVENT_HANDLER = re.compile(r"<[^>]*\son\w*\s*=", re.IGNORECASE)


def test_headings_emphasis_lists_and_code_render() -> None:
    html = markdown_html("# Light\n\n**bold** and *soft*\n\n- one\n- two\n\n1. first\n\n`x < y`")

    assert "<h1>Light</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<em>soft</em>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<ol>\n<li>first</li>\n</ol>" in html
    assert "<code>x &lt; y</code>" in html


def test_fenced_code_keeps_its_text_escaped() -> None:
    html = markdown_html('```python\nprint("<sugar>")\n```')

    assert html == '<pre><code>print("&lt;sugar&gt;")\n</code></pre>\n'


def test_tables_render_without_inline_styles() -> None:
    html = markdown_html("| Gas | Role |\n|:--|--:|\n| CO2 | input |")

    assert [tag for tag, _ in elements(html).tags] == [
        *("table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td")
    ]
    assert "style" not in html


def test_headings_move_down_by_the_offset_and_stop_at_h6() -> None:
    html = markdown_html("# One\n\n### Three", heading_offset=3)

    assert "<h4>One</h4>" in html
    assert "<h6>Three</h6>" in html


def test_web_links_keep_their_url_and_get_a_safe_rel() -> None:
    html = markdown_html("[notes](https://example.org/n?a=1&b=2) <mailto:t@example.org>")

    assert f'<a href="https://example.org/n?a=1&amp;b=2" rel="{LINK_REL}">notes</a>' in html
    assert 'href="mailto:t@example.org"' in html


def test_the_result_is_markup_that_jinja_does_not_escape_again() -> None:
    assert isinstance(markdown_html("*x*"), Markup)


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html,<script>alert(1)</script>)",
        "![i](data:image/svg+xml,<svg onload=alert(1)>)",
        "<javascript:alert(1)>",
        "<!-- a comment -->",
        "<b>unclosed <i>tags",
        "[ref]\n\n[ref]: javascript:alert(1)",
    ],
)
def test_an_attack_is_shown_as_text_never_as_markup(attack: str) -> None:
    html = markdown_html(f"Before.\n\n{attack}\n\nAfter.")

    assert_inert(html, allowed_tags=set(ALLOWED_TAGS))
    assert {tag for tag, _ in elements(html).tags} <= {"p", "a"}
    assert "<!--" not in html
    for _, attrs in elements(html).tags:
        assert all(name in ("href", "rel") for name, _ in attrs)


def test_images_become_links_so_no_third_party_sees_the_reader() -> None:
    html = markdown_html("![a leaf](https://example.org/leaf.png)")

    assert "<img" not in html
    assert 'href="https://example.org/leaf.png"' in html


@pytest.mark.parametrize("attack", ONE_LINE_ATTACKS + MULTI_LINE_ATTACKS)
def test_every_known_attack_renders_inert(attack: str) -> None:
    assert_inert(markdown_html(attack), allowed_tags=set(ALLOWED_TAGS))


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(), markdowns))
def test_no_text_renders_a_script_or_an_event_handler(text: str) -> None:
    html = markdown_html(text)

    assert "<script" not in html.casefold()
    assert not EVENT_HANDLER.search(html)
    assert_inert(html, allowed_tags=set(ALLOWED_TAGS))


def test_the_html_export_renders_lessons_as_markdown() -> None:
    html = course_html(sample_course())

    assert "<h5>Why it matters</h5>" in html  # h1 would be h4, under the lesson's h3
    assert "<strong>sugar</strong>" in html
    assert "**" not in html
    assert "<li>Light is absorbed</li>" in html
    assert "<table>" in html
    assert "<summary>Show answer</summary>" in html


def test_the_html_export_shows_hostile_lesson_text_as_text() -> None:
    attack = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"

    lesson = f"{LESSON_MARKDOWN}\n{attack}\n"
    html = course_html(sample_course(lesson_markdown=lesson, title="<script>alert(2)</script>"))

    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
