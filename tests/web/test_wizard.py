"""The new-course wizard over real HTTP: brief (typed or uploaded), candidates, the
outline editor's actions kept across reloads, errors beside their fields, queueing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from courseforge.llm.port import LLMProvider
from courseforge.store.database import Database
from courseforge.store.job_store import JobStore
from courseforge.store.outline_drafts import OutlineDraft, OutlineDrafts
from tests.api.conftest import LiveApi
from tests.api.helpers import follow
from tests.web.conftest import browser, csrf_token, log_in
from tests.web.job_providers import SteeredProvider

BRIEF = {
    "topic": "Tide pools",
    "audience": "curious hikers",
    "level": "beginner",
    "language": "en",
    "modules": "2",
    "lessons_per_module": "2",
    "tasks_per_lesson": "1",
    "questions_per_quiz": "2",
    "candidates": "2",
}


@pytest.fixture
def web_worker() -> bool:
    return True  # outline jobs must finish for step 2


class Visitor:
    """A signed-in browser (cookies kept, redirects not followed) and its CSRF token."""

    def __init__(self, web: LiveApi, client: httpx.AsyncClient, token: str) -> None:
        self.web, self.client, self.token = web, client, token

    async def post(self, path: str, form: dict[str, str], **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, data={**form, "csrftoken": self.token}, **kwargs)


async def visitor(web: LiveApi, name: str) -> AsyncIterator[Visitor]:
    async with browser(web) as client:
        assert (await log_in(client, name)).status_code == 303
        yield Visitor(web, client, await csrf_token(client, "/courses/new"))


@pytest.fixture
async def alice(web: LiveApi) -> AsyncIterator[Visitor]:
    async for signed_in in visitor(web, "alice"):
        yield signed_in


@pytest.fixture
async def bob(web: LiveApi) -> AsyncIterator[Visitor]:
    async for signed_in in visitor(web, "bob"):
        yield signed_in


async def stored_draft(web: LiveApi, draft_id: str, owner: str = "alice") -> OutlineDraft:
    database = Database(web.database_url)
    try:
        return await OutlineDrafts(database).get(draft_id, web.users[owner])
    finally:
        await database.dispose()


async def saved(alice: Visitor, draft_id: str) -> dict[str, Any]:
    outline = (await stored_draft(alice.web, draft_id)).outline
    assert outline is not None
    return outline


async def start_draft(alice: Visitor, **changes: str) -> str:
    response = await alice.post("/courses/new", {**BRIEF, **changes})
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/courses/new/([0-9a-f-]{36})", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


async def outlines_drafted(alice: Visitor, draft_id: str) -> str:
    """Waits (on the job's event stream) for the draft's outline job to finish."""
    job_id = (await stored_draft(alice.web, draft_id)).outline_job_id
    async with alice.web.client("alice") as api:
        events = await follow(api, job_id, until="job_completed")
    assert events[-1].type == "job_completed"
    return job_id


async def picked(alice: Visitor) -> tuple[str, dict[str, Any]]:
    """A draft whose first candidate was picked, and that outline."""
    draft_id = await start_draft(alice)
    await outlines_drafted(alice, draft_id)
    response = await alice.post(f"/courses/new/{draft_id}/pick", {"candidate": "0"})
    assert response.status_code == 303
    outline = (await stored_draft(alice.web, draft_id)).outline
    assert outline is not None
    return draft_id, outline


def outline_form(outline: dict[str, Any], action: str = "save", **extra: str) -> dict[str, str]:
    """The edit form's fields for `outline`, as the page posts them."""
    form = {
        "action": action,
        "title": outline["title"],
        "description": outline["description"],
        "audience": outline["audience"],
        "level": outline["level"],
        "language": outline["language"],
        "learning_objectives": "\n".join(outline["learning_objectives"]),
    }
    for m, module in enumerate(outline["modules"]):
        form[f"modules.{m}.title"] = module["title"]
        form[f"modules.{m}.summary"] = module["summary"]
        form[f"modules.{m}.learning_objectives"] = "\n".join(module["learning_objectives"])
        form[f"modules.{m}.source_topics"] = "\n".join(module["source_topics"])
        for n, lesson in enumerate(module["lessons"]):
            form[f"modules.{m}.lessons.{n}.title"] = lesson["title"]
            form[f"modules.{m}.lessons.{n}.objectives"] = "\n".join(lesson["objectives"])
    return form | extra


def field_tag(html: str, field_id: str) -> str:
    found = re.search(rf'<(?:input|textarea|select)[^>]* id="{field_id}"[^>]*>', html)
    assert found, f"no field {field_id}"
    return found.group(0)


def assert_error_beside(html: str, field_id: str, words: str) -> None:
    tag = field_tag(html, field_id)
    assert 'aria-invalid="true"' in tag
    assert f"{field_id}-error" in tag  # aria-describedby
    error = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', html)
    assert error, f"no error beside {field_id}"
    assert words in error.group(1)


async def test_the_wizard_needs_a_session(web: LiveApi) -> None:
    async with browser(web) as client:
        page = await client.get("/courses/new")
        draft = await client.get("/courses/new/00000000-0000-0000-0000-000000000000")
    assert page.status_code == draft.status_code == 303
    assert page.headers["location"] == "/login?next=/courses/new"


async def test_a_post_without_the_csrf_token_is_refused(alice: Visitor) -> None:
    response = await alice.client.post("/courses/new", data=BRIEF)
    assert response.status_code == 403


async def test_brief_errors_are_shown_beside_their_fields_and_keep_what_was_typed(
    alice: Visitor,
) -> None:
    response = await alice.post("/courses/new", {**BRIEF, "topic": "", "modules": "99"})
    assert response.status_code == 422
    assert_error_beside(response.text, "f-topic", "at least 3 characters")
    assert_error_beside(response.text, "f-modules", "less than or equal to 12")
    assert 'value="curious hikers"' in response.text
    assert 'value="99"' in response.text


async def test_draft_pick_edit_and_queue(alice: Visitor) -> None:
    draft_id = await start_draft(alice)
    await outlines_drafted(alice, draft_id)
    candidates = await alice.client.get(f"/courses/new/{draft_id}")
    assert candidates.status_code == 200
    assert candidates.text.count("Use this outline") == 2
    assert "hx-trigger" not in candidates.text  # finished: no more polling

    await alice.post(f"/courses/new/{draft_id}/pick", {"candidate": "1"})
    editor = await alice.client.get(f"/courses/new/{draft_id}")
    outline = (await stored_draft(alice.web, draft_id)).outline
    assert outline is not None
    assert f'value="{outline["modules"][0]["title"]}"' in editor.text

    form = outline_form(outline, "generate", priority="7", auto_publish="on")
    queued = await alice.post(f"/courses/new/{draft_id}/outline", form | {"title": "Rock pools"})
    assert queued.status_code == 303
    job_id = queued.headers["location"].removeprefix("/?queued=")
    async with alice.web.client("alice") as api:
        job = (await api.get(f"/api/jobs/{job_id}")).json()
    assert (job["kind"], job["topic"]) == ("course", BRIEF["topic"])  # the outline job's brief
    again = await alice.client.get(f"/courses/new/{draft_id}")
    assert "Already queued" in again.text
    assert f'href="/jobs/{job_id}"' in again.text


async def test_an_invalid_outline_shows_errors_beside_fields_and_queues_nothing(
    alice: Visitor,
) -> None:
    draft_id, outline = await picked(alice)
    form = outline_form(outline, "generate", **{"modules.1.lessons.0.title": " "})
    response = await alice.post(f"/courses/new/{draft_id}/outline", form | {"title": "New"})

    assert response.status_code == 422
    assert_error_beside(response.text, "f-modules-1-lessons-0-title", "at least 3 characters")
    assert 'href="#f-modules-1-lessons-0-title"' in response.text  # the summary links to it
    assert (await stored_draft(alice.web, draft_id)).course_job_id is None
    assert (await saved(alice, draft_id))["title"] == "New"  # what was typed is kept
    async with alice.web.client("alice") as api:
        jobs = (await api.get("/api/jobs")).json()["items"]
    assert [job["kind"] for job in jobs] == ["outline"]


async def test_add_remove_and_move_are_kept_across_a_reload(alice: Visitor) -> None:
    draft_id, outline = await picked(alice)
    first, second = (module["title"] for module in outline["modules"])
    path = f"/courses/new/{draft_id}/outline"

    moved = await alice.post(path, outline_form(outline, "module_down:0"))
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/courses/new/{draft_id}#module-1"
    await alice.post(path, outline_form(await saved(alice, draft_id), "add_lesson:0"))
    await alice.post(path, outline_form(await saved(alice, draft_id), "remove_lesson:1:0"))
    added = await alice.post(path, outline_form(await saved(alice, draft_id), "add_module"))
    assert added.headers["location"] == f"/courses/new/{draft_id}#module-2"

    result = await saved(alice, draft_id)
    assert [m["title"] for m in result["modules"]] == [second, first, ""]
    assert [len(m["lessons"]) for m in result["modules"]] == [3, 1, 1]
    assert result["modules"][1]["lessons"][0] == outline["modules"][0]["lessons"][1]
    page = await alice.client.get(f"/courses/new/{draft_id}")
    assert page.text.index(f'value="{second}"') < page.text.index(f'value="{first}"')
    assert 'id="f-modules-2-title"' in page.text


async def test_another_users_draft_is_not_found(alice: Visitor, bob: Visitor) -> None:
    draft_id, outline = await picked(alice)
    page = await bob.client.get(f"/courses/new/{draft_id}")
    progress = await bob.client.get(f"/courses/new/{draft_id}/progress")
    edit = await bob.post(f"/courses/new/{draft_id}/outline", outline_form(outline, "add_module"))
    assert page.status_code == progress.status_code == edit.status_code == 404
    assert await saved(alice, draft_id) == outline


async def test_an_uploaded_text_file_becomes_the_source_material(alice: Visitor) -> None:
    notes = "Barnacles filter food with their feet.\nAnemones sting their prey."
    response = await alice.post(
        "/courses/new",
        BRIEF,
        files={"file": ("notes.txt", notes.encode(), "text/plain")},
    )
    assert response.status_code == 303, response.text
    draft_id = response.headers["location"].rsplit("/", 1)[1]
    job_id = (await stored_draft(alice.web, draft_id)).outline_job_id
    async with alice.web.client("alice") as api:
        events = await follow(api, job_id, stop_after=1)
    assert events[0].type == "job_created"
    assert await outline_source(alice.web, job_id) == notes


async def outline_source(web: LiveApi, job_id: str) -> str | None:

    database = Database(web.database_url)
    try:
        return (await JobStore(database).get_job(job_id)).request.source_material
    finally:
        await database.dispose()


async def test_a_refused_file_is_reported_beside_the_file_field(alice: Visitor) -> None:
    response = await alice.post(
        "/courses/new",
        {**BRIEF, "source_material": "My own notes"},
        files={"file": ("scan.pdf", b"%PDF-1.4 not really", "application/pdf")},
    )
    assert response.status_code == 422
    assert_error_beside(response.text, "f-file", "scan.pdf")
    assert "My own notes</textarea>" in response.text
    assert 'value="Tide pools"' in response.text


class TestOverTheCreationRate:
    @pytest.fixture
    def web_overrides(self) -> dict[str, object]:
        return {"jobs_per_hour_teacher": 1}

    async def test_the_rate_refusal_is_shown_on_the_form(self, alice: Visitor) -> None:
        await start_draft(alice)
        response = await alice.post("/courses/new", {**BRIEF, "topic": "Coral reefs"})
        assert response.status_code == 429
        assert "Retry-After" in response.headers
        assert 'role="alert"' in response.text
        assert 'value="Coral reefs"' in response.text


class TestWhileTheOutlinesAreDrafted:
    @pytest.fixture
    def steered(self) -> SteeredProvider:
        return SteeredProvider(latency_ms=0)

    @pytest.fixture
    def web_provider(self, steered: SteeredProvider) -> LLMProvider:
        return steered

    async def test_the_progress_is_polled_until_the_candidates_are_in(
        self, alice: Visitor, steered: SteeredProvider
    ) -> None:
        steered.hold("outline:")
        draft_id = await start_draft(alice)
        running = await alice.client.get(f"/courses/new/{draft_id}/progress")
        steered.release()
        await outlines_drafted(alice, draft_id)
        done = await alice.client.get(f"/courses/new/{draft_id}/progress")

        assert 'hx-trigger="every 1s"' in running.text
        assert f'hx-get="/courses/new/{draft_id}/progress"' in running.text
        assert "Use this outline" not in running.text
        assert "hx-trigger" not in done.text
        assert done.text.count("Use this outline") == 2

    async def test_a_failed_drafting_shows_why_and_retries(
        self, alice: Visitor, steered: SteeredProvider
    ) -> None:
        steered.fail_once("outline:1")
        draft_id = await start_draft(alice)
        job_id = (await stored_draft(alice.web, draft_id)).outline_job_id
        async with alice.web.client("alice") as api:
            ending = (await follow(api, job_id, until="job_failed"))[-1]
        assert ending.type == "job_failed"
        failed = await alice.client.get(f"/courses/new/{draft_id}")
        assert "refused, once" in failed.text
        assert "Retry" in failed.text

        retried = await alice.post(f"/courses/new/{draft_id}/retry", {})
        assert retried.status_code == 303
        async with alice.web.client("alice") as api:
            events = await follow(api, job_id, last_event_id=ending.id, until="job_completed")
        assert events[-1].type == "job_completed"
        page = await alice.client.get(f"/courses/new/{draft_id}")
        assert page.text.count("Use this outline") == 2


class TestWithASmallUploadLimit:
    @pytest.fixture
    def web_overrides(self) -> dict[str, object]:
        return {"upload_max_bytes": 2048}

    async def test_a_file_over_the_limit_is_refused_beside_the_file_field(
        self, alice: Visitor
    ) -> None:
        response = await alice.post(
            "/courses/new", BRIEF, files={"file": ("long.txt", b"tide " * 1000, "text/plain")}
        )
        assert response.status_code == 422
        assert_error_beside(response.text, "f-file", "the limit is 2 KiB")
