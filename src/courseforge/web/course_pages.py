"""The course pages: the viewer's courses, one course for reading, publish and export."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
