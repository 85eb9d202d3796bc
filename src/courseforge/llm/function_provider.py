"""A provider whose answers a function writes: for tests that script what the model says.

The function receives the request and its 1-based call number and returns the text to
answer, or an exception to raise (a transient error, a permanent one, a crash).
Every request is kept in `requests`, so a test can assert what was (not) asked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from courseforge.llm.fake import estimate_tokens, subject_of
from courseforge.llm.port import Completion, CompletionRequest
from courseforge.llm.schema_sample import sample_instance

Answer = str | BaseException
AnswerFunction = Callable[[CompletionRequest, int], Answer]


def valid_answer(request: CompletionRequest) -> str:
    """What the fake provider would say: a schema-valid instance worded from the prompt."""
    return json.dumps(sample_instance(request.json_schema, subject_of(request)))


class FunctionProvider:
    name = "function"

    def __init__(self, answer: AnswerFunction) -> None:
        self._answer = answer
        self.requests: list[CompletionRequest] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        outcome = self._answer(request, len(self.requests))
        await asyncio.sleep(0)  # a real provider always yields to the event loop
        if isinstance(outcome, BaseException):
            raise outcome
        return Completion(
            text=outcome,
            model=request.model,
            tokens_in=estimate_tokens(" ".join(m.content for m in request.messages)),
            tokens_out=estimate_tokens(outcome),
        )

    def units_requested(self) -> list[str]:
        return [request.metadata.get("unit", "") for request in self.requests]

    async def aclose(self) -> None:
        return None
