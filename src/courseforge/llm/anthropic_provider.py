"""Anthropic's Messages API, with structured output through a forced tool call.

The schema becomes the input schema of a single tool the model must call, so the
answer arrives as the tool call's `input` object. SDK retries are off: the gateway's
loop is the only one.
"""

from __future__ import annotations

import json
from typing import Final

import anthropic
from anthropic.types import Message, MessageParam, TextBlock, ToolUseBlock

from courseforge.llm.errors import (
    LLMError,
    PermanentLLMError,
    ProviderUnavailableError,
    TransientLLMError,
)
from courseforge.llm.port import ChatMessage, Completion, CompletionRequest
from courseforge.llm.vendor_errors import error_detail, error_for_status, safe_schema_name

_VENDOR: Final = "Anthropic"
_KEY_HINT: Final = "ANTHROPIC_API_KEY"


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, api_key: str | None, base_url: str | None, timeout_s: float) -> None:
        # With no key given the SDK looks further (environment, profiles on disk) and may
        # fail here, e.g. on a named profile that does not exist.
        try:
            self._client = anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
            )
        except anthropic.AnthropicError as exc:
            raise ProviderUnavailableError(
                f"Anthropic needs an API key: set {_KEY_HINT}. ({exc})"
            ) from exc
        self._timeout_s = timeout_s
        if not _has_credentials(self._client):
            raise ProviderUnavailableError(f"Anthropic needs an API key: set {_KEY_HINT}.")

    async def complete(self, request: CompletionRequest) -> Completion:
        tool_name = safe_schema_name(request.schema_name)
        system, messages = _split_system(request.messages)
        # No temperature: this SDK's Messages API no longer takes one.
        try:
            message = await self._client.messages.create(
                model=request.model,
                max_tokens=request.max_tokens,
                system=system if system else anthropic.omit,
                messages=messages,
                tools=[
                    {
                        "name": tool_name,
                        "description": "Record the answer. Its input is the whole answer.",
                        "input_schema": request.json_schema,
                    }
                ],
                tool_choice={"type": "tool", "name": tool_name},
            )
        except anthropic.AnthropicError as exc:
            raise self._llm_error(exc) from exc
        return Completion(
            text=_answer_text(message, tool_name),
            model=message.model or request.model,
            tokens_in=message.usage.input_tokens,
            tokens_out=message.usage.output_tokens,
        )

    def _llm_error(self, exc: anthropic.AnthropicError) -> LLMError:
        if isinstance(exc, anthropic.APITimeoutError):
            return TransientLLMError(f"{_VENDOR} did not answer within {self._timeout_s:g} s")
        if isinstance(exc, anthropic.APIConnectionError):
            return TransientLLMError(f"cannot reach {_VENDOR}: {exc}")
        if isinstance(exc, anthropic.APIStatusError):
            detail = error_detail(exc.body, str(exc))
            return error_for_status(
                _VENDOR, exc.status_code, detail, exc.response.headers, _KEY_HINT
            )
        if isinstance(exc, anthropic.APIError):
            # A malformed or cut-off answer: another attempt may well get a whole one.
            return TransientLLMError(f"{_VENDOR} answered unreadably: {exc}")
        return PermanentLLMError(f"Anthropic client error: {exc}")

    async def aclose(self) -> None:
        await self._client.close()


def _has_credentials(client: anthropic.AsyncAnthropic) -> bool:
    return any(v is not None for v in (client.api_key, client.auth_token, client.credentials))


def _split_system(messages: tuple[ChatMessage, ...]) -> tuple[str, list[MessageParam]]:
    """System messages go to the `system` parameter; the chat keeps only user/assistant turns."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    chat: list[MessageParam] = []
    for message in messages:
        if message.role == "user":
            chat.append({"role": "user", "content": message.content})
        elif message.role == "assistant":
            chat.append({"role": "assistant", "content": message.content})
    return system, chat


def _answer_text(message: Message, tool_name: str) -> str:
    """The forced tool call's input as JSON; failing that, whatever text the model wrote.

    The text fallback lets the gateway report the answer as invalid (and re-ask) rather
    than lose it.
    """
    for block in message.content:
        if isinstance(block, ToolUseBlock) and block.name == tool_name:
            return json.dumps(block.input)
    return "".join(block.text for block in message.content if isinstance(block, TextBlock))
