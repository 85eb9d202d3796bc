"""OpenAI and OpenAI-compatible servers (vLLM, llama.cpp, Ollama, LM Studio, ...).

Structured output is asked for in the strongest form the server accepts. Servers differ:
some refuse `json_schema`, some also `json_object`. So a refused form falls back to the
next one (json_schema -> json_object -> schema in the prompt only), and the instance
remembers the form that worked so later calls skip the refused ones. SDK retries are
off: the gateway's loop is the only one.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat

from courseforge.llm.errors import (
    LLMError,
    PermanentLLMError,
    ProviderUnavailableError,
    TransientLLMError,
)
from courseforge.llm.fake import estimate_tokens
from courseforge.llm.port import ChatMessage, Completion, CompletionRequest
from courseforge.llm.vendor_errors import error_detail, error_for_status, safe_schema_name

# The schema travels between these markers when it goes in the prompt; the fake
# vendor servers in tests find it by them.
SCHEMA_PROMPT_START: Final = "<json_schema>"
SCHEMA_PROMPT_END: Final = "</json_schema>"

# Placeholder for local servers that need no key: the SDK insists on some key.
NO_KEY_NEEDED: Final = "not-needed"

OutputMode = Literal["json_schema", "json_object", "prompt"]
OUTPUT_MODES: Final[tuple[OutputMode, ...]] = ("json_schema", "json_object", "prompt")

# Words with which servers refuse a response_format (OpenAI, vLLM, llama.cpp, Ollama...).
_FORMAT_REFUSAL_WORDS: Final = (
    "response_format",
    "response format",
    "json_schema",
    "json_object",
    "structured output",
    "guided",
    "grammar",
)
_KEY_HINT: Final = "OPENAI_API_KEY (or COURSEFORGE_LLM_API_KEY for a compatible server)"


class OpenAIProvider:
    name = "openai"

    def __init__(self, api_key: str | None, base_url: str | None, timeout_s: float) -> None:
        if api_key is None and base_url is not None:
            api_key = NO_KEY_NEEDED
        try:
            self._client = openai.AsyncOpenAI(
                api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
            )
        except openai.OpenAIError as exc:
            raise ProviderUnavailableError(
                f"OpenAI needs an API key: set {_KEY_HINT}. ({exc})"
            ) from exc
        self._vendor = "OpenAI" if base_url is None else f"The server at {base_url}"
        self._timeout_s = timeout_s
        self._first_mode = 0  # index into OUTPUT_MODES of the strongest form not refused

    @property
    def output_mode(self) -> OutputMode:
        """The form the next call starts with (the strongest one this server has not refused)."""
        return OUTPUT_MODES[self._first_mode]

    async def complete(self, request: CompletionRequest) -> Completion:
        for index in range(self._first_mode, len(OUTPUT_MODES)):
            mode = OUTPUT_MODES[index]
            try:
                response = await self._create(request, mode)
            except openai.APIStatusError as exc:
                if mode != "prompt" and _refuses_format(exc):
                    # Never move back up: a concurrent call may already have gone further.
                    self._first_mode = max(self._first_mode, index + 1)
                    continue
                raise self._llm_error(exc) from exc
            except openai.OpenAIError as exc:
                raise self._llm_error(exc) from exc
            return _completion(request, response)
        raise AssertionError("unreachable: the prompt form is never skipped")

    async def _create(self, request: CompletionRequest, mode: OutputMode) -> ChatCompletion:
        messages = request.messages
        if mode != "json_schema":
            messages = with_schema_in_prompt(messages, request.json_schema)
        response_format = _response_format(request, mode)
        return await self._client.chat.completions.create(
            model=request.model,
            messages=[_message_param(message) for message in messages],
            # `max_tokens` rather than `max_completion_tokens`: compatible servers know it.
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            response_format=response_format if response_format is not None else openai.omit,
        )

    def _llm_error(self, exc: openai.OpenAIError) -> LLMError:
        if isinstance(exc, openai.APITimeoutError):
            return TransientLLMError(f"{self._vendor} did not answer within {self._timeout_s:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return TransientLLMError(f"cannot reach {self._vendor}: {exc}")
        if isinstance(exc, openai.APIStatusError):
            detail = error_detail(exc.body, str(exc))
            return error_for_status(
                self._vendor, exc.status_code, detail, exc.response.headers, _KEY_HINT
            )
        if isinstance(exc, openai.APIError):
            # A malformed or cut-off answer: another attempt may well get a whole one.
            return TransientLLMError(f"{self._vendor} answered unreadably: {exc}")
        return PermanentLLMError(f"OpenAI client error: {exc}")

    async def aclose(self) -> None:
        await self._client.close()


def with_schema_in_prompt(
    messages: tuple[ChatMessage, ...], schema: dict[str, Any]
) -> tuple[ChatMessage, ...]:
    """The messages with the schema appended to the system prompt (one is added if none).

    Appended to the existing first system message rather than added as a second one:
    some local chat templates accept only one system message, and only first.
    """
    instruction = (
        "Reply with only a JSON object that matches this JSON schema:\n"
        f"{SCHEMA_PROMPT_START}\n{json.dumps(schema)}\n{SCHEMA_PROMPT_END}"
    )
    if messages and messages[0].role == "system":
        first = ChatMessage("system", f"{messages[0].content}\n\n{instruction}")
        return (first, *messages[1:])
    return (ChatMessage("system", instruction), *messages)


def _response_format(request: CompletionRequest, mode: OutputMode) -> ResponseFormat | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {
                "name": safe_schema_name(request.schema_name),
                "schema": request.json_schema,
                # Strict mode demands every property required and no extra keywords,
                # which pydantic schemas (defaults, bounds) do not meet.
                "strict": False,
            },
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def _refuses_format(exc: openai.APIStatusError) -> bool:
    """Did the server refuse the response_format itself (not the request as a whole)?"""
    if exc.status_code not in (400, 422):
        return False
    if exc.param == "response_format":
        return True
    text = f"{exc} {error_detail(exc.body, '')}".lower()
    return any(word in text for word in _FORMAT_REFUSAL_WORDS)


def _message_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _completion(request: CompletionRequest, response: ChatCompletion) -> Completion:
    message = response.choices[0].message if response.choices else None
    # A refusal is passed on as the text: the gateway then reports it as an invalid answer.
    text = (message.content or message.refusal or "") if message else ""
    model = response.model or request.model
    usage = response.usage
    if usage is None:  # some compatible servers omit usage
        prompt = " ".join(m.content for m in request.messages)
        return Completion(text, model, estimate_tokens(prompt), estimate_tokens(text))
    return Completion(text, model, usage.prompt_tokens, usage.completion_tokens)
