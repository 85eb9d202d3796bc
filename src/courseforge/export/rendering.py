"""The one way Markdown becomes HTML, for the course pages and the HTML export alike.

Lesson Markdown was written by a model (or a user editing an outline), so it is rendered
with raw HTML off and then sanitized by nh3 against an allowlist: whatever the parser
lets through, no tag, attribute or URL scheme outside the list reaches a browser.
Images are not rendered (a course has none of its own, and a remote one would tell a
third party who reads the course): `![alt](url)` becomes a link to the URL.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from courseforge.export.markdown_safety import is_safe_url

ALLOWED_TAGS = frozenset(
    {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code"}
    | {"em", "strong", "s", "del", "a", "ul", "ol", "li"}
    | {"table", "thead", "tbody", "tr", "th", "td"}
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
}  # no style: markdown-it's column alignment would need inline styles, which a CSP refuses
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
DEEPEST_HEADING = 6


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
    # Stricter than nh3 needs: a scheme disguised by percent-encoding (`java%09script:`,
    # harmless as a relative URL) is left as text rather than made a link at all.
    parser.validateLink = lambda url: is_safe_url(url)  # type: ignore[method-assign]
    return parser


_PARSER = _parser()


def markdown_html(text: str, *, heading_offset: int = 0) -> Markup:
    """`text` (Markdown) as sanitized HTML; its headings moved `heading_offset` levels
    down (a lesson under an h3 starts its own at h4), h6 at the deepest."""
    tokens = _PARSER.parse(text)
    if heading_offset:
        _shift_headings(tokens, heading_offset)
    html = _PARSER.renderer.render(tokens, _PARSER.options, {})
    return Markup(sanitized(html))


def sanitized(html: str) -> str:
    """`html` with only the allowlisted tags, attributes and URL schemes left."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def _shift_headings(tokens: list[Token], offset: int) -> None:
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1:]) + offset, DEEPEST_HEADING)
            token.tag = f"h{level}"
