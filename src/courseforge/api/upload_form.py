"""An outline brief sent as multipart/form-data: the JSON brief's fields as form fields,
and an optional `file` whose extracted text becomes the source material.

The form is validated by the same `OutlineRequest` model as JSON (in lax mode: a form's
values are all text), so its errors read the same. The JSON route keeps FastAPI's own
body parsing: the multipart route at the same path matches multipart requests only.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import Scope

from courseforge.api.errors import ApiError
from courseforge.domain.outline import OutlineRequest
from courseforge.ingest.sources import SourceRejected, extract_text
from courseforge.settings import Settings
from courseforge.web.csrf import MULTIPART_TYPE

FILE_FIELD = "file"
MAX_FORM_FIELDS = 32  # the brief has a dozen


class MultipartRoute(APIRoute):
    """A route that matches only multipart/form-data requests."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.FULL and _media_type(scope) != MULTIPART_TYPE:
            return Match.NONE, {}
        return match, child


async def brief_from_form(request: Request, settings: Settings) -> OutlineRequest:
    await request.body()  # kept: the Idempotency-Key check reads the body again
    form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    try:
        fields, upload = _fields_and_file(form)
        if upload is not None:
            fields["source_material"] = await _text_of(upload, settings)
    finally:
        await form.close()
    return _validated(fields)


def _fields_and_file(form: FormData) -> tuple[dict[str, Any], UploadFile | None]:
    fields: dict[str, Any] = {}
    upload: UploadFile | None = None
    for name, value in form.multi_items():
        if name in fields or (name == FILE_FIELD and upload is not None):
            raise _invalid(name, "given more than once; send each field once")
        if isinstance(value, str):
            fields[name] = value
        elif name == FILE_FIELD:
            upload = value
        else:
            raise _invalid(name, f"only the `{FILE_FIELD}` field may be a file")
    if upload is not None and "source_material" in fields:
        raise _invalid(FILE_FIELD, "send source_material or a file, not both")
    return fields, upload


async def _text_of(upload: UploadFile, settings: Settings) -> str:
    limit = settings.upload_max_bytes
    if upload.size is not None and upload.size > limit:
        raise ApiError(413, f"the uploaded file is over the limit of {limit} bytes")
    data = await upload.read()
    try:
        # Parsing a PDF of many pages takes a while: off the event loop.
        return await asyncio.to_thread(
            extract_text,
            upload.filename or "",
            data,
            max_bytes=limit,
            max_pages=settings.upload_max_pages,
        )
    except SourceRejected as rejected:
        raise _invalid(FILE_FIELD, str(rejected)) from rejected


def _validated(fields: dict[str, Any]) -> OutlineRequest:
    try:
        return OutlineRequest.model_validate(fields, strict=False)
    except ValidationError as invalid:
        errors = invalid.errors(include_url=False, include_context=False)
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in errors]
        ) from invalid


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return str(value.decode("latin-1")).split(";")[0].strip().lower()
    return ""
