"""The new-course wizard: brief, outline candidates, editing, generate & queue."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
