"""Failed logins are throttled per account name and per client address (small limits
through settings here; the window is 15 minutes, so nothing expires during a test)."""

from __future__ import annotations

import pytest

from tests.api.conftest import LiveApi
from tests.web.conftest import PASSWORD, browser, log_in

WINDOW_S = 15 * 60


@pytest.mark.parametrize(
    "web_overrides", [{"login_failures_per_name": 2, "login_failures_per_address": 100}]
)
async def test_a_throttled_name_is_refused_even_with_the_right_password(web: LiveApi) -> None:
    async with browser(web) as client:
        failures = [await log_in(client, "alice", "wrong password") for _ in range(2)]
        throttled = await log_in(client, "alice", PASSWORD)
        other_name = await log_in(client, "bob", "wrong password")
    assert [r.status_code for r in failures] == [401, 401]
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["retry-after"]) <= WINDOW_S
    assert "courseforge_session" not in throttled.headers.get("set-cookie", "")
    assert other_name.status_code == 401  # the limit is per name


@pytest.mark.parametrize(
    "web_overrides", [{"login_failures_per_name": 2, "login_failures_per_address": 100}]
)
async def test_throttling_answers_alike_whether_or_not_the_user_exists(web: LiveApi) -> None:
    async with browser(web) as client:
        answers = {}
        for name in ("alice", "zed"):
            for _ in range(2):
                await log_in(client, name, "wrong password")
            answers[name] = await log_in(client, name, "wrong password")
    assert {r.status_code for r in answers.values()} == {429}
    bodies = {name: r.text.replace(name, "") for name, r in answers.items()}
    assert bodies["alice"] == bodies["zed"]


@pytest.mark.parametrize(
    "web_overrides", [{"login_failures_per_name": 100, "login_failures_per_address": 3}]
)
async def test_one_address_trying_many_names_is_throttled(web: LiveApi) -> None:
    async with browser(web) as client:
        for name in ("bob", "carol", "zed"):
            assert (await log_in(client, name, "wrong password")).status_code == 401
        throttled = await log_in(client, "alice", PASSWORD)
    assert throttled.status_code == 429
    assert "Retry-After" in throttled.headers


async def test_successful_logins_are_not_counted(web: LiveApi) -> None:
    async with browser(web) as client:
        answers = [await log_in(client) for _ in range(7)]  # over the default 5 per name
    assert {r.status_code for r in answers} == {303}
