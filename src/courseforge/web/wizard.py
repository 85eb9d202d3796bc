"""The new-course wizard: brief, outline candidates, editing, generate & queue.

Step 1 (here): the brief, typed or with uploaded source material, validated by the
API's own `OutlineRequest`; "Draft outlines" queues the outline job and keeps a draft
row (store/outline_drafts.py) that the later steps (web/wizard_steps.py) work on.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from courseforge.domain.outline import OutlineRequest
from courseforge.ingest.sources import ACCEPTED_SUFFIXES, SourceRejected, extract_text
from courseforge.queue.quotas import CreationRateExceededError
from courseforge.settings import Settings
from courseforge.store.outline_drafts import OutlineDrafts
from courseforge.web import wizard_steps
from courseforge.web.pages import TEMPLATES, SignedIn, page
from courseforge.web.sessions import runtime_of
from courseforge.web.wizard_forms import (
    BRIEF_NUMBER_FIELDS,
    BriefForm,
    bounds,
    brief_values,
    default_brief,
    field_label,
    parse_brief,
)

router = APIRouter(include_in_schema=False)
TEMPLATES.env.filters["field_label"] = field_label  # how error summaries name a field
router.include_router(wizard_steps.router)
# Text fields of the brief are small; the pasted source material is the largest
# (60,000 characters, up to 4 bytes each in UTF-8).
MAX_FIELD_BYTES = 256 * 1024


@router.get("/courses/new", response_class=HTMLResponse)
async def brief_form(request: Request, user: SignedIn) -> Response:
    return brief_page(request, user, BriefForm(default_brief()))


@router.post("/courses/new", response_class=HTMLResponse)
async def draft_outlines(request: Request, user: SignedIn) -> Response:
    """Queues the outline job for the brief, keeps a draft, and goes to step 2."""
    runtime = runtime_of(request)
    # Closed on leaving: an uploaded file's spooled copy goes with it.
    async with request.form(max_files=1, max_fields=40, max_part_size=MAX_FIELD_BYTES) as form:
        brief = BriefForm(brief_values(form))
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            await _add_upload(brief, upload, runtime.settings)
    outline_request, errors = parse_brief(brief.values)
    brief.errors = errors | brief.errors
    if outline_request is None or brief.errors:
        return brief_page(request, user, brief, status=422)
    try:
        enqueued = await runtime.queue.enqueue_outline(outline_request, user)
    except CreationRateExceededError as over:
        headers = {"Retry-After": str(over.retry_after_s)}
        return brief_page(request, user, brief, status=429, headers=headers, refusal=over.message)
    draft = await OutlineDrafts(runtime.database, runtime.clock).create(
        user,
        enqueued.job_id,
        tasks_per_lesson=outline_request.tasks_per_lesson,
        questions_per_quiz=outline_request.questions_per_quiz,
    )
    return RedirectResponse(f"/courses/new/{draft.id}", status_code=303)


async def _add_upload(brief: BriefForm, upload: UploadFile, settings: Settings) -> None:
    """The file's text joins the pasted source material; a refused file is an error on
    the file field (whatever was typed stays in the form)."""
    data = await upload.read(settings.upload_max_bytes + 1)  # one byte over: "too large"
    try:
        text = await run_in_threadpool(
            extract_text,
            upload.filename or "",
            data,
            max_bytes=settings.upload_max_bytes,
            max_pages=settings.upload_max_pages,
        )
    except SourceRejected as refused:
        brief.errors["file"] = f"{upload.filename}: {refused}"
        return
    pasted = brief.values.get("source_material", "").strip()
    brief.values["source_material"] = f"{pasted}\n\n{text}" if pasted else text


def brief_page(
    request: Request,
    user: SignedIn,
    brief: BriefForm,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    refusal: str | None = None,
) -> Response:
    return page(
        request,
        "wizard_brief.html",
        status=status,
        headers=headers,
        user=user,
        nav="new",
        values=brief.values,
        errors=brief.errors,
        refusal=refusal,
        bounds={name: bounds(OutlineRequest, name) for name in BRIEF_NUMBER_FIELDS},
        accept=",".join(ACCEPTED_SUFFIXES),
    )
