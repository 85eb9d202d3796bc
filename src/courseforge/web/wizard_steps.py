"""The wizard's steps on one draft (`/courses/new/{draft_id}`): the outline job's
progress and its candidates (step 2), the picked outline's editor (step 3), and
"Generate & queue" (step 4).

Every change is a form post that saves the draft and redirects back to it, so a reload
shows what was saved and nothing typed is lost. A draft is its owner's alone: anyone
else gets the same 404 as for an id that does not exist.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from courseforge.domain.accounts import User
from courseforge.domain.jobs import ACTIVE_STATUSES
from courseforge.domain.outline import (
    MAX_PRIORITY,
    CourseOutline,
    OutlineRequest,
    course_brief,
)
from courseforge.queue.quotas import CreationRateExceededError
from courseforge.runtime import Runtime
from courseforge.store.job_store import JobNotFoundError
from courseforge.store.job_view import snapshot_view
from courseforge.store.outline_drafts import DraftNotFoundError, OutlineDraft, OutlineDrafts
from courseforge.web.pages import SignedIn, not_found_page, page
from courseforge.web.sessions import runtime_of
from courseforge.web.wizard_edits import apply_action
from courseforge.web.wizard_forms import (
    FieldErrors,
    errors_by_field,
    outline_from_form,
    parse_number,
)

router = APIRouter(include_in_schema=False)
DRAFT = "/courses/new/{draft_id}"
MAX_OUTLINE_FIELDS = 2_000  # 12 modules of 8 lessons, a handful of fields each


@router.get(DRAFT, response_class=HTMLResponse)
async def draft_page(request: Request, user: SignedIn, draft_id: str) -> Response:
    runtime = runtime_of(request)
    try:
        draft = await _drafts(runtime).get(draft_id, user)
        if draft.course_job_id is not None:
            return _page(request, user, "wizard_queued.html", draft=draft)
        if draft.outline is not None:
            return edit_page(request, user, draft, draft.outline)
        step = await _outline_step(runtime, user, draft)
    except (DraftNotFoundError, JobNotFoundError):
        return not_found_page(request, user, "course draft")
    return _page(request, user, "wizard_candidates.html", draft=draft, **step)


@router.get(DRAFT + "/progress", response_class=HTMLResponse)
async def outline_progress(request: Request, user: SignedIn, draft_id: str) -> Response:
    """Step 2's live part, polled by htmx until the outline job has finished."""
    runtime = runtime_of(request)
    try:
        draft = await _drafts(runtime).get(draft_id, user)
        step = await _outline_step(runtime, user, draft)
    except (DraftNotFoundError, JobNotFoundError):
        return not_found_page(request, user, "course draft")
    return _page(request, user, "wizard_progress.html", draft=draft, **step)


@router.post(DRAFT + "/retry")
async def retry_outlines(request: Request, user: SignedIn, draft_id: str) -> Response:
    runtime = runtime_of(request)
    try:
        draft = await _drafts(runtime).get(draft_id, user)
    except DraftNotFoundError:
        return not_found_page(request, user, "course draft")
    await runtime.queue.retry(draft.outline_job_id)  # False: already queued again
    return _back_to(draft_id)


@router.post(DRAFT + "/pick")
async def pick_outline(
    request: Request, user: SignedIn, draft_id: str, candidate: Annotated[int, Form(ge=0)]
) -> Response:
    """Step 2 -> 3: the chosen candidate becomes the draft's outline to edit."""
    runtime = runtime_of(request)
    try:
        draft = await _drafts(runtime).get(draft_id, user)
        candidates = await runtime.store.outline_candidates(draft.outline_job_id)
        if candidate < len(candidates) and draft.outline is None:
            chosen = candidates[candidate].model_dump(mode="json")
            await _drafts(runtime).save_outline(draft_id, user, chosen)
    except DraftNotFoundError:
        return not_found_page(request, user, "course draft")
    return _back_to(draft_id)


@router.post(DRAFT + "/outline", response_class=HTMLResponse)
async def edit_outline(request: Request, user: SignedIn, draft_id: str) -> Response:
    """Saves the posted outline after the pressed button's action; "save" and "generate"
    validate it (errors shown next to their fields), "generate" then queues the course."""
    runtime = runtime_of(request)
    async with request.form(max_files=0, max_fields=MAX_OUTLINE_FIELDS) as form:
        action = str(form.get("action") or "save")
        outline = apply_action(outline_from_form(form), action)
        order = {
            "priority": str(form.get("priority") or "0"),
            "auto_publish": "auto_publish" in form,
        }
    try:
        draft = await _drafts(runtime).get(draft_id, user)
        if draft.course_job_id is not None:
            return _back_to(draft_id)  # queued already: the page says so
        await _drafts(runtime).save_outline(draft_id, user, outline)
    except DraftNotFoundError:
        return not_found_page(request, user, "course draft")
    if action not in ("save", "generate"):
        return _back_to(draft_id, _anchor(action, len(outline["modules"])))
    try:
        approved = CourseOutline.model_validate(outline)
    except ValidationError as invalid:
        return edit_page(request, user, draft, outline, errors_by_field(invalid), order, 422)
    if action == "save":
        return _back_to(draft_id)
    return await _generate(request, user, draft, approved, order)


async def _generate(
    request: Request,
    user: User,
    draft: OutlineDraft,
    approved: CourseOutline,
    order: dict[str, Any],
) -> Response:
    """Step 4: queues the course from the approved outline, then to the dashboard."""
    runtime = runtime_of(request)
    priority = parse_number(order["priority"], 0, MAX_PRIORITY)
    if priority is None:
        problem = {"priority": f"Enter a whole number from 0 to {MAX_PRIORITY}"}
        return edit_page(request, user, draft, approved.model_dump(), problem, order, 422)
    drafted = (await runtime.reads.jobs.snapshot(draft.outline_job_id, user)).job.request
    brief = course_brief(
        approved,
        drafted if isinstance(drafted, OutlineRequest) else None,
        tasks_per_lesson=draft.tasks_per_lesson,
        questions_per_quiz=draft.questions_per_quiz,
    )
    try:
        enqueued = await runtime.queue.enqueue_course(
            brief,
            user,
            approved,
            priority=priority,
            auto_publish=bool(order["auto_publish"]),
            rate_limited=True,
        )
    except CreationRateExceededError as over:
        outline = approved.model_dump()
        return edit_page(
            request, user, draft, outline, {"": over.message}, order, 429, over.retry_after_s
        )
    # A second "Generate" at the same time finds it marked: the queue gave both one job.
    with contextlib.suppress(DraftNotFoundError):
        await _drafts(runtime).mark_queued(draft.id, user, enqueued.job_id)
    return RedirectResponse(f"/?queued={enqueued.job_id}", status_code=303)


def edit_page(
    request: Request,
    user: User,
    draft: OutlineDraft,
    outline: dict[str, Any],
    errors: FieldErrors | None = None,
    order: dict[str, Any] | None = None,
    status: int = 200,
    retry_after_s: int | None = None,
) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return page(
        request,
        "wizard_edit.html",
        status=status,
        headers=headers,
        user=user,
        nav="new",
        draft=draft,
        outline=outline,
        errors=errors or {},
        order=order or {"priority": "0", "auto_publish": False},
        max_priority=MAX_PRIORITY,
    )


async def _outline_step(runtime: Runtime, user: User, draft: OutlineDraft) -> dict[str, Any]:
    snapshot = await runtime.reads.jobs.snapshot(draft.outline_job_id, user)
    job = snapshot_view(snapshot, runtime.clock.now())
    active = job.status in ACTIVE_STATUSES
    candidates = [] if active else await runtime.store.outline_candidates(job.id)
    return {"job": job, "active": active, "candidates": candidates}


def _page(request: Request, user: User, template: str, **context: Any) -> Response:
    return page(request, template, user=user, nav="new", **context)


def _drafts(runtime: Runtime) -> OutlineDrafts:
    return OutlineDrafts(runtime.database, runtime.clock)


def _back_to(draft_id: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/courses/new/{draft_id}{anchor}", status_code=303)


def _anchor(action: str, modules: int) -> str:
    """Where the page opens after a structural action: the module it changed (after an
    add, the new last one; after a removal, the one now in its place)."""
    name, _, arguments = action.partition(":")
    first = arguments.split(":")[0]
    if name == "add_module":
        target = modules - 1
    elif first.isdigit():
        target = int(first) + {"module_up": -1, "module_down": 1}.get(name, 0)
    else:
        return "#modules"
    return f"#module-{min(max(target, 0), modules - 1)}" if modules else "#modules"
