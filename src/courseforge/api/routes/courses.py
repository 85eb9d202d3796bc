"""Courses: queue one from an approved outline; read, list versions, publish, export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from courseforge.api.caching import NOT_MODIFIED, unless_unchanged
from courseforge.api.context import Context, CurrentUser
from courseforge.api.errors import ApiError, not_found, responses
from courseforge.api.idempotency import EnqueueOnce
from courseforge.api.params import CourseId, Cursor
from courseforge.api.routes.jobs import visible_snapshot
from courseforge.api.schemas import (
    CourseCreate,
    CourseDetailOut,
    CourseOut,
    CoursePage,
    Queued,
    VersionOut,
    course_detail_out,
    course_out,
    version_out,
)
from courseforge.domain.accounts import User
from courseforge.domain.course import Course
from courseforge.domain.outline import CourseRequest, OutlineRequest, course_brief
from courseforge.export.registry import EXPORTERS, FORMAT_NAMES, export
from courseforge.queue.job_queue import Enqueued

router = APIRouter(prefix="/api/courses", tags=["courses"])


@router.post(
    "",
    status_code=202,
    response_model=Queued,
    responses=responses(400, 401, 404, 409, 413, 415, 422, 429),
)
async def create_course(
    body: CourseCreate, context: Context, user: CurrentUser, enqueue_once: EnqueueOnce
) -> JSONResponse:
    """Queues generation of a course from an approved (possibly edited) outline."""

    async def enqueue() -> Enqueued:
        return await context.runtime.queue.enqueue_course(
            await _brief(context, user, body),
            user,
            body.outline,
            priority=body.priority,
            auto_publish=body.auto_publish,
            rate_limited=True,
        )

    return await enqueue_once(enqueue, duplicate="this outline is already being generated")


@router.get("", response_model=CoursePage, responses=responses(400, 401, 422))
async def list_courses(
    context: Context,
    user: CurrentUser,
    status: Literal["draft", "published"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> CoursePage:
    """Your courses (an admin: the organization's), newest first."""
    page = await context.courses.list_courses(user, limit=limit, cursor=cursor, status=status)
    return CoursePage(items=[course_out(item) for item in page.items], next_cursor=page.next_cursor)


@router.get(
    "/{course_id}",
    response_model=CourseDetailOut,
    responses={**responses(401, 404, 422), **NOT_MODIFIED},
)
async def get_course(
    course_id: CourseId,
    context: Context,
    user: CurrentUser,
    response: Response,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> CourseDetailOut | Response:
    """The course: its current (or the given) version's content and quality report."""
    detail = await _detail(context, course_id, user, version)
    return unless_unchanged(detail, if_none_match, response)


@router.get(
    "/{course_id}/versions",
    response_model=list[VersionOut],
    responses=responses(401, 404, 422),
)
async def course_versions(
    course_id: CourseId, context: Context, user: CurrentUser
) -> list[VersionOut]:
    """Every stored version of the course, oldest first."""
    return [version_out(v) for v in await context.courses.versions(course_id, user)]


@router.post(
    "/{course_id}/publish", response_model=CourseOut, responses=responses(401, 404, 409, 422)
)
async def publish_course(course_id: CourseId, context: Context, user: CurrentUser) -> CourseOut:
    """Publishes the course's current version (again: no change)."""
    return course_out(await context.courses.publish(course_id, user))


@router.get(
    "/{course_id}/export",
    responses={
        **responses(401, 404, 409, 422),
        200: {
            "description": "the course as a file",
            "content": {e.media_type.split(";")[0]: {} for e in EXPORTERS.values()},
        },
    },
    response_class=Response,
)
async def export_course(
    course_id: CourseId,
    context: Context,
    user: CurrentUser,
    format: Annotated[
        str,
        Query(
            description="the file's format",
            pattern=f"^(?:{'|'.join(FORMAT_NAMES)})$",
            json_schema_extra={"enum": list(FORMAT_NAMES)},
        ),
    ] = "json",
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """Downloads the course in a format of export/registry.py (JSON, Markdown, a
    standalone sanitized HTML page, ...)."""
    detail = await _detail(context, course_id, user, version)
    if detail.content is None:
        raise ApiError(409, "the course has no version yet; wait for its job to complete")
    filename, exporter, content = export(Course.model_validate(detail.content), format)
    return Response(
        content,
        media_type=exporter.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _detail(
    context: Context, course_id: str, user: User, version: int | None
) -> CourseDetailOut:
    return course_detail_out(await context.courses.get_course(course_id, user, version))


async def _brief(context: Context, user: User, body: CourseCreate) -> CourseRequest:
    """The brief from the named outline job (404 unless it is one the user may see)."""
    drafted_from = None
    if body.outline_job_id is not None:
        snapshot = await visible_snapshot(context, body.outline_job_id, user)
        if not isinstance(snapshot.job.request, OutlineRequest):
            raise not_found("outline job", body.outline_job_id)
        drafted_from = snapshot.job.request
    return course_brief(
        body.outline,
        drafted_from,
        tasks_per_lesson=body.tasks_per_lesson,
        questions_per_quiz=body.questions_per_quiz,
    )
