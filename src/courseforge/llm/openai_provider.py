"""OpenAI and OpenAI-compatible servers (vLLM, llama.cpp, Ollama, LM Studio, ...).

Structured output is asked for in the strongest form the server accepts. Servers differ:
some refuse `json_schema`, some also `json_object`, and they refuse in different ways
(400, 422, or a 500 wrapping a request-validation error, as llama-cpp-python's server
does). A refusal of the format falls back, within the same attempt, to the next form:
json_schema -> json_object with the schema (llama.cpp's extension: a grammar built from
it) -> plain json_object -> schema in the prompt only. The provider remembers per model
(its server is fixed) the form that worked, so later calls skip the refused ones and
the gateway's retries are never spent on a format. SDK retries are off: the gateway's
loop is the only one.
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
from courseforge.logs import get_logger

# The schema travels between these markers when it goes in the prompt; the fake
# vendor servers in tests find it by them.
SCHEMA_PROMPT_START: Final = "<json_schema>"
SCHEMA_PROMPT_END: Final = "</json_schema>"

# The longest string bound sent in json_object's `schema` (see `without_long_bounds`).
GRAMMAR_MAX_LENGTH: Final = 1000

# Placeholder for local servers that need no key: the SDK insists on some key.
NO_KEY_NEEDED: Final = "not-needed"

OutputMode = Literal["json_schema", "json_object_schema", "json_object", "prompt"]
OUTPUT_MODES: Final[tuple[OutputMode, ...]] = (
    "json_schema",
    "json_object_schema",
    "json_object",
    "prompt",
)

# Statuses with which servers refuse a response_format: 400 (OpenAI, vLLM), 422 (FastAPI
# validation), 500 (llama-cpp-python's server wraps its validation error). A refusal
# also has to name the format (below): a 500 about anything else stays transient.
_FORMAT_REFUSAL_STATUSES: Final = frozenset({400, 422, 500})
# Words with which servers refuse a response_format (OpenAI, vLLM, llama.cpp, Ollama...);
# llama-cpp-python's says "Input should be 'text' or 'json_object'" at `response_format`.
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

_log = get_logger(__name__)


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
        # Per model, the index into OUTPUT_MODES of the strongest form not refused: one
        # server may serve models that differ in what they accept (OpenRouter, Ollama).
        self._first_mode: dict[str, int] = {}

    def output_mode(self, model: str) -> OutputMode:
        """The form the next call for `model` starts with (the strongest not refused)."""
        return OUTPUT_MODES[self._first_mode.get(model, 0)]

    async def complete(self, request: CompletionRequest) -> Completion:
        for index in range(self._first_mode.get(request.model, 0), len(OUTPUT_MODES)):
            mode = OUTPUT_MODES[index]
            try:
                response = await self._create(request, mode)
            except openai.APIStatusError as exc:
                if mode != "prompt" and _refuses_format(exc):
                    self._fall_back(request.model, index, exc)
                    continue
                raise self._llm_error(exc) from exc
            except openai.OpenAIError as exc:
                raise self._llm_error(exc) from exc
            return _completion(request, response)
        raise AssertionError("unreachable: the prompt form is never skipped")

    def _fall_back(self, model: str, index: int, exc: openai.APIStatusError) -> None:
        # Never move back up: a concurrent call may already have gone further.
        remembered = max(self._first_mode.get(model, 0), index + 1)
        if remembered != self._first_mode.get(model):
            _log.warning(
                "llm_output_mode_fallback",
                server=str(self._client.base_url),
                model=model,
                refused=OUTPUT_MODES[index],
                now=OUTPUT_MODES[remembered],
                status=exc.status_code,
            )
        self._first_mode[model] = remembered

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
            # The SDK's types know no `schema` in json_object: it travels as an extra.
            extra_body=_schema_extension(request, mode),
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


def _schema_extension(request: CompletionRequest, mode: OutputMode) -> dict[str, Any] | None:
    """json_object with a `schema`: llama.cpp's servers (and Together, Anyscale) build a
    grammar from it, so a server without json_schema still keeps the answer to its shape."""
    if mode != "json_object_schema":
        return None
    schema = without_long_bounds(request.json_schema)
    return {"response_format": {"type": "json_object", "schema": schema}}


def without_long_bounds(schema: Any) -> Any:
    """A copy of `schema` without string `maxLength`s over GRAMMAR_MAX_LENGTH.

    llama-cpp-python spells a maxLength out as one nested grammar rule per character; past
    about a thousand the grammar no longer parses, and its server dies of it. The answer is
    validated against the full schema anyway, so a long bound is left to validation.
    """
    if isinstance(schema, list):
        return [without_long_bounds(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    relaxed = {key: without_long_bounds(value) for key, value in schema.items()}
    bound = relaxed.get("maxLength")
    if isinstance(bound, int) and bound > GRAMMAR_MAX_LENGTH:
        del relaxed["maxLength"]
    return relaxed


def _refuses_format(exc: openai.APIStatusError) -> bool:
    """Did the server refuse the response_format itself (not the request as a whole)?"""
    if exc.status_code not in _FORMAT_REFUSAL_STATUSES:
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
