"""The ids and cursors in paths and queries, declared once for every route.

Each rule is in the OpenAPI document and enforced before anything reaches the database
(PostgreSQL refuses a NUL byte with an error of its own): an id by FastAPI (422), a
cursor by the store, which decodes it before any query (400).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import WithJsonSchema

from courseforge.store.pages import CURSOR_PATTERN, ROW_ID_PATTERN

ID_PATTERN = f"^{ROW_ID_PATTERN}$"
ID_EXAMPLE = "3f1c2a4e-8b7d-4c6e-9a1b-2d3e4f5a6b7c"

JobId = Annotated[str, Path(pattern=ID_PATTERN, description="a job's id", examples=[ID_EXAMPLE])]
CourseId = Annotated[
    str, Path(pattern=ID_PATTERN, description="a course's id", examples=[ID_EXAMPLE])
]


def declared_text(pattern: str) -> WithJsonSchema:
    """The schema of an optional query or header value checked by our code (400), not by
    FastAPI: a string matching `pattern` (not "string or null": a header cannot be null)."""
    return WithJsonSchema({"type": "string", "pattern": pattern})


Cursor = Annotated[
    str | None,
    Query(description="the next_cursor of the previous page, unchanged"),
    declared_text(CURSOR_PATTERN),  # checked by the store before any query
]
