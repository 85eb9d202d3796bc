"""Conditional GET: an ETag from the body, and 304 when the client already has it."""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel

Body = TypeVar("Body", bound=BaseModel)
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (the ETag matches)"}
}


def unless_unchanged(body: Body, if_none_match: str | None, response: Response) -> Body | Response:
    """`body` with its ETag (revalidated on every use), or a bare 304 when it matches."""
    etag = '"' + hashlib.sha256(body.model_dump_json().encode()).hexdigest()[:32] + '"'
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "private, no-cache"
    return body
