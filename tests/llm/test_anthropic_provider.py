"""AnthropicProvider through the real SDK and real HTTP, against a fake Messages API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from courseforge.clock import FakeClock
from courseforge.domain.drafts import QuizDraft, quiz_draft
from courseforge.llm.anthropic_provider import AnthropicProvider
from courseforge.llm.errors import PermanentLLMError, ProviderUnavailableError, TransientLLMError
from courseforge.llm.gateway import CallLog, LLMGateway, ModelRoute, RetryPolicy
from courseforge.llm.port import ChatMessage, CompletionRequest
from tests.fakes.vendor_servers import INVALID_JSON_TEXT, FakeAnthropicServer, ScriptedReply

SYSTEM = "You write quizzes for an online course."
MESSAGES = (
    ChatMessage("system", SYSTEM),
    ChatMessage("user", "Write a quiz of four questions.\nTopic: Rust ownership"),
)


def quiz_request() -> CompletionRequest:
    model = quiz_draft(4, 3)
    return CompletionRequest(
        messages=MESSAGES,
        model="claude-sonnet-4-6",
        json_schema=model.model_json_schema(),
        schema_name=model.__name__,
        max_tokens=2048,
    )


@asynccontextmanager
async def provider_at(
    base_url: str, api_key: str = "sk-ant-test"
) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(api_key=api_key, base_url=base_url, timeout_s=5.0)
    try:
        yield provider
    finally:
        await provider.aclose()


async def test_tool_call_input_parses_into_the_quiz_draft() -> None:
    server = FakeAnthropicServer(reported_model="claude-sonnet-4-6-20260101")
    with server as base_url:
        async with provider_at(base_url) as provider:
            completion = await provider.complete(quiz_request())

    quiz = quiz_draft(4, 3).model_validate_json(completion.text)
    assert len(quiz.questions) == 4
    assert "Rust ownership" in quiz.questions[0].prompt
    assert completion.model == "claude-sonnet-4-6-20260101"
    assert (completion.tokens_in, completion.tokens_out) == server.usage_sent[-1]


async def test_request_forces_one_tool_with_the_schema_and_lifts_the_system_prompt() -> None:
    server = FakeAnthropicServer()
    with server as base_url:
        async with provider_at(base_url) as provider:
            await provider.complete(quiz_request())

    [sent] = server.requests
    assert sent.path == "/v1/messages"
    assert sent.api_key == "sk-ant-test"
    body = sent.body
    assert body["system"] == SYSTEM
    assert body["messages"] == [{"role": "user", "content": MESSAGES[1].content}]
    [tool] = body["tools"]
    assert tool["name"] == "Quiz_4_3"
    assert tool["input_schema"] == quiz_draft(4, 3).model_json_schema()
    assert body["tool_choice"] == {"type": "tool", "name": "Quiz_4_3"}
    assert (body["model"], body["max_tokens"]) == ("claude-sonnet-4-6", 2048)


async def test_text_instead_of_the_tool_call_is_passed_on() -> None:
    server = FakeAnthropicServer(invalid_first=1)
    with server as base_url:
        async with provider_at(base_url) as provider:
            completion = await provider.complete(quiz_request())

    assert completion.text == INVALID_JSON_TEXT


async def test_429_is_transient_with_retry_after_and_one_request() -> None:
    server = FakeAnthropicServer(script=[ScriptedReply(429, {"Retry-After": "7"}, "slow down")])
    with server as base_url:
        async with provider_at(base_url) as provider:
            with pytest.raises(TransientLLMError, match="slow down") as caught:
                await provider.complete(quiz_request())

    assert caught.value.retry_after == 7.0
    assert len(server.requests) == 1  # the SDK did not retry behind our back


@pytest.mark.parametrize("status", [500, 529])
async def test_server_errors_and_overload_are_transient_after_one_request(status: int) -> None:
    server = FakeAnthropicServer(script=[ScriptedReply(status, message="Overloaded")])
    with server as base_url:
        async with provider_at(base_url) as provider:
            with pytest.raises(TransientLLMError, match="Overloaded"):
                await provider.complete(quiz_request())

    assert len(server.requests) == 1


async def test_wrong_key_is_permanent_and_says_so() -> None:
    server = FakeAnthropicServer(api_key="sk-ant-right")
    with server as base_url:
        async with provider_at(base_url, api_key="sk-ant-wrong") as provider:
            with pytest.raises(PermanentLLMError, match=r"rejected the API key \(401\)"):
                await provider.complete(quiz_request())

    assert len(server.requests) == 1


async def test_unknown_model_is_permanent() -> None:
    server = FakeAnthropicServer(script=[ScriptedReply(404, message="model: claude-nope")])
    with server as base_url:
        async with provider_at(base_url) as provider:
            with pytest.raises(PermanentLLMError, match=r"does not know this model.*claude-nope"):
                await provider.complete(quiz_request())


def test_no_credentials_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))  # no profiles on disk
    with pytest.raises(ProviderUnavailableError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider(api_key=None, base_url=None, timeout_s=5.0)


async def test_gateway_waits_out_a_429_then_returns_the_quiz() -> None:
    server = FakeAnthropicServer(script=[ScriptedReply(429, {"Retry-After": "7"})])
    clock, recorder = FakeClock(), CallLog()
    with server as base_url:
        async with provider_at(base_url) as provider:
            gateway = LLMGateway(
                provider,
                ModelRoute(complex="claude-sonnet-4-6", simple="claude-haiku-4-5"),
                recorder=recorder,
                policy=RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05),
                clock=clock,
            )
            quiz = await gateway.generate(quiz_draft(4, 3), MESSAGES, tier="complex", unit="quiz")

    assert isinstance(quiz, QuizDraft)
    assert max(clock.sleeps) >= 7
    assert [r.outcome for r in recorder.records] == ["transient_error", "ok"]
    assert [r.provider for r in recorder.records] == ["anthropic", "anthropic"]
    assert len(server.requests) == 2
    assert server.bodies[0] == server.bodies[1]  # the same question, asked again
