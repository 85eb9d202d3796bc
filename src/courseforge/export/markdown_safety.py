"""Making the Markdown export inert: whoever renders it gets no markup a course did not mean.

Everything in a course was written by a user or a model. Plain text (titles, options,
objectives, instructions) is escaped so that it renders as itself. Lesson Markdown stays
Markdown, but what a permissive renderer (raw HTML on, any link scheme) would turn into
raw HTML or a link to a non-web scheme is written as text instead: on the lines that hold
it, `<` and `[` become character references, which CommonMark never reads as markup.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token

# Characters with a meaning anywhere in a line (CommonMark, plus GFM's tables and
# strikethrough); `(`, `)` and `!` matter only next to an escaped `[` or `]`.
_INLINE_SYNTAX = re.compile(r"([\\`*_\[\]<>&|~#])")
# Characters with a meaning only at the start of a line: list items, setext underlines.
_LINE_START_SYNTAX = re.compile(r"^([-+=])|^(\d+)([.)])", re.MULTILINE)
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_NEUTRAL = str.maketrans({"<": "&lt;", "[": "&#91;"})
# Each pass removes at least one `<` or `[`; a cap keeps the worst input cheap.
_MAX_PASSES = 20


def escape_text(text: str) -> str:
    """`text` as Markdown that renders as exactly that text (line breaks kept)."""
    lines = "\n".join(line.strip() for line in text.splitlines())
    escaped = _INLINE_SYNTAX.sub(r"\\\1", lines)
    return _LINE_START_SYNTAX.sub(_escape_line_start, escaped)


def _escape_line_start(found: re.Match[str]) -> str:
    if found.group(1):
        return "\\" + found.group(1)
    return f"{found.group(2)}\\{found.group(3)}"


def _permissive_parser() -> MarkdownIt:
    """A parser that sees what the most permissive CommonMark renderer would render."""
    parser = MarkdownIt("commonmark", {"html": True})
    parser.validateLink = lambda url: True  # type: ignore[method-assign]
    return parser


_PARSER = _permissive_parser()


def inert_markdown(markdown: str) -> str:
    """`markdown` with its raw HTML and its links to other than web or mail made text."""
    # Line numbers as the parser counts them.
    markdown = markdown.replace("\r\n", "\n").replace("\r", "\n")
    for _ in range(_MAX_PASSES):
        unsafe = _unsafe_lines(markdown)
        if not unsafe:
            return markdown
        lines = markdown.split("\n")
        for number in unsafe:
            lines[number] = lines[number].translate(_NEUTRAL)
        markdown = "\n".join(lines)
    return markdown.translate(_NEUTRAL)


def _unsafe_lines(markdown: str) -> set[int]:
    unsafe: set[int] = set()
    for token in _PARSER.parse(markdown):
        if token.map and (token.type == "html_block" or _has_unsafe_inline(token)):
            unsafe.update(range(*token.map))
    return unsafe


def _has_unsafe_inline(token: Token) -> bool:
    return any(
        child.type == "html_inline"
        or not is_safe_url(str(child.attrGet("href") or ""))
        or not is_safe_url(str(child.attrGet("src") or ""))
        for child in token.children or []
    )


def is_safe_url(url: str) -> bool:
    """A relative URL, or one to the web or to mail, however its scheme is disguised."""
    # Browsers drop tabs, line breaks and leading spaces or controls from a URL.
    plain = _CONTROL_OR_SPACE.sub("", unquote(url)).casefold()
    scheme = _SCHEME.match(plain)
    return scheme is None or scheme.group(1) in SAFE_SCHEMES
