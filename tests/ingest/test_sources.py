"""Uploaded files become tidy source material, or a refusal that says what to do."""

from __future__ import annotations

import io
import zipfile

import pytest

from courseforge.domain.outline import MAX_SOURCE_CHARS, OutlineRequest
from courseforge.ingest.sources import SourceRejected, extract_text
from tests.ingest.documents import docx_with, encrypted_pdf, pdf_with_pages

LIMITS = {"max_bytes": 1024 * 1024, "max_pages": 3}


def refusal(filename: str, data: bytes, **limits: int) -> str:
    with pytest.raises(SourceRejected) as refused:
        extract_text(filename, data, **{**LIMITS, **limits})
    return str(refused.value)


def test_plain_text_and_markdown_are_read_as_utf8_with_or_without_a_bom() -> None:
    text = "# Fotosíntesis\r\n\r\n\r\n\r\nLa luz\t\tdel  sol.\x00\x07\n"
    assert extract_text("notes.MD", text.encode(), **LIMITS) == "# Fotosíntesis\n\nLa luz del sol."
    with_bom = "\ufeffÜber Licht".encode()
    assert extract_text("notes.txt", with_bom, **LIMITS) == "Über Licht"


def test_invalid_utf8_is_refused_with_where_it_breaks() -> None:
    assert "not UTF-8" in refusal("notes.txt", b"caf\xe9 au lait")


def test_pdf_text_is_read_page_by_page() -> None:
    data = pdf_with_pages("Chlorophyll absorbs light.", "Plants (mostly) grow.")
    assert extract_text("a.pdf", data, **LIMITS) == (
        "Chlorophyll absorbs light.\n\nPlants (mostly) grow."
    )


def test_a_pdf_without_a_text_layer_is_refused_as_scanned() -> None:
    message = refusal("scan.pdf", pdf_with_pages("", ""))
    assert "no text layer" in message
    assert "paste the text" in message


def test_a_pdf_over_the_page_limit_is_refused_naming_it() -> None:
    assert "the limit is 3" in refusal("long.pdf", pdf_with_pages("a", "b", "c", "d"))


def test_a_password_protected_pdf_is_refused_and_an_empty_password_is_opened() -> None:
    assert "password" in refusal("locked.pdf", encrypted_pdf("secret text", "hunter2"))
    assert extract_text("open.pdf", encrypted_pdf("open text", ""), **LIMITS) == "open text"


@pytest.mark.parametrize(
    "data", [b"%PDF-1.4\n garbage", b"not a pdf at all", pdf_with_pages("cut")[:60]]
)
def test_a_damaged_pdf_is_refused(data: bytes) -> None:
    assert "could not be read as a PDF" in refusal("broken.pdf", data)


def test_docx_paragraphs_and_table_cells_are_read_in_order() -> None:
    data = docx_with(["Intro  to   cells", ""], table=[["Organelle", "Role"], ["Nucleus", "DNA"]])
    assert extract_text("cells.docx", data, **LIMITS) == (
        "Intro to cells\n\nOrganelle | Role\nNucleus | DNA"
    )


def test_a_damaged_docx_is_refused() -> None:
    assert "Word (.docx)" in refusal("broken.docx", b"PK\x03\x04 not really a zip")
    not_word = io.BytesIO()
    with zipfile.ZipFile(not_word, "w") as archive:
        archive.writestr("hello.txt", "a zip, but no Word document")
    assert "Word (.docx)" in refusal("other.docx", not_word.getvalue())


def test_a_docx_that_inflates_far_beyond_its_size_is_refused() -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b" " * (3 * 1024 * 1024))
    assert "too much data" in refusal("bomb.docx", bomb.getvalue(), max_bytes=100 * 1024)


@pytest.mark.parametrize(
    ("filename", "expected"),
    [("slides.pptx", "not '.pptx'"), ("README", "no extension"), ("a.pdf.exe", "'.exe'")],
)
def test_an_unknown_extension_is_refused_naming_the_accepted_ones(
    filename: str, expected: str
) -> None:
    message = refusal(filename, b"text")
    assert ".txt, .md, .pdf or .docx" in message
    assert expected in message


def test_empty_blank_and_oversized_files_are_refused() -> None:
    assert "empty" in refusal("a.txt", b"")
    assert "no text" in refusal("a.txt", b" \n\t\x00\n ")
    assert "the limit is 1 KiB" in refusal("a.txt", b"x" * 1025, max_bytes=1024)


def test_text_longer_than_source_material_allows_is_refused_and_the_limit_fits() -> None:
    assert "upload a shorter excerpt" in refusal("a.txt", b"x" * (MAX_SOURCE_CHARS + 1))
    text = extract_text("a.txt", b"y" * MAX_SOURCE_CHARS, **LIMITS)
    assert OutlineRequest(topic="Long texts", source_material=text).source_material == text


def test_extracted_text_is_always_valid_source_material() -> None:
    hostile = "a\u2028b\x0bc\x85d\x9f\x1be".encode()
    text = extract_text("a.txt", hostile, **LIMITS)
    assert text == "a\nb\nc\nde"  # line ends kept as breaks, other controls dropped
    assert OutlineRequest(topic="Odd characters", source_material=text).source_material == text
