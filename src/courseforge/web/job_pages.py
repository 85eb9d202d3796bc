"""The job page: one job's progress, steps and log, live."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
