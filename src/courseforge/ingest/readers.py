"""Raw text out of each kind of file; `sources` checks, tidies and caps what comes back.

The parsers read untrusted bytes: whatever they raise on a broken file becomes a refusal
a person can act on, never a 500.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import docx
import pypdf
from docx.table import Table
from docx.text.paragraph import Paragraph


class SourceRejected(ValueError):  # noqa: N818 -- a refusal, the name callers know
    """A file whose text cannot be used; the message says what to do instead."""


NO_TEXT_LAYER = "this PDF has no text layer (scanned?) — paste the text instead"
# A .docx is a zip: refuse one that inflates far beyond its size before parsing it all.
MAX_DOCX_INFLATION = 20


def plain_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # a byte-order mark, as Windows editors write it
    except UnicodeDecodeError as error:
        raise SourceRejected(
            f"the file is not UTF-8 text (invalid byte at position {error.start}): "
            "save it as UTF-8 and upload it again"
        ) from error


def pdf_text(data: bytes, *, max_pages: int) -> str:
    reader = _open_pdf(data)
    pages = _page_count(reader)
    if pages > max_pages:
        raise SourceRejected(f"the PDF has {pages} pages; the limit is {max_pages}")
    text = "\n\n".join(_page_texts(reader))
    if not text.strip():
        raise SourceRejected(NO_TEXT_LAYER)
    return text


def docx_text(data: bytes, *, max_bytes: int) -> str:
    _refuse_zip_bomb(data, max_inflated=MAX_DOCX_INFLATION * max_bytes)
    try:
        document = docx.Document(io.BytesIO(data))
        return "\n\n".join(_blocks(document.iter_inner_content()))
    except Exception as error:  # any parser error: the file is broken, not the server
        raise SourceRejected(_unreadable("Word (.docx)")) from error


def _open_pdf(data: bytes) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
    except Exception as error:  # any parser error: the file is broken, not the server
        raise SourceRejected(_unreadable("PDF")) from error
    if reader.is_encrypted and not _opens_without_password(reader):
        raise SourceRejected("the PDF is password-protected: remove the password and upload it")
    return reader


def _opens_without_password(reader: pypdf.PdfReader) -> bool:
    """Many PDFs are encrypted with an empty password only to restrict printing."""
    try:
        return reader.decrypt("") != pypdf.PasswordType.NOT_DECRYPTED
    except Exception:  # an unsupported cipher: it stays locked
        return False


def _page_count(reader: pypdf.PdfReader) -> int:
    try:
        return len(reader.pages)
    except Exception as error:
        raise SourceRejected(_unreadable("PDF")) from error


def _page_texts(reader: pypdf.PdfReader) -> Iterator[str]:
    try:
        for page in reader.pages:
            yield page.extract_text()
    except Exception as error:
        raise SourceRejected(_unreadable("PDF")) from error


def _blocks(content: Iterator[Paragraph | Table]) -> Iterator[str]:
    """Paragraphs and table rows in the document's order; a row's cells joined by ` | `."""
    for block in content:
        if isinstance(block, Paragraph):
            yield block.text
        else:
            yield "\n".join(_row_text(row.cells) for row in block.rows)


def _row_text(cells: list[docx.table._Cell]) -> str:
    texts: list[str] = []
    for cell in cells:
        # A merged cell appears once per grid column it spans; keep it once.
        if not texts or cell.text != texts[-1]:
            texts.append(cell.text)
    return " | ".join(texts)


def _refuse_zip_bomb(data: bytes, *, max_inflated: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise SourceRejected(_unreadable("Word (.docx)")) from error
    if inflated > max_inflated:
        raise SourceRejected("the .docx unpacks to too much data; paste the text instead")


def _unreadable(kind: str) -> str:
    return f"the file could not be read as a {kind} file (damaged?); paste the text instead"
