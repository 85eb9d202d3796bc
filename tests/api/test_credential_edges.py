"""Stream tickets are capped per user and die with the token that asked for them; a token
revoked by another process stops working within the credential cache time; /metrics can
require a token of its own. Over real HTTP, on both databases."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from courseforge.runtime import open_runtime
from tests.api.conftest import LiveApi, api_settings
from tests.api.helpers import BRIEF, follow

METRICS_TOKEN = "metrics-secret-0123456789abcdef"
TICKETS_PER_USER = 3
AUTH_CACHE_S = 0.5


@pytest.fixture
def api_overrides() -> dict[str, object]:
    # teachers' jobs stay queued: a ticket needs a job, not a run
    return {
        "max_running_teacher": 0,
        "stream_tickets_per_user": TICKETS_PER_USER,
        "auth_cache_s": AUTH_CACHE_S,
        "metrics_token": METRICS_TOKEN,
    }


async def revoke_elsewhere(api: LiveApi, name: str) -> None:
    """As `courseforge users revoke` would: another process, on the same database."""
    async with open_runtime(api_settings(api.database_url)) as runtime:
        await runtime.accounts.revoke_tokens(name)


async def test_a_user_holds_a_bounded_number_of_unused_stream_tickets(api: LiveApi) -> None:
    async with api.client("alice") as alice, api.client() as browser:
        job_id = (await alice.post("/api/outlines", json=BRIEF)).json()["job_id"]
        url = f"/api/jobs/{job_id}/stream-ticket"
        issued = [await alice.post(url) for _ in range(TICKETS_PER_USER)]
        refused = await alice.post(url)
        used = await follow(
            browser, job_id, params={"ticket": issued[0].json()["ticket"]}, stop_after=1
        )
        after_use = await alice.post(url)

    assert [response.status_code for response in issued] == [201] * TICKETS_PER_USER
    assert refused.status_code == 429
    assert f"at most {TICKETS_PER_USER} unused stream tickets" in refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert [event.type for event in used] == ["job_created"]
    assert after_use.status_code == 201  # a used ticket frees its place


async def test_a_stream_ticket_dies_with_the_token_that_asked_for_it(api: LiveApi) -> None:
    async with api.client("alice") as alice:
        job_id = (await alice.post("/api/outlines", json=BRIEF)).json()["job_id"]
        ticket = (await alice.post(f"/api/jobs/{job_id}/stream-ticket")).json()["ticket"]

    await revoke_elsewhere(api, "alice")

    url = f"/api/jobs/{job_id}/events"
    async with (
        api.client() as browser,
        browser.stream("GET", url, params={"ticket": ticket}) as answer,
    ):
        # a stream opened by mistake never ends (the job stays queued): read no further
        detail = (await answer.aread()).decode() if answer.status_code != 200 else ""
    assert answer.status_code == 401
    assert "ticket" in detail


async def test_a_token_revoked_elsewhere_stops_working_within_the_cache_time(
    api: LiveApi,
) -> None:
    async with api.client("alice") as alice:
        assert (await alice.get("/api/jobs")).status_code == 200  # now remembered
        await revoke_elsewhere(api, "alice")
        revoked_at = time.monotonic()
        deadline = revoked_at + AUTH_CACHE_S + 5  # generous: a busy machine
        while (status := (await alice.get("/api/jobs")).status_code) == 200:
            assert time.monotonic() < deadline, "the revoked token kept working"
            await asyncio.sleep(0.05)
        stopped_after = time.monotonic() - revoked_at
    assert status == 401
    assert stopped_after < AUTH_CACHE_S + 1


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {METRICS_TOKEN}x", f"Basic {METRICS_TOKEN}"],
)
async def test_metrics_with_a_token_set_refuse_anyone_without_it(
    api: LiveApi, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with api.client() as client:
        refused = await client.get("/metrics", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "courseforge_" not in refused.text


async def test_metrics_with_a_token_set_refuse_an_api_token(api: LiveApi) -> None:
    async with api.client("carol") as admin:
        assert (await admin.get("/metrics")).status_code == 401


async def test_metrics_with_a_token_set_answer_its_holder(api: LiveApi) -> None:
    async with api.client() as scraper:
        answer = await scraper.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200
    names = {family.name for family in text_string_to_metric_families(answer.text)}
    assert "courseforge_queue_depth" in names
