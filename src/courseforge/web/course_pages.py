"""The course pages: the viewer's courses, one course for reading, publish and export.

Reading goes through the same read model as the API (`runtime.reads.courses`), so a
course that is not the viewer's is not found here either. Export links point at the API
(`/api/courses/{id}/export`), which takes the session cookie: one export, not two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from courseforge.domain.accounts import User
from courseforge.domain.course import Course
from courseforge.export.registry import EXPORTERS
from courseforge.export.rendering import markdown_html
from courseforge.store.course_listing import (
    COURSE_STATUSES,
    CourseDetail,
    CourseNotFoundError,
    CourseNotReadyError,
)
from courseforge.store.pages import InvalidCursorError
from courseforge.web.pages import SignedIn, not_found_page, page
from courseforge.web.sessions import runtime_of

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
# Fixed messages chosen by a key in the URL: a link can never make the page say anything.
NOTICES = {
    "published": "The course is published.",
    "not-ready": "The course has no version yet: publish it once its generation has finished.",
}
# A lesson is an h3 on the page: its own headings start at h4.
LESSON_HEADING_OFFSET = 3


@dataclass(frozen=True)
class ListFilter:
    status: str | None  # "draft", "published" or None (both)
    cursor: str | None

    def url(self, *, status: str | None = None, cursor: str | None = None) -> str:
        query = {"status": status, "cursor": cursor}
        return "/courses" + _query_string(query)


@router.get("/courses", response_class=HTMLResponse)
async def course_list(
    request: Request, user: SignedIn, status: str | None = None, cursor: str | None = None
) -> Response:
    """Drafts and published courses, newest first, filtered and paged in the URL."""
    shown = ListFilter(status if status in COURSE_STATUSES else None, cursor)
    listing = runtime_of(request).reads.courses
    try:
        courses = await listing.list_courses(
            user, limit=PAGE_SIZE, cursor=shown.cursor, status=shown.status
        )
    except InvalidCursorError:  # an edited link: start again from the newest
        shown = ListFilter(shown.status, None)
        courses = await listing.list_courses(user, limit=PAGE_SIZE, status=shown.status)
    scores = await listing.quality_scores([course.id for course in courses.items], user)
    return page(
        request,
        "courses.html",
        user=user,
        nav="courses",
        courses=courses,
        scores=scores,
        shown=shown,
        statuses=COURSE_STATUSES,
    )


@router.get("/courses/{course_id}", response_class=HTMLResponse)
async def course_page(
    request: Request,
    course_id: str,
    user: SignedIn,
    version: str | None = None,
    notice: str | None = None,
) -> Response:
    """The course for reading: its current version, or `?version=N`."""
    listing = runtime_of(request).reads.courses
    wanted = _version_number(version)
    if wanted == 0:
        return not_found_page(request, user, "course")
    try:
        detail = await listing.get_course(course_id, user, wanted)
        versions = await listing.versions(course_id, user)
    except CourseNotFoundError:
        return not_found_page(request, user, "course")
    return page(request, "course.html", **_course_context(user, detail, versions, notice))


@router.post("/courses/{course_id}/publish")
async def publish_course(request: Request, course_id: str, user: SignedIn) -> Response:
    """Publishes the current version and goes back to the course with a notice."""
    try:
        await runtime_of(request).reads.courses.publish(course_id, user)
    except CourseNotFoundError:
        return not_found_page(request, user, "course")
    except CourseNotReadyError:
        return _back_to_course(course_id, "not-ready")
    return _back_to_course(course_id, "published")


def _course_context(
    user: User, detail: CourseDetail, versions: list[Any], notice: str | None
) -> dict[str, Any]:
    course = Course.model_validate(detail.content) if detail.content is not None else None
    return {
        "user": user,
        "nav": "courses",
        "summary": detail.summary,
        "version": detail.version,
        "course": course,
        "quality": detail.quality,
        "versions": versions,
        "notice": NOTICES.get(notice or ""),
        "exports": _export_links(detail),
        "lesson_html": _lesson_html,
    }


def _export_links(detail: CourseDetail) -> list[tuple[str, str]]:
    """(label, URL) of each export of the version shown."""
    base = f"/api/courses/{detail.summary.id}/export"
    return [
        (exporter.label, base + _query_string({"format": name, "version": detail.version}))
        for name, exporter in EXPORTERS.items()
    ]


def _lesson_html(markdown: str) -> Markup:
    return markdown_html(markdown, heading_offset=LESSON_HEADING_OFFSET)


def _version_number(version: str | None) -> int | None:
    """The version asked for; 0 (no such version) for anything but a positive number."""
    if version is None or version == "":
        return None
    return int(version) if version.isdigit() and len(version) <= 7 else 0


def _back_to_course(course_id: str, notice: str) -> Response:
    return RedirectResponse(f"/courses/{course_id}?notice={notice}", status_code=303)


def _query_string(values: Mapping[str, object]) -> str:
    present = {name: value for name, value in values.items() if value is not None}
    return "?" + urlencode(present) if present else ""
