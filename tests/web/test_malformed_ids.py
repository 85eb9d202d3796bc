"""Every page that names a job, course or draft answers a malformed id with its 404,
never a 500: a NUL reached PostgreSQL as a 500 from the course and wizard pages (the
stores now refuse ids that cannot name a row, store/pages.is_row_id)."""

from __future__ import annotations

import pytest

from tests.api.conftest import LiveApi
from tests.web.conftest import browser, csrf_token, log_in

MALFORMED = ["%00", "x%00y", "%C2%B2", "a" * 300]
PAGES = [
    "/courses/{id}",
    "/courses/new/{id}",
    "/courses/new/{id}/progress",
    "/jobs/{id}",
    "/jobs/{id}/panel",
    "/jobs/{id}/row",
    "/jobs/{id}/log",
]
POSTS = ["/courses/{id}/publish", "/courses/new/{id}/pick", "/courses/new/{id}/retry"]


@pytest.mark.parametrize("malformed", MALFORMED)
async def test_a_malformed_id_in_a_page_is_not_found(web: LiveApi, malformed: str) -> None:
    async with browser(web) as client:
        await log_in(client)
        token = await csrf_token(client, "/")
        answers = {path: await client.get(path.format(id=malformed)) for path in PAGES}
        for path in POSTS:
            form = {"csrftoken": token, "candidate": "0"}
            answers[path] = await client.post(path.format(id=malformed), data=form)
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(
        PAGES + POSTS, 404
    )
