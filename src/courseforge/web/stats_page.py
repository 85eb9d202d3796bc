"""The admins' statistics page, its charts drawn as SVG on the server."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
