"""Validated output from any provider: routing by tier, bounded concurrency, one retry loop.

There is exactly one retry loop per call (this one; SDK retries are switched off), so
attempts are counted once: a transient error waits with exponential backoff and jitter
(honouring Retry-After), an invalid answer is re-asked at once with the validation
errors as feedback, and after `max_attempts` the unit fails with its name and reason.
"""

from __future__ import annotations

import asyncio
import copy
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from courseforge.clock import Clock, SystemClock
from courseforge.domain.usage import LLMCallRecord, Outcome
from courseforge.llm.errors import (
    LLMError,
    PermanentLLMError,
    StructuredOutputError,
    TransientLLMError,
)
from courseforge.llm.json_text import extract_json_object
from courseforge.llm.port import ChatMessage, Completion, CompletionRequest, LLMProvider, Tier
from courseforge.llm.pricing import PriceTable
from courseforge.llm.prompt_data import data_block
from courseforge.logs import get_logger

T = TypeVar("T", bound=BaseModel)
_log = get_logger(__name__)


@dataclass(frozen=True)
class ModelRoute:
    """Which model serves each tier: `complex` for writing, `simple` for summaries and metadata."""

    complex: str
    simple: str

    def model_for(self, tier: Tier) -> str:
        return self.complex if tier == "complex" else self.simple


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    call_timeout_s: float = 120.0


class CallRecorder(Protocol):
    async def record_call(self, record: LLMCallRecord) -> None: ...


class CallLog:
    """Keeps every call record in memory: for tests and one-off scripts."""

    def __init__(self) -> None:
        self.records: list[LLMCallRecord] = []

    async def record_call(self, record: LLMCallRecord) -> None:
        self.records.append(record)


class _InvalidAnswerError(LLMError):
    """The answer did not validate; the conversation already carries the feedback."""


class LLMGateway:
    def __init__(
        self,
        provider: LLMProvider,
        route: ModelRoute,
        *,
        recorder: CallRecorder,
        prices: PriceTable | None = None,
        concurrency: int = 16,
        tokens_per_minute: int | None = None,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.provider = provider
        self.route = route
        self._recorder = recorder
        self._prices = prices or PriceTable()
        self._slots = asyncio.Semaphore(concurrency)
        # Shared by every job of the process (copies share it), like the slots above.
        self._tokens = AsyncLimiter(tokens_per_minute, 60) if tokens_per_minute else None
        self._policy = policy or RetryPolicy()
        self._clock = clock or SystemClock()
        self._labels: dict[str, str] = {}

    def with_recorder(self, recorder: CallRecorder, **labels: str) -> LLMGateway:
        """The same gateway (same provider, same concurrency budget) recording elsewhere;
        `labels` (e.g. the job id) travel in every request's metadata."""
        bound = copy.copy(self)
        bound._recorder = recorder
        bound._labels = {**self._labels, **labels}
        return bound

    def with_policy(self, policy: RetryPolicy) -> LLMGateway:
        bound = copy.copy(self)
        bound._policy = policy
        return bound

    async def generate(
        self,
        output_type: type[T],
        messages: Sequence[ChatMessage],
        *,
        tier: Tier,
        unit: str,
        max_tokens: int = 4096,
    ) -> T:
        conversation = list(messages)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.max_attempts),
            wait=self._wait_before_next_attempt,
            retry=retry_if_exception_type((TransientLLMError, _InvalidAnswerError)),
            sleep=self._clock.sleep,
            reraise=True,
        )
        attempt_number = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_number = attempt.retry_state.attempt_number
                    request = CompletionRequest(
                        messages=tuple(conversation),
                        model=self.route.model_for(tier),
                        json_schema=json_schema_of(output_type),
                        schema_name=output_type.__name__,
                        max_tokens=max_tokens,
                        metadata={**self._labels, "unit": unit, "tier": tier},
                    )
                    return await self._attempt(
                        output_type, request, conversation, unit, tier, attempt_number
                    )
        except (TransientLLMError, _InvalidAnswerError, PermanentLLMError) as exc:
            permanent = isinstance(exc, PermanentLLMError)
            raise StructuredOutputError(
                unit, attempt_number, str(exc), permanent=permanent
            ) from exc
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _attempt(
        self,
        output_type: type[T],
        request: CompletionRequest,
        conversation: list[ChatMessage],
        unit: str,
        tier: Tier,
        attempt: int,
    ) -> T:
        await self._spend_tokens(estimate_prompt_tokens(request))
        async with self._slots:
            started = self._clock.monotonic()  # latency of the call, not of the queue
            try:
                completion = await self._complete(request)
            except LLMError as exc:
                kind: Outcome = "transient_error" if isinstance(exc, TransientLLMError) else "error"
                await self._record(
                    unit, tier, request.model, attempt, kind, None, started, str(exc)
                )
                raise
            ended = self._clock.monotonic()
        await self._spend_tokens(completion.tokens_out)
        try:
            value = output_type.model_validate_json(extract_json_object(completion.text))
        except (ValidationError, ValueError) as exc:
            problems = "\n".join(validation_problems(exc))
            await self._record(
                unit, tier, request.model, attempt, "invalid", completion, started, problems, ended
            )
            conversation += [
                ChatMessage("assistant", completion.text),
                ChatMessage("user", validation_feedback(validation_problems(exc))),
            ]
            raise _InvalidAnswerError(f"invalid output:\n{problems}") from exc
        await self._record(
            unit, tier, request.model, attempt, "ok", completion, started, None, ended
        )
        return value

    async def _complete(self, request: CompletionRequest) -> Completion:
        try:
            async with asyncio.timeout(self._policy.call_timeout_s):
                return await self.provider.complete(request)
        except TimeoutError as exc:
            raise TransientLLMError(
                f"no answer within {self._policy.call_timeout_s:g} s (call timeout)"
            ) from exc

    async def _spend_tokens(self, tokens: int) -> None:
        """Waits while the process's tokens-per-minute budget is spent (none: no wait)."""
        if self._tokens is not None and tokens > 0:
            await self._tokens.acquire(min(tokens, self._tokens.max_rate))

    def _wait_before_next_attempt(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _InvalidAnswerError):
            return 0.0  # re-ask at once: waiting does not make the answer valid
        backoff = wait_exponential_jitter(
            multiplier=self._policy.initial_backoff_s, max=self._policy.max_backoff_s
        )(state)
        if isinstance(error, TransientLLMError) and error.retry_after is not None:
            return max(error.retry_after, backoff)
        return float(backoff)

    async def _record_and_log(self, record: LLMCallRecord) -> None:
        log = _log.info if record.outcome == "ok" else _log.warning
        log(
            "llm_call",
            unit=record.unit,
            model=record.model,
            attempt=record.attempt,
            outcome=record.outcome,
            tokens_in=record.tokens_in,
            tokens_out=record.tokens_out,
            latency_ms=round(record.latency_ms, 1),
            error=record.error,
        )
        await self._recorder.record_call(record)

    async def _record(
        self,
        unit: str,
        tier: Tier,
        model: str,
        attempt: int,
        outcome: Outcome,
        completion: Completion | None,
        started: float,
        error: str | None,
        ended: float | None = None,
    ) -> None:
        tokens_in = completion.tokens_in if completion else 0
        tokens_out = completion.tokens_out if completion else 0
        served_by = completion.model if completion else model
        await self._record_and_log(
            LLMCallRecord(
                unit=unit,
                provider=self.provider.name,
                model=served_by,
                tier=tier,
                attempt=attempt,
                outcome=outcome,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                latency_ms=((ended or self._clock.monotonic()) - started) * 1000,
                cost_usd=self._prices.cost(served_by, tokens_in, tokens_out),
                error=error,
            )
        )


def estimate_prompt_tokens(request: CompletionRequest) -> int:
    """About four characters a token: what the prompt will cost before the vendor says."""
    return sum(len(message.content) for message in request.messages) // 4


@functools.cache
def json_schema_of(output_type: type[BaseModel]) -> dict[str, Any]:
    """Pydantic rebuilds a schema on every call; the draft types are fixed, so build each once."""
    return output_type.model_json_schema()


def validation_problems(error: Exception) -> list[str]:
    """Each problem on a line: where it is and what is wrong."""
    if isinstance(error, ValidationError):
        return [
            f"- {'.'.join(str(part) for part in item['loc']) or '(root)'}: {item['msg']}"
            for item in error.errors(include_url=False)[:20]
        ]
    return [f"- {error}"]


def validation_feedback(problems: list[str]) -> str:
    """The message sent back to the model so that its next answer can fix them.

    The problems may quote the model's own text, so they go in a data block like any
    other text a model wrote (see `prompt_data`).
    """
    return (
        "Your previous answer did not match the required JSON schema. "
        "The problems are listed in the data block below.\n"
        + data_block({"problems": problems})
        + "\nReply again with only the corrected JSON object."
    )
