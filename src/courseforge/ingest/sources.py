"""The text of an uploaded file, ready to be an outline brief's source material.

One entry point for the API and the web wizard: it checks the size and kind, extracts
the text, tidies it and caps it at what `OutlineRequest.source_material` accepts, or
raises `SourceRejected` with a message a person can act on.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePath

from courseforge.domain.outline import MAX_SOURCE_CHARS
from courseforge.domain.text import without_unprintable
from courseforge.ingest.readers import SourceRejected, docx_text, pdf_text, plain_text

__all__ = ["ACCEPTED_SUFFIXES", "SourceRejected", "extract_text", "tidy"]

ACCEPTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx")
# Page and section breaks, and Unicode's own line separators, end a line like \n does.
_LINE_ENDS = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_BLANK_RUNS = re.compile(r"\n{3,}")


def extract_text(filename: str, data: bytes, *, max_bytes: int, max_pages: int) -> str:
    """The tidied text of a .txt, .md (UTF-8), .pdf (with a text layer) or .docx file."""
    suffix = _accepted_suffix(filename)
    if not data:
        raise SourceRejected("the file is empty")
    if len(data) > max_bytes:
        raise SourceRejected(f"the file is {_size(len(data))}; the limit is {_size(max_bytes)}")
    text = tidy(_read(suffix, data, max_bytes=max_bytes, max_pages=max_pages))
    if not text:
        raise SourceRejected("the file has no text")
    if len(text) > MAX_SOURCE_CHARS:
        raise SourceRejected(
            f"the file's text is {len(text):,} characters long; the limit is "
            f"{MAX_SOURCE_CHARS:,}: upload a shorter excerpt"
        )
    return text


def tidy(text: str) -> str:
    """No control characters; spaces collapsed within lines; at most one blank line."""
    text = _LINE_ENDS.sub("\n", unicodedata.normalize("NFC", text))
    lines = (" ".join(line.split()) for line in without_unprintable(text).split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _accepted_suffix(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        named = f"not {suffix!r}" if suffix else "this file has no extension"
        raise SourceRejected(f"upload a .txt, .md, .pdf or .docx file ({named})")
    return suffix


def _read(suffix: str, data: bytes, *, max_bytes: int, max_pages: int) -> str:
    if suffix == ".pdf":
        return pdf_text(data, max_pages=max_pages)
    if suffix == ".docx":
        return docx_text(data, max_bytes=max_bytes)
    return plain_text(data)


def _size(count: int) -> str:
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"
