"""POST /api/outlines as multipart/form-data: an uploaded file's text becomes the brief's
source material; a file that cannot be used is refused, over real HTTP on both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from courseforge.runtime import open_runtime
from tests.api.conftest import LiveApi, api_settings
from tests.ingest.documents import docx_with, pdf_with_pages

UPLOAD_LIMIT = 64 * 1024
FORM = {"topic": "Rock pools", "modules": "2", "lessons_per_module": "2", "candidates": "1"}


@pytest.fixture
def api_overrides() -> dict[str, object]:
    # jobs stay queued: these tests read the brief, not the outlines
    return {"max_running_teacher": 0, "upload_max_bytes": UPLOAD_LIMIT}


async def upload(
    client: httpx.AsyncClient, filename: str, data: bytes, **fields: str
) -> httpx.Response:
    return await client.post(
        "/api/outlines", data={**FORM, **fields}, files={"file": (filename, data)}
    )


async def source_material_of(api: LiveApi, job_id: str) -> str | None:
    async with open_runtime(api_settings(api.database_url)) as runtime:
        snapshot = await runtime.reads.jobs.snapshot(job_id)
    return snapshot.job.request.source_material


@pytest.mark.parametrize(
    ("filename", "data", "text"),
    [
        ("notes.txt", "Anémones close at low tide.\r\n".encode(), "Anémones close at low tide."),
        ("notes.md", b"# Limpets\n\n\n\nThey   hold on.", "# Limpets\n\nThey hold on."),
        ("notes.pdf", pdf_with_pages("Barnacles filter food."), "Barnacles filter food."),
        ("notes.docx", docx_with(["Crabs hide.", "Gulls hunt."]), "Crabs hide.\n\nGulls hunt."),
    ],
)
async def test_an_uploaded_files_text_becomes_the_briefs_source_material(
    api: LiveApi, filename: str, data: bytes, text: str
) -> None:
    async with api.client("alice") as alice:
        response = await upload(alice, filename, data)
    assert response.status_code == 202, response.text
    assert await source_material_of(api, response.json()["job_id"]) == text


async def test_a_form_without_a_file_makes_a_brief_of_its_fields(api: LiveApi) -> None:
    # (None, value): a plain field, sent as multipart/form-data
    fields = {name: (None, value) for name, value in {**FORM, "source_material": "Typed."}.items()}
    async with api.client("alice") as alice:
        response = await alice.post("/api/outlines", files=fields)
    assert response.status_code == 202, response.text
    assert await source_material_of(api, response.json()["job_id"]) == "Typed."


def file_error(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert [error["field"] for error in body["errors"]] == ["file"]
    message: str = body["errors"][0]["message"]
    assert message in body["detail"]
    return message


async def test_a_scanned_pdf_is_refused_naming_the_file(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        response = await upload(alice, "scan.pdf", pdf_with_pages(""))
    assert "no text layer" in file_error(response)


async def test_an_unknown_extension_is_refused_naming_the_file(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        response = await upload(alice, "slides.pptx", b"PK\x03\x04")
    assert ".txt, .md, .pdf or .docx" in file_error(response)


async def test_a_file_and_source_material_together_are_refused(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        response = await upload(alice, "a.txt", b"text", source_material="more text")
    assert "not both" in file_error(response)


async def test_an_upload_over_the_limit_is_413(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        just_over = await upload(alice, "big.txt", b"a" * (UPLOAD_LIMIT + 1))
        # over the whole body cap too: refused by the request guard before the route
        far_over = await upload(alice, "huge.txt", b"a" * (UPLOAD_LIMIT + 600 * 1024))
    assert just_over.status_code == 413, just_over.text
    assert far_over.status_code == 413, far_over.text
    assert "limit" in just_over.json()["detail"]


async def test_form_fields_are_validated_like_the_json_brief(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        bad_form = await upload(alice, "a.txt", b"text", modules="99", colour="blue")
        bad_json = await alice.post(
            "/api/outlines", json={"topic": "Rock pools", "modules": 99, "colour": "blue"}
        )
    assert bad_form.status_code == bad_json.status_code == 422
    assert bad_form.json()["errors"] == bad_json.json()["errors"]


async def test_multipart_elsewhere_in_the_api_is_still_415(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        response = await alice.post("/api/courses", files={"file": ("a.txt", b"text")})
    assert response.status_code == 415
