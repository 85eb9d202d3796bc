"""The deterministic `fake` provider: schema-valid answers worded from the prompt.

For tests, demos and benchmarks; never chosen by `auto`. Knobs (spec): a per-call
latency, or a per-model latency profile (time to first token + output tokens per
second), and fractions of calls that fail transiently or answer schema-invalid output.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass

from courseforge.llm.errors import TransientLLMError
from courseforge.llm.port import Completion, CompletionRequest
from courseforge.llm.prompt_data import data_blocks_in
from courseforge.llm.schema_sample import sample_instance

SUBJECT_KEYS = ("focus", "topic")
FOCUS_PREFIXES = ("Focus:", "Topic:")
CRASH_EXIT_CODE = 70


@dataclass(frozen=True)
class LatencyProfile:
    first_token_s: float
    tokens_per_s: float

    def seconds_for(self, tokens_out: int) -> float:
        return self.first_token_s + tokens_out / self.tokens_per_s


class FakeProvider:
    name = "fake"

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        profiles: dict[str, LatencyProfile] | None = None,
        error_rate: float = 0.0,
        invalid_rate: float = 0.0,
        seed: int = 0,
        crash_on: str | None = None,
    ) -> None:
        self._latency_s = latency_ms / 1000
        self._profiles = profiles or {}
        self._error_rate = error_rate
        self._invalid_rate = invalid_rate
        self._random = random.Random(seed)
        self._crash_on = crash_on
        self.requests: list[CompletionRequest] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        # The latency is the whole answer time, as a server's would be: writing the
        # answer counts against it.
        started = time.monotonic()
        self.requests.append(request)
        if self._crash_on and any(self._crash_on in m.content for m in request.messages):
            os._exit(CRASH_EXIT_CODE)  # fault injection: a unit that kills its worker process
        roll = self._random.random()
        text = json.dumps(sample_instance(request.json_schema, subject_of(request)))
        if roll < self._invalid_rate:
            text = '{"note": "fake provider: injected schema-invalid answer"}'
        completion = Completion(
            text=text,
            model=request.model,
            tokens_in=estimate_tokens(" ".join(m.content for m in request.messages)),
            tokens_out=estimate_tokens(text),
        )
        delay = self._delay_for(request.model, completion.tokens_out)
        await asyncio.sleep(max(0.0, delay - (time.monotonic() - started)))
        if self._error_rate and self._random.random() < self._error_rate:
            raise TransientLLMError("fake provider: injected 503 Service Unavailable")
        return completion

    def _delay_for(self, model: str, tokens_out: int) -> float:
        profile = self._profiles.get(model)
        return profile.seconds_for(tokens_out) if profile else self._latency_s

    async def aclose(self) -> None:
        return None


def subject_of(request: CompletionRequest) -> str:
    """The most specific subject the prompt names.

    Its data block's `focus`, else its `topic` (the pipeline's prompts); in a prompt
    without a data block, its `Focus:` line, else its `Topic:` line, else its first line.
    """
    text = "\n".join(m.content for m in request.messages if m.role == "user")
    for data in data_blocks_in(text):
        for key in SUBJECT_KEYS:
            if isinstance(data, dict) and isinstance(data.get(key), str):
                return str(data[key])[:80]
    for prefix in FOCUS_PREFIXES:
        for line in text.splitlines():
            if line.startswith(prefix):
                return line[len(prefix) :].strip()[:80]
    return text.strip().splitlines()[0][:80] if text.strip() else "the subject"


def estimate_tokens(text: str) -> int:
    """About four characters a token, the usual rule of thumb for English."""
    return max(1, len(text) // 4)
