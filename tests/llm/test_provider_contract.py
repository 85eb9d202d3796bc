"""The fake providers keep the provider port's contract, and the clocks agree on theirs."""

from __future__ import annotations

import time

import pytest
from pydantic import BaseModel, ValidationError

from courseforge.clock import Clock, FakeClock, SystemClock
from courseforge.domain.drafts import (
    BrainBytesDraft,
    CourseMetadataDraft,
    LessonDraft,
    ModuleSummaryDraft,
    SourceTopicsDraft,
    TaskDraft,
    outline_draft,
    quiz_draft,
    task_set_draft,
)
from courseforge.llm.errors import TransientLLMError
from courseforge.llm.fake import FakeProvider
from courseforge.llm.function_provider import FunctionProvider, valid_answer
from courseforge.llm.port import ChatMessage, CompletionRequest, LLMProvider

DRAFT_TYPES: list[type[BaseModel]] = [
    SourceTopicsDraft,
    outline_draft(3, 2),
    outline_draft(2, 2, 3),
    LessonDraft,
    TaskDraft,
    task_set_draft(3),
    BrainBytesDraft,
    quiz_draft(5, 3),
    CourseMetadataDraft,
    ModuleSummaryDraft,
]


def request_for(draft_type: type[BaseModel], model: str = "m-contract") -> CompletionRequest:
    return CompletionRequest(
        messages=(
            ChatMessage("system", "You write parts of an online course."),
            ChatMessage("user", "Write the next part.\nTopic: Photosynthesis\nFocus: light"),
        ),
        model=model,
        json_schema=draft_type.model_json_schema(),
        schema_name=draft_type.__name__,
        metadata={"unit": "module-1/part", "tier": "complex"},
    )


PROVIDERS = {
    "fake": lambda: FakeProvider(),
    "function": lambda: FunctionProvider(lambda request, _: valid_answer(request)),
}


@pytest.mark.parametrize("draft_type", DRAFT_TYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("provider_name", sorted(PROVIDERS))
async def test_a_provider_answers_with_schema_valid_text(
    provider_name: str, draft_type: type[BaseModel]
) -> None:
    provider: LLMProvider = PROVIDERS[provider_name]()
    request = request_for(draft_type)

    completion = await provider.complete(request)

    draft_type.model_validate_json(completion.text)
    assert completion.model == request.model
    assert completion.tokens_in > 0
    assert completion.tokens_out > 0
    await provider.aclose()


@pytest.mark.parametrize("draft_type", DRAFT_TYPES, ids=lambda t: t.__name__)
async def test_the_fake_and_function_providers_say_the_same(draft_type: type[BaseModel]) -> None:
    request = request_for(draft_type)

    fake = await FakeProvider().complete(request)
    scripted = await FunctionProvider(lambda r, _: valid_answer(r)).complete(request)

    assert fake == scripted


async def test_the_fake_provider_can_answer_invalid_text() -> None:
    request = request_for(ModuleSummaryDraft)

    completion = await FakeProvider(invalid_rate=1.0).complete(request)

    with pytest.raises(ValidationError):
        ModuleSummaryDraft.model_validate_json(completion.text)
    assert completion.model == request.model


async def test_the_fake_provider_can_fail_transiently() -> None:
    provider = FakeProvider(error_rate=1.0)

    with pytest.raises(TransientLLMError):
        await provider.complete(request_for(ModuleSummaryDraft))

    assert len(provider.requests) == 1


async def test_the_fake_provider_takes_its_latency() -> None:
    provider = FakeProvider(latency_ms=50)

    started = time.monotonic()
    await provider.complete(request_for(ModuleSummaryDraft))
    elapsed = time.monotonic() - started

    # The event loop may wake a timer up to its clock resolution early.
    assert elapsed >= 0.05 - 1e-6


async def test_the_function_provider_raises_the_scripted_error() -> None:
    provider = FunctionProvider(lambda request, call: TransientLLMError(f"call {call} failed"))

    with pytest.raises(TransientLLMError, match="call 1 failed"):
        await provider.complete(request_for(ModuleSummaryDraft))

    assert provider.units_requested() == ["module-1/part"]


# --- clocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("clock", [FakeClock(), SystemClock()], ids=["fake", "system"])
async def test_a_clock_advances_by_at_least_what_it_slept(clock: Clock) -> None:
    before = clock.monotonic()

    await clock.sleep(0.01)

    # A system timer may fire up to the event loop's clock resolution early.
    assert clock.monotonic() - before >= 0.01 - 1e-6
    now = clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() is not None
