"""Whole courses through the official SDKs over real HTTP, against fake vendor servers.

The configuration path is the real one: settings name the server (base URL / key), the
registry builds the provider, the SDK speaks HTTP to 127.0.0.1.
"""

from __future__ import annotations

from courseforge.domain.outline import CourseRequest
from courseforge.llm.anthropic_provider import AnthropicProvider
from courseforge.llm.registry import build_provider, choose_provider
from courseforge.pipeline.events import RecordingSink
from courseforge.runtime import open_runtime
from courseforge.settings import Settings
from tests.fakes.vendor_servers import (
    FakeAnthropicServer,
    FakeOpenAIServer,
    ScriptedReply,
    requested_format,
)

REQUEST = CourseRequest(
    topic="Intro to version control",
    modules=2,
    lessons_per_module=1,
    tasks_per_lesson=2,
    questions_per_quiz=2,
)
# outline + 2 lessons + 2 task sets + 2 quizzes + 2 brain bytes + metadata + 2 summaries
LLM_UNITS = 12


async def generate(settings: Settings, provider: object = None) -> tuple[str, Settings]:
    async with open_runtime(settings, provider=provider) as runtime:  # type: ignore[arg-type]
        job_id = await runtime.store.create_course_job(REQUEST)
        course_id = await runtime.pipeline(RecordingSink()).run(job_id)
        course, _ = await runtime.store.load_course(course_id)
        job = await runtime.store.get_job(job_id)
    assert course.counts()["lessons"] == 2
    assert job.status == "completed"
    assert job.llm_calls >= LLM_UNITS
    return job_id, settings


async def test_openai_compatible_server_generates_a_course(database_url: str) -> None:
    server = FakeOpenAIServer(refuse_json_schema=True, script=[ScriptedReply(503)])
    with server as base_url:
        settings = Settings(database_url=database_url, llm_base_url=base_url)
        choice = choose_provider(settings)
        assert choice.name == "openai"
        await generate(settings)

    formats = [requested_format(body) for body in server.bodies]
    # The server refused json_schema and the schema extension (for each model; concurrent
    # first calls each meet the refusal); every unit was answered in json_object.
    assert formats[:3] == ["json_schema", "json_schema", "json_object_schema"]
    assert formats.count("json_object") == LLM_UNITS
    models = {body["model"] for body in server.bodies}
    assert models == {"gpt-4.1-mini", "gpt-4.1-nano"}
    assert len(server.requests) >= LLM_UNITS + 5  # + the refused formats + the scripted 503


async def test_openai_key_selects_openai_and_reports_cost(database_url: str) -> None:
    with FakeOpenAIServer() as base_url:
        settings = Settings(
            database_url=database_url, openai_api_key="sk-test", llm_base_url=base_url
        )
        assert choose_provider(settings).reason == "OPENAI_API_KEY is set"
        async with open_runtime(settings) as runtime:
            job_id = await runtime.store.create_course_job(REQUEST)
            await runtime.pipeline(RecordingSink()).run(job_id)
            job = await runtime.store.get_job(job_id)
            calls = await runtime.store.list_calls(job_id)
    assert job.cost_usd > 0
    assert {c["provider"] for c in calls} == {"openai"}
    assert all(c["tokens_in"] > 0 and c["tokens_out"] > 0 for c in calls)
    assert abs(sum(c["cost_usd"] for c in calls) - job.cost_usd) < 1e-9


async def test_anthropic_generates_a_course(database_url: str) -> None:
    server = FakeAnthropicServer()
    with server as base_url:
        settings = Settings(database_url=database_url, anthropic_api_key="sk-ant-test")
        choice = choose_provider(settings)
        assert choice.name == "anthropic"
        provider = AnthropicProvider(api_key="sk-ant-test", base_url=base_url, timeout_s=30)
        await generate(settings, provider)
    assert all(body["tool_choice"]["type"] == "tool" for body in server.bodies)
    assert len(server.requests) == LLM_UNITS


def test_registry_builds_the_configured_vendor() -> None:
    settings = Settings(anthropic_api_key="sk-ant-test")
    provider = build_provider(choose_provider(settings), settings)
    assert provider.name == "anthropic"
