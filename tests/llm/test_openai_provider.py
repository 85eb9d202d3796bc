"""OpenAIProvider through the real SDK and real HTTP, against a fake OpenAI-compatible server."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from courseforge.clock import FakeClock
from courseforge.domain.drafts import TaskSetDraft, task_set_draft
from courseforge.llm.errors import PermanentLLMError, ProviderUnavailableError, TransientLLMError
from courseforge.llm.fake import estimate_tokens
from courseforge.llm.gateway import CallLog, LLMGateway, ModelRoute, RetryPolicy
from courseforge.llm.openai_provider import (
    SCHEMA_PROMPT_END,
    SCHEMA_PROMPT_START,
    OpenAIProvider,
    without_long_bounds,
)
from courseforge.llm.port import ChatMessage, CompletionRequest
from courseforge.llm.vendor_errors import retry_after_seconds
from tests.fakes.vendor_servers import (
    FakeOpenAIServer,
    RefusalStyle,
    ScriptedReply,
    requested_format,
)

SYSTEM = "You write practice tasks for an online course."
MESSAGES = (
    ChatMessage("system", SYSTEM),
    ChatMessage("user", "Write three tasks.\nTopic: Photosynthesis\nFocus: the light reactions"),
)


def tasks_request(schema_name: str | None = None, model: str = "gpt-4.1-mini") -> CompletionRequest:
    draft = task_set_draft(3)
    return CompletionRequest(
        messages=MESSAGES,
        model=model,
        json_schema=draft.model_json_schema(),
        schema_name=schema_name or draft.__name__,
        max_tokens=1234,
        temperature=0.3,
    )


def parse_tasks(text: str) -> TaskSetDraft:
    return task_set_draft(3).model_validate_json(text)


@asynccontextmanager
async def provider_at(
    base_url: str, api_key: str | None = "sk-test"
) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(api_key=api_key, base_url=base_url, timeout_s=5.0)
    try:
        yield provider
    finally:
        await provider.aclose()


# --- a valid answer ----------------------------------------------------------------------


async def test_structured_answer_parses_into_the_draft_model() -> None:
    server = FakeOpenAIServer(reported_model="gpt-4.1-mini-2025-04-14")
    with server as base_url:
        async with provider_at(base_url) as provider:
            completion = await provider.complete(tasks_request())

    draft = parse_tasks(completion.text)
    assert len(draft.tasks) == 3
    assert "the light reactions" in draft.tasks[0].title
    assert completion.model == "gpt-4.1-mini-2025-04-14"
    assert (completion.tokens_in, completion.tokens_out) == server.usage_sent[-1]


async def test_request_carries_schema_tokens_and_temperature() -> None:
    server = FakeOpenAIServer()
    with server as base_url:
        async with provider_at(base_url) as provider:
            await provider.complete(tasks_request())

    [sent] = server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.api_key == "sk-test"
    assert sent.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "TaskSet_3",
            "schema": task_set_draft(3).model_json_schema(),
            "strict": False,
        },
    }
    assert sent.body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": MESSAGES[1].content},
    ]
    assert (sent.body["max_tokens"], sent.body["temperature"]) == (1234, 0.3)


async def test_schema_name_is_made_to_fit_openais_pattern() -> None:
    server = FakeOpenAIServer()
    with server as base_url:
        async with provider_at(base_url) as provider:
            await provider.complete(tasks_request(schema_name="Task set (3)/draft" + "x" * 80))

    name = server.bodies[0]["response_format"]["json_schema"]["name"]
    assert name == ("Task_set__3__draft" + "x" * 80)[:64]


async def test_missing_usage_is_estimated_from_the_text() -> None:
    server = FakeOpenAIServer(report_usage=False)
    with server as base_url:
        async with provider_at(base_url) as provider:
            completion = await provider.complete(tasks_request())

    assert completion.tokens_out == estimate_tokens(completion.text)
    assert completion.tokens_in == estimate_tokens(" ".join(m.content for m in MESSAGES))


async def test_no_key_with_a_base_url_sends_a_placeholder_key() -> None:
    server = FakeOpenAIServer()
    with server as base_url:
        async with provider_at(base_url, api_key=None) as provider:
            await provider.complete(tasks_request())

    assert server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_no_key_and_no_base_url_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    with pytest.raises(ProviderUnavailableError, match="OPENAI_API_KEY"):
        OpenAIProvider(api_key=None, base_url=None, timeout_s=5.0)


# --- response_format fallback ---------------------------------------------------------------

# Servers that refuse json_schema but take json_object with llama.cpp's `schema` extension.
LENIENT_REFUSALS: list[RefusalStyle] = ["message_only", "fastapi", "llama_cpp_python"]
ALL_REFUSALS: list[RefusalStyle] = ["openai", *LENIENT_REFUSALS]


@pytest.mark.parametrize("refusal", LENIENT_REFUSALS)
async def test_refused_json_schema_falls_back_to_json_object_with_the_schema(
    refusal: RefusalStyle,
) -> None:
    server = FakeOpenAIServer(refuse_json_schema=True, refusal=refusal)
    with server as base_url:
        async with provider_at(base_url) as provider:
            first = await provider.complete(tasks_request())
            second = await provider.complete(tasks_request())

    formats = [requested_format(body) for body in server.bodies]
    assert formats == ["json_schema", "json_object_schema", "json_object_schema"]
    assert provider.output_mode("gpt-4.1-mini") == "json_object_schema"
    assert server.bodies[1]["response_format"] == {
        "type": "json_object",
        "schema": without_long_bounds(task_set_draft(3).model_json_schema()),
    }
    parse_tasks(first.text)
    parse_tasks(second.text)
    _assert_schema_in_system_prompt(server.bodies[1]["messages"])


async def test_a_strict_server_refusing_the_schema_extension_gets_plain_json_object() -> None:
    server = FakeOpenAIServer(refuse_json_schema=True, refusal="openai")
    with server as base_url:
        async with provider_at(base_url) as provider:
            first = await provider.complete(tasks_request())
            second = await provider.complete(tasks_request())

    formats = [requested_format(body) for body in server.bodies]
    assert formats == ["json_schema", "json_object_schema", "json_object", "json_object"]
    assert server.bodies[2]["response_format"] == {"type": "json_object"}
    assert provider.output_mode("gpt-4.1-mini") == "json_object"
    parse_tasks(first.text)
    parse_tasks(second.text)
    _assert_schema_in_system_prompt(server.bodies[2]["messages"])


@pytest.mark.parametrize("refusal", ALL_REFUSALS)
async def test_refused_json_object_falls_back_to_the_prompt_and_is_remembered(
    refusal: RefusalStyle,
) -> None:
    server = FakeOpenAIServer(refuse_json_schema=True, refuse_json_object=True, refusal=refusal)
    with server as base_url:
        async with provider_at(base_url) as provider:
            first = await provider.complete(tasks_request())
            second = await provider.complete(tasks_request())

    formats = [requested_format(body) for body in server.bodies]
    assert formats == ["json_schema", "json_object_schema", "json_object", None, None]
    assert "response_format" not in server.bodies[4]
    assert provider.output_mode("gpt-4.1-mini") == "prompt"
    parse_tasks(first.text)
    parse_tasks(second.text)
    _assert_schema_in_system_prompt(server.bodies[4]["messages"])


async def test_the_working_form_is_remembered_per_model() -> None:
    server = FakeOpenAIServer(refuse_json_schema=True, refusal="llama_cpp_python")
    with server as base_url:
        async with provider_at(base_url) as provider:
            await provider.complete(tasks_request())
            await provider.complete(tasks_request(model="gpt-4.1-nano"))
            await provider.complete(tasks_request())
            await provider.complete(tasks_request(model="gpt-4.1-nano"))

    sent = [(body["model"], requested_format(body)) for body in server.bodies]
    assert sent == [
        ("gpt-4.1-mini", "json_schema"),
        ("gpt-4.1-mini", "json_object_schema"),
        ("gpt-4.1-nano", "json_schema"),
        ("gpt-4.1-nano", "json_object_schema"),
        ("gpt-4.1-mini", "json_object_schema"),
        ("gpt-4.1-nano", "json_object_schema"),
    ]
    assert provider.output_mode("another-model") == "json_schema"


def test_long_string_bounds_are_left_out_of_the_schema_extension() -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 3, "maxLength": 120},
            "body": {"type": "string", "minLength": 80, "maxLength": 20_000},
            "maxLength": {"type": "integer"},  # a property that happens to have the name
        },
        "$defs": {"Note": {"type": "string", "maxLength": 1500}},
    }

    relaxed = without_long_bounds(schema)

    assert relaxed["properties"]["title"] == schema["properties"]["title"]
    assert relaxed["properties"]["body"] == {"type": "string", "minLength": 80}
    assert relaxed["properties"]["maxLength"] == {"type": "integer"}
    assert relaxed["$defs"]["Note"] == {"type": "string"}
    assert schema["properties"]["body"]["maxLength"] == 20_000  # the original is untouched


def _assert_schema_in_system_prompt(messages: list[dict[str, str]]) -> None:
    """The schema joins the existing system prompt; no second system message appears."""
    assert [m["role"] for m in messages] == ["system", "user"]
    system = messages[0]["content"]
    assert system.startswith(SYSTEM)
    assert SCHEMA_PROMPT_START in system
    assert SCHEMA_PROMPT_END in system


async def test_a_400_about_something_else_is_permanent_and_not_a_fallback() -> None:
    script = [ScriptedReply(400, message="This model's maximum context length is 8192 tokens.")]
    server = FakeOpenAIServer(script=script)
    with server as base_url:
        async with provider_at(base_url) as provider:
            with pytest.raises(PermanentLLMError, match="maximum context length"):
                await provider.complete(tasks_request())
            assert provider.output_mode("gpt-4.1-mini") == "json_schema"

    assert len(server.requests) == 1


async def test_a_500_about_something_else_is_transient_and_not_a_fallback() -> None:
    server = FakeOpenAIServer(script=[ScriptedReply(500, message="llama_decode returned -3")])
    with server as base_url:
        async with provider_at(base_url) as provider:
            with pytest.raises(TransientLLMError, match="llama_decode returned -3"):
                await provider.complete(tasks_request())
            assert provider.output_mode("gpt-4.1-mini") == "json_schema"

    assert len(server.requests) == 1


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)],
)
async def test_429_is_transient_with_the_servers_pause(
    headers: dict[str, str], expected: float | None
) -> None:
    server = FakeOpenAIServer(script=[ScriptedReply(429, headers, "Rate limit reached")])
    with server as base_url:
        async with provider_at(base_url) as provider:
            with pytest.raises(TransientLLMError, match="Rate limit reached") as caught:
                await provider.complete(tasks_request())

    assert caught.value.retry_after == expected
    assert len(server.requests) == 1  # the SDK did not retry behind our back


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_transient_after_one_request(status: int) -> None:
    server = FakeOpenAIServer(script=[ScriptedReply(status)])
    with server as base_url:
        async with provider_at(base_url) as provider:
            with pytest.raises(TransientLLMError, match=rf"server error \({status}\)"):
                await provider.complete(tasks_request())

    assert len(server.requests) == 1


async def test_wrong_key_is_permanent_and_says_so() -> None:
    server = FakeOpenAIServer(api_key="sk-right")
    with server as base_url:
        async with provider_at(base_url, api_key="sk-wrong") as provider:
            with pytest.raises(PermanentLLMError, match=r"rejected the API key \(401\)"):
                await provider.complete(tasks_request())

    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "words"), [(403, "refused access"), (404, "does not know this model")]
)
async def test_other_4xx_are_permanent(status: int, words: str) -> None:
    server = FakeOpenAIServer(script=[ScriptedReply(status)])
    with server as base_url:
        async with provider_at(base_url) as provider:
            with pytest.raises(PermanentLLMError, match=words):
                await provider.complete(tasks_request())

    assert len(server.requests) == 1


async def test_unreachable_server_is_transient() -> None:
    server = FakeOpenAIServer()
    with server as base_url:
        pass  # the port is closed once the server has stopped
    async with provider_at(base_url) as provider:
        with pytest.raises(TransientLLMError, match="cannot reach"):
            await provider.complete(tasks_request())


async def test_timeout_is_transient() -> None:
    release = threading.Event()
    server = FakeOpenAIServer(stall_until=release)
    with server as base_url:
        provider = OpenAIProvider(api_key="sk-test", base_url=base_url, timeout_s=0.2)
        try:
            with pytest.raises(TransientLLMError, match=r"did not answer within 0\.2 s"):
                await provider.complete(tasks_request())
        finally:
            await provider.aclose()
            release.set()

    assert len(server.requests) == 1


def test_retry_after_http_date_is_seconds_from_now() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    headers = {"retry-after": "Thu, 01 Jan 2026 12:00:30 GMT"}
    assert retry_after_seconds(headers, now) == 30.0
    assert retry_after_seconds({"retry-after": "soon"}, now) is None


# --- through the gateway ------------------------------------------------------------------


async def gateway_generate(
    server: FakeOpenAIServer, clock: FakeClock, recorder: CallLog
) -> BaseModel:
    with server as base_url:
        async with provider_at(base_url) as provider:
            gateway = LLMGateway(
                provider,
                ModelRoute(complex="gpt-4.1-mini", simple="gpt-4.1-nano"),
                recorder=recorder,
                policy=RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05),
                clock=clock,
            )
            return await gateway.generate(
                task_set_draft(3), MESSAGES, tier="complex", unit="module-1/tasks"
            )


async def test_gateway_waits_out_a_429_then_returns_the_draft() -> None:
    server = FakeOpenAIServer(script=[ScriptedReply(429, {"Retry-After": "7"})])
    clock, recorder = FakeClock(), CallLog()

    draft = await gateway_generate(server, clock, recorder)

    assert isinstance(draft, TaskSetDraft)
    assert len(draft.tasks) == 3
    assert max(clock.sleeps) >= 7
    assert [r.outcome for r in recorder.records] == ["transient_error", "ok"]
    assert len(server.requests) == 2


async def test_gateway_reasks_after_an_invalid_answer_with_feedback() -> None:
    server = FakeOpenAIServer(invalid_first=1)
    clock, recorder = FakeClock(), CallLog()

    draft = await gateway_generate(server, clock, recorder)

    assert isinstance(draft, TaskSetDraft)
    assert [r.outcome for r in recorder.records] == ["invalid", "ok"]
    assert clock.sleeps == [0.0]  # an invalid answer is re-asked at once
    roles = [m["role"] for m in server.bodies[1]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "did not match the required JSON schema" in server.bodies[1]["messages"][3]["content"]


async def test_gateway_spends_no_attempt_on_a_refused_format() -> None:
    # llama-cpp-python's server answers json_schema with a 500: once treated as transient,
    # it cost three attempts and the unit.
    server = FakeOpenAIServer(refuse_json_schema=True, refusal="llama_cpp_python")
    clock, recorder = FakeClock(), CallLog()

    draft = await gateway_generate(server, clock, recorder)

    assert isinstance(draft, TaskSetDraft)
    assert [r.outcome for r in recorder.records] == ["ok"]
    assert clock.sleeps == []
    assert [requested_format(body) for body in server.bodies] == [
        "json_schema",
        "json_object_schema",
    ]
