"""Bounded text types shared by every schema.

Titles, phrases and snippets are one line; paragraphs and Markdown may span lines.
Bounds live in the JSON schema (minLength/maxLength) so that a grammar-constrained
decoder enforces them while generating; the after-validators catch what a grammar
cannot express (a string of only spaces or punctuation).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

_WORD = re.compile(r"[^\W_]", re.UNICODE)


def _has_words(value: str) -> str:
    if not _WORD.search(value):
        raise ValueError("must contain letters or digits, not only spaces or punctuation")
    return value


# Control characters other than line breaks and tabs, and lone surrogates: no person
# means them, terminals and browsers mangle them, and PostgreSQL cannot store NUL.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(value: str) -> str:
    found = _UNPRINTABLE.search(value)
    if found:
        raise ValueError(
            f"must not contain control characters (found U+{ord(found.group()):04X} "
            f"at position {found.start()})"
        )
    return value


# What ends a line (as str.splitlines() sees it, beyond the control characters above) and
# tabs: a one-line field that held one could forge a line of a prompt or a Markdown heading.
_LINE_BREAK_OR_TAB = re.compile(r"[\t\n\r\u2028\u2029]")


def one_line(value: str) -> str:
    """`value` if it is one line of printable text; otherwise why not."""
    printable(value)
    found = _LINE_BREAK_OR_TAB.search(value)
    if found:
        raise ValueError(
            f"must be a single line: no line breaks or tabs (found U+{ord(found.group()):04X} "
            f"at position {found.start()})"
        )
    return value


def without_unprintable(text: str) -> str:
    return _UNPRINTABLE.sub("", text)


def _strip(value: object) -> object:
    # Python's notion of whitespace (it includes U+001C–U+001F, which pydantic's does not).
    return value.strip() if isinstance(value, str) else value


def _bounded(min_length: int, max_length: int) -> object:
    return StringConstraints(min_length=min_length, max_length=max_length)


Title = Annotated[
    str,
    _bounded(3, 120),
    BeforeValidator(_strip),
    AfterValidator(one_line),
    AfterValidator(_has_words),
]
"""A heading: course, module, lesson or task title."""

Phrase = Annotated[
    str,
    _bounded(2, 200),
    BeforeValidator(_strip),
    AfterValidator(one_line),
    AfterValidator(_has_words),
]
"""A short item of a list: an objective, a key point, a tag, an option."""

Paragraph = Annotated[
    str,
    _bounded(10, 1500),
    BeforeValidator(_strip),
    AfterValidator(printable),
    AfterValidator(_has_words),
]
"""A few sentences: a summary, instructions, an explanation."""

Markdown = Annotated[
    str,
    _bounded(80, 20_000),
    BeforeValidator(_strip),
    AfterValidator(printable),
    AfterValidator(_has_words),
]
"""A lesson body in Markdown."""

Snippet = Annotated[
    str,
    _bounded(10, 400),
    BeforeValidator(_strip),
    AfterValidator(one_line),
    AfterValidator(_has_words),
]
"""A brain byte: one self-contained micro-learning fact."""


def normalized(text: str) -> str:
    """The form two titles are compared in when looking for duplicates."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def find_duplicates(texts: list[str]) -> list[str]:
    """The texts that repeat an earlier one, compared case- and punctuation-blind."""
    seen: set[str] = set()
    repeats: list[str] = []
    for text in texts:
        key = normalized(text)
        if key in seen:
            repeats.append(text)
        seen.add(key)
    return repeats


def require_unique(texts: list[str], what: str) -> None:
    repeats = find_duplicates(texts)
    if repeats:
        raise ValueError(
            f"{what} must be distinct; repeated: {', '.join(repr(t) for t in repeats)}"
        )


def slugify(text: str, max_length: int = 80) -> str:
    slug = "-".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())
    return slug[:max_length].strip("-") or "course"
